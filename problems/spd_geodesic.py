"""Geodesic between SPD matrices (affine-invariant metric): a matrix unknown.

On the symmetric positive definite matrices the affine-invariant (Fisher–Rao) metric measures a
velocity F' at F by ‖F^(-1/2) F' F^(-1/2)‖_F² = tr((F⁻¹F')²).  Minimising the energy
E[F] = ∫_0^1 tr(F⁻¹ F' F⁻¹ F'ᵀ) dt with F(0) = A, F(1) = B gives the geodesic at constant speed,
F(t) = A^(1/2) (A^(-1/2) B A^(-1/2))^t A^(1/2), and E = d(A, B)² = ‖log(A^(-1/2) B A^(-1/2))‖_F²
= Σ_k (log μ_k)², μ_k the eigenvalues of A⁻¹B (Bhatia, *Positive Definite Matrices*, ch. 6;
Pennec et al. 2006).  The unknown is a general 2×2 matrix (components=(2, 2)), so the integrand is
written with F'ᵀ: on symmetric paths it equals tr((F⁻¹F')²), while off them it charges the
antisymmetric part of F' (tr((F⁻¹F')²) would reward it, making the symmetric geodesic a saddle).
It is invariant under F -> Fᵀ, so the minimiser is symmetric.  The reference is evaluated as
F(t) = Σ_k μ_k^t c_k c_kᵀ with C = A^(1/2) Q, M = A^(-1/2) B A^(-1/2) = Q diag(μ) Qᵀ (numpy eigh).
The default guess (1 - t) A + t B is SPD.
On a uniform grid with the midpoint rule the discrete energy is invariant under congruence F -> C F Cᵀ
and under inversion F -> F⁻¹ (cell by cell), so the exact geodesic's nodal values are the discrete
minimiser (nodal error at rounding level) and E_h = Σ_k 4 tanh²(h log μ_k / 2) / h² < E exactly;
on graded grids the nodal error is O(h²).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

A = np.array([[2.0, 0.5], [0.5, 1.0]])  # F(0)
B = np.array([[1.0, -0.3], [-0.3, 3.0]])  # F(1); A and B do not commute


def integrand(f, df, x):
    """Affine-invariant squared speed tr(F⁻¹ F' F⁻¹ F'ᵀ) (= tr((F⁻¹F')²) for symmetric F')."""
    Finv = jnp.linalg.inv(f)
    return jnp.trace(Finv @ df @ Finv @ df.T)


def _sym_sqrt(S, power):
    w, V = np.linalg.eigh(S)
    return (V * w**power) @ V.T


def geodesic_parts(A=A, B=B):
    """(C, μ) with F(t) = C diag(μ^t) Cᵀ: C = A^(1/2) Q, A^(-1/2) B A^(-1/2) = Q diag(μ) Qᵀ."""
    M = _sym_sqrt(A, -0.5) @ B @ _sym_sqrt(A, -0.5)
    mu, Q = np.linalg.eigh(0.5 * (M + M.T))
    if np.min(mu) <= 0 or np.min(np.linalg.eigvalsh(A)) <= 0:
        raise ValueError("geodesic_parts: A and B must be symmetric positive definite")
    return _sym_sqrt(A, 0.5) @ Q, mu


_C, _mu = geodesic_parts()
exact_value = float(np.sum(np.log(_mu) ** 2))  # d(A, B)² (the geodesic has constant speed)


def exact(x):
    """F(t) = A^(1/2) (A^(-1/2) B A^(-1/2))^t A^(1/2), shape (k, 2, 2)."""
    t = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return np.einsum("ik,tk,jk->tij", _C, _mu[None, :] ** t[:, None], _C)


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": A, "right": B},
    components=(2, 2),
    exact=exact,
    exact_value=exact_value,
    name="spd_geodesic",
)
n = 81
grading = None
plot_options = {"labels": ("F[0,0]", "F[0,1]", "F[1,0]", "F[1,1]")}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
