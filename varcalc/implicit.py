"""Solutions as differentiable functions of their data: implicit differentiation of the Newton solve.

Do not differentiate through Newton's iterations; differentiate the optimality condition.  At the
solution ``(V*, z*)`` of ``∇L(V, z; θ) = 0`` (free unknowns; Dirichlet values ``V_b`` fixed) the
implicit function theorem gives the tangent of the solution for a tangent ``dθ`` of the data::

    K [dV_f; dz] = -(∂²L/∂(V,z)∂θ · dθ + ∂²L/∂(V,z)∂V_b · dV_b),      dV_b = d(Dirichlet values)

with ``K`` the KKT matrix (the block-tridiagonal second variation, bordered by the global
unknowns' columns) restricted to the free unknowns: the matrix Newton factorises at every step,
so one derivative costs one factorisation and one Hessian-vector product, about one Newton
iteration.  The right-hand side is a forward-mode derivative (``jax.jvp``) of the gradient.

The solve is a ``jax.custom_jvp`` function whose tangent rule solves that system through
``lax.custom_linear_solve(..., symmetric=True)``; JAX transposes it for reverse mode, so
``jax.grad``, ``jax.jvp``, ``jax.vjp`` and ``jax.jacfwd/jacrev`` all work through ``vc.solve``.
Differentiable inputs: integrand parameters ``params``, Dirichlet values (``bc=``) and the values
of integral constraints (``constraint_values=``).  Active bounds (obstacle contact) are held, as
in the Newton loop: their tangent is zero (strict complementarity assumed).  Derivatives at a
solve that did not converge are NaN, never silently wrong.

>>> import jax, jax.numpy as jnp, varcalc as vc
>>> p = vc.Problem(lambda f, df, x, q: 0.5 * df**2 - q * f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0},
...                params=1.0)
>>> J = lambda q: vc.solve(p, n=11, params=q).value    # J* = -q²/24 (f* = q x(1-x)/2)
>>> round(float(jax.grad(J)(2.0)), 10)                 # -∫f* = -q/12, times 1 - h² (trapezoid)
-0.165
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .lagrangian import DiscreteLagrangian
from .linalg import block_tridiag_matvec
from .newton import Status, bordered_solve, restrict
from .piecewise import is_traced
from .solution import TracedSolution  # noqa: F401  (its home was here; the one Solution type, traced)

__all__ = ["is_traced", "TracedSolution", "implicit_solver"]


def implicit_solver(run, lag: DiscreteLagrangian, *, has_z: bool, bounds: bool, sign: float, run_concrete=None):
    """Wrap the compiled Newton loop ``run`` into ``solve(V0, z0, p, c, rest) -> (V, z, J, status, k)``
    with a tangent rule from the implicit function theorem.

    ``V0`` (d, n) carries the Dirichlet values at its ``fixed`` entries (their tangents are the
    tangents of the boundary values); ``p`` the parameters pytree, ``c`` (k_int,) the integral
    constraints' values; ``rest = (x, aux_rest, fixed, lower, upper, rtol, atol)`` is held fixed.
    ``J`` is the functional's value (``sign`` undoes the sign of maximisation); ``status``, ``k``
    are returned as float64 (zero tangents).

    ``run_concrete`` (same signature as ``run``): the solve used in the tangent rule when the
    primal values are concrete (``jax.grad``/``jacfwd``/``jacrev`` outside ``jit``), e.g. the
    Python-loop driver, which compiles only the integrand's kernel; ``run`` otherwise.
    """

    def primal_with(run, V0, z0, p, c, rest):
        x, aux_rest, fixed, lower, upper, rtol, atol = rest
        out = run(V0, z0, x, dict(aux_rest, p=p, c=c), fixed, lower, upper, rtol, atol)
        z = out["z"] if has_z else z0
        return out["U"], z, sign * out["J"], out["status"].astype(V0.dtype), out["k"].astype(V0.dtype)

    def primal(V0, z0, p, c, rest):
        return primal_with(run, V0, z0, p, c, rest)

    solve = jax.custom_jvp(primal, nondiff_argnums=())

    @jax.jit
    def tangent_map(V, z, p, c, rest, tV_b, tp, tc):
        """``(dV, dz, dJ)`` at the solution ``(V, z)`` for the data tangents (linear in them)."""
        x, aux_rest, fixed, lower, upper, _, _ = rest
        frozen = fixed
        if bounds:  # contact nodes stay on the obstacle
            frozen = frozen | (V <= lower) | (V >= upper)

        def gradient(V, z, p, c):
            return lag.gradient(V, z, x, dict(aux_rest, p=p, c=c))

        _, (rV, rz) = jax.jvp(gradient, (V, z, p, c), (tV_b, jnp.zeros_like(z), tp, tc))
        rV = jnp.where(frozen, 0.0, rV)
        dV_f, dz = kkt_solve(lag, V, z, x, dict(aux_rest, p=p, c=c), frozen, rV, rz)
        dV = dV_f + tV_b

        def value(V, z, p, c):
            return sign * lag.value(V, z, x, dict(aux_rest, p=p, c=c))

        _, dJ = jax.jvp(value, (V, z, p, c), (dV, dz, tp, tc))
        return dV, dz, dJ

    @solve.defjvp
    def tangent(primals, tangents):
        V0, z0, p, c, rest = primals
        tV0, _, tp, tc, _ = tangents
        concrete = run_concrete is not None and not is_traced(primals)
        V, z, J, status, k = (
            jax.tree.map(jnp.asarray, primal_with(run_concrete, *primals)) if concrete else primal(*primals)
        )
        fixed = rest[2]
        tV_b = jnp.where(fixed, tV0, 0.0)  # tangents come instantiated (no symbolic zeros)
        dV, dz, dJ = tangent_map(V, z, p, c, rest, tV_b, tp, tc)
        # No derivative of a failed solve: NaN tangents rather than plausible wrong numbers.
        # A factor, not jnp.where(ok, t, nan): the tangent map must stay linear for reverse mode.
        factor = jnp.where(status == int(Status.SUCCESS), 1.0, jnp.nan)
        nan_unless_ok = lambda t: t * factor
        return (V, z, J, status, k), (
            nan_unless_ok(dV),
            nan_unless_ok(dz),
            nan_unless_ok(dJ),
            jnp.zeros_like(status),
            jnp.zeros_like(k),
        )

    return solve


def kkt_solve(lag, V, z, x, aux, frozen, rV, rz):
    """``[dV; dz] = -K⁻¹ [rV; rz]`` with ``K`` the KKT matrix at ``(V, z)``, frozen rows = identity.

    Through ``lax.custom_linear_solve(symmetric=True)``: reverse mode transposes it into the same
    solve, and the banded factorisation inside (a ``while_loop``) is never differentiated.
    """
    D = lag.derivatives(V, z, x, aux)
    diag, upper = restrict(D["diag"], D["upper"], frozen)
    k = z.shape[0]
    if k:
        B = jnp.where(frozen[:, :, None], 0.0, D["B"])
        C = D["C"]
    else:
        B = jnp.zeros(V.shape + (0,), V.dtype)
        C = jnp.zeros((0, 0), V.dtype)

    shape, size = V.shape, V.size
    diag_n, upper_n = jnp.moveaxis(diag, -1, 0), jnp.moveaxis(upper, -1, 0)  # nodes first, for linalg

    def split(w):
        return w[:size].reshape(shape), w[size:]

    def matvec(w):  # one flat vector: transposition needs the right-hand side to be one linear value
        wV, wz = split(w)
        hv = block_tridiag_matvec(diag_n, upper_n, wV.T).T + jnp.einsum("dnk,k->dn", B, wz)
        return jnp.concatenate([hv.ravel(), jnp.einsum("dnk,dn->k", B, wV) + C @ wz])

    def solve(_, b):
        bV, bz = split(b)
        # bordered_solve solves K [x; y] = -[g; gz]; with n_expected=None the first (unshifted)
        # factorisation is used.
        xV, xz, _, _, _ = bordered_solve(diag, upper, -bV, B, -bz, C, jnp.zeros((), V.dtype), None)
        return jnp.concatenate([xV.ravel(), xz])

    w = lax.custom_linear_solve(matvec, jnp.concatenate([rV.ravel(), rz]), solve, symmetric=True)
    xV, xz = split(w)
    return -xV, -xz
