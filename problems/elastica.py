"""Elastica: a strip of free length bent between two clamps (order=2, nonlinear).

A thin elastic strip is clamped at (0, 0) with slope y' = tan θ0 and at (1, 0) with slope -tan θ0;
its length is free (it slides through the clamps).  Written as a graph y(x), its bending energy is
J[y] = ∫ κ² ds = ∫_0^1 y''² / (1 + y'²)^(5/2) dx  (κ = y'' / (1 + y'²)^(3/2), ds = √(1 + y'²) dx).
Here θ0 = π/4 (slopes ±1).  The small-slope theory (J ≈ ∫ y''²) gives the parabola y = x - x²
(height 0.25, J = 2.357 along it); the elastica is flatter, height 0.2138, J = 2.2159.

Euler–Lagrange equation of the graph form (derived by hand, p = y'):
2 (1 + p²)² y'''' - 20 p (1 + p²) y'' y''' + 5 (6 p² - 1) y''³ = 0.

Independent reference (no varcalc): in arc length s with tangent angle θ(s), minimise
∫_0^ℓ θ'² ds subject to ∫ cos θ ds = 1, ∫ sin θ ds = 0, θ(0) = θ0, θ(ℓ) = -θ0, ℓ free.  The
Lagrangian θ'² + λ1 cos θ + λ2 sin θ gives 2 θ'' = -λ1 sin θ + λ2 cos θ; λ2 = 0 by the mirror
symmetry x -> 1 - x.  Because the length is free, the transversality condition at s = ℓ makes
the first integral (the Hamiltonian) θ'² - λ1 cos θ vanish; it is constant along s, so
θ'² = λ cos θ everywhere (λ = λ1): the "rectangular elastica" (pendulum energy at the level of
the horizontal, θ_max = π/2).  With θ' = -√(λ cos θ) the curve is, parametrised by θ in [-θ0, θ0],
  x(θ) = (1/S) ∫_θ^θ0 √(cos t) dt,   y(θ) = (2/S) (√(cos θ) - √(cos θ0)),   y'(x) = tan θ,
where S = √λ = ∫_{-θ0}^{θ0} √(cos t) dt makes x(-θ0) = 1, and the energy is
J = ∫ |θ'| dθ = S².  The integrals are computed by 40-point Gauss–Legendre (the integrand is
analytic on the interval: exact to rounding) and x(θ) is inverted by bisection and Newton.
tests/test_higher_order.py checks that this curve satisfies the graph Euler–Lagrange equation,
agrees with scipy.integrate.solve_bvp on it, and has lower energy than perturbations of it.
(Had the length been fixed, θ'² - λ cos θ would be a nonzero constant and the graph equation
above would fail.)  `make_problem(theta0)` builds the problem for other slopes, 0 < θ0 < π/2.
"""

import jax.numpy as jnp  # noqa: F401  (write your integrands with it)
import numpy as np

import varcalc as vc

theta0 = np.pi / 4  # clamp angle: y'(0) = tan θ0 = 1, y'(1) = -1

_gl_t, _gl_w = np.polynomial.legendre.leggauss(40)


def integrand(f, df, d2f, x):
    """κ² ds / dx for the graph y = f(x)."""
    return d2f**2 / (1.0 + df**2) ** 2.5


def _int_sqrt_cos(a, b):
    """∫_a^b √(cos t) dt, vectorised in a and b (|a|, |b| < π/2)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    t = a[..., None] + (b - a)[..., None] * (1 + _gl_t) / 2
    return (b - a) / 2 * np.sum(_gl_w * np.sqrt(np.cos(t)), axis=-1)


def elastica_scale(theta0=theta0):
    """S = ∫_{-θ0}^{θ0} √(cos t) dt (= √λ; the energy is S²)."""
    if not 0 < theta0 < np.pi / 2:
        raise ValueError(f"elastica: expected 0 < theta0 < pi/2, got {theta0}")
    return float(_int_sqrt_cos(-theta0, theta0))


def parametric(theta, theta0=theta0):
    """The elastica's point (x, y) where its tangent angle is θ (θ0 at x = 0, -θ0 at x = 1)."""
    S = elastica_scale(theta0)
    theta = np.asarray(theta, dtype=np.float64)
    x = _int_sqrt_cos(theta, theta0) / S
    y = 2.0 * (np.sqrt(np.cos(theta)) - np.sqrt(np.cos(theta0))) / S
    return x, y


def tangent_angle(x, theta0=theta0):
    """θ(x): inverts the decreasing map θ -> x(θ) on [-θ0, θ0] (bisection, then Newton)."""
    S = elastica_scale(theta0)
    x = np.asarray(x, dtype=np.float64)
    X = lambda th: _int_sqrt_cos(th, theta0) / S
    lo, hi = np.full_like(x, -theta0), np.full_like(x, theta0)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        right = X(mid) < x  # x(mid) left of the target: the angle there is too large
        lo, hi = np.where(right, lo, mid), np.where(right, mid, hi)
    th = 0.5 * (lo + hi)
    for _ in range(3):  # dx/dθ = -√(cos θ) / S
        th = np.clip(th + (X(th) - x) * S / np.sqrt(np.cos(th)), -theta0, theta0)
    return th


def exact(x):
    """Height y(x) of the elastica with clamp angle θ0 = π/4 (vectorised)."""
    return parametric(tangent_angle(x))[1]


def exact_slope(x):
    """y'(x) = tan θ(x)."""
    return np.tan(tangent_angle(x))


def make_problem(theta0=theta0, name="elastica"):
    """The elastica clamped at (0, 0) and (1, 0) with slopes ±tan θ0, with its exact solution."""
    S = elastica_scale(theta0)
    s0 = float(np.tan(theta0))
    return vc.Problem(
        integrand,
        domain=(0.0, 1.0),
        bc={"left": 0.0, "left'": s0, "right": 0.0, "right'": -s0},
        order=2,
        exact=lambda x: parametric(tangent_angle(x, theta0), theta0)[1],
        exact_value=S**2,
        name=name,
    )


exact_value = elastica_scale() ** 2

problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": 0.0, "left'": 1.0, "right": 0.0, "right'": -1.0},
    order=2,
    exact=exact,
    exact_value=exact_value,
    name="elastica",
)
n = 21
grading = None
plot_options = {"equal_aspect": True}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
