"""Geodesic on a torus given implicitly in R³ (a pointwise constraint).

The unknown is the space curve f(x) = (f₀, f₁, f₂) ∈ R³, x ∈ [0, 1], with the energy
E[f] = ∫_0^1 ½ |f'|² dx and the constraint that it stays on the torus of radii R0 = 2, r = 1
about the f₂ axis: g(f) = (|f|² + R0² - r²)² - 4 R0² (f₀² + f₁²) = 0 (vc.Pointwise, named
"torus"; the quartic is smooth everywhere, unlike (sqrt(f₀² + f₁²) - R0)² + f₂² - r²).  Minimising
the energy between two points gives a geodesic at constant speed (E >= ½ length², equality at
constant speed).  Independent reference: in the angles (u around the axis, v around the tube),
p(u, v) = ((R0 + r cos v) cos u, (R0 + r cos v) sin u, r sin v), and the geodesic equations of the
metric (R0 + r cos v)² du² + r² dv² are u'' = 2 r sin v u' v' / (R0 + r cos v),
v'' = -(R0 + r cos v) sin v u'² / r (Clairaut: (R0 + r cos v)² u' is constant).  The boundary
value problem from (u, v) = (0, 0) (outer equator) to (π/2, 1.8) (over the top of the tube) is
solved with scipy's solve_bvp, then polished by shooting with solve_ivp (DOP853, tolerance 1e-13),
whose dense output is `exact`; `exact_value` = ½ (speed)².  The default guess is the straight
chord in R³, which runs through the tube's interior (infeasible): varcalc pulls it onto the
surface.
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

R0, r = 2.0, 1.0  # major (axis to tube centre) and minor (tube) radius
START = (0.0, 0.0)  # (u, v) at x = 0: outer equator
END = (np.pi / 2, 1.8)  # (u, v) at x = 1: past the top of the tube (v = π/2)


def integrand(f, df, x):
    """Kinetic energy ½ |f'|² of the space curve."""
    return 0.5 * jnp.sum(df**2)


def torus(f, x):
    """The torus' implicit equation (zero on the surface, negative inside the tube)."""
    rho2 = f[0] ** 2 + f[1] ** 2
    return (rho2 + f[2] ** 2 + (R0**2 - r**2)) ** 2 - 4.0 * R0**2 * rho2


def point(u, v):
    """Torus point(s) at angles (u, v), shape (..., 3)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    rho = R0 + r * np.cos(v)
    return np.stack([rho * np.cos(u), rho * np.sin(u), r * np.sin(v)], axis=-1)


def _rhs(x, y):
    u, v, du, dv = y
    rho = R0 + r * np.cos(v)
    return np.array([du, dv, 2.0 * r * np.sin(v) * du * dv / rho, -rho * np.sin(v) * du**2 / r])


def geodesic(start=START, end=END):
    """The geodesic from angles start to end on x in [0, 1]: (dense solution of (u, v, u', v'),
    squared speed).  solve_bvp from the straight line in (u, v), polished by shooting."""
    from scipy.integrate import solve_bvp, solve_ivp
    from scipy.optimize import root

    (u0, v0), (u1, v1) = start, end
    xs = np.linspace(0.0, 1.0, 21)
    y0 = np.array([u0 + (u1 - u0) * xs, v0 + (v1 - v0) * xs, np.full_like(xs, u1 - u0), np.full_like(xs, v1 - v0)])
    bc = lambda ya, yb: np.array([ya[0] - u0, ya[1] - v0, yb[0] - u1, yb[1] - v1])
    bvp = solve_bvp(_rhs, bc, xs, y0, tol=1e-8, max_nodes=100_000)
    if bvp.status != 0:
        raise RuntimeError(f"torus geodesic: solve_bvp failed: {bvp.message}")

    def shoot(s):
        return solve_ivp(
            _rhs, (0.0, 1.0), [u0, v0, s[0], s[1]], method="DOP853", rtol=1e-13, atol=1e-13, dense_output=True
        )

    res = root(lambda s: shoot(s).y[:2, -1] - [u1, v1], bvp.y[2:, 0], tol=1e-14)
    sol = shoot(res.x)
    if not (res.success or np.max(np.abs(sol.y[:2, -1] - [u1, v1])) < 1e-12):
        raise RuntimeError(f"torus geodesic: shooting failed: {res.message}")
    du, dv = res.x
    speed2 = (R0 + r * np.cos(v0)) ** 2 * du**2 + r**2 * dv**2
    return sol.sol, float(speed2)


_path, speed2 = geodesic()


def exact(x):
    """Points of the reference geodesic, shape (k, 3) (exact end points)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    u, v = _path(np.clip(x, 0.0, 1.0))[:2]
    u = np.where(x == 0.0, START[0], np.where(x == 1.0, END[0], u))
    v = np.where(x == 0.0, START[1], np.where(x == 1.0, END[1], v))
    return point(u, v)


def multiplier(x):
    """The exact multiplier function μ(x) of E + ∫ μ g dx: -f'' + μ ∇g = 0, so
    μ = f''·∇g / |∇g|² along the reference (f'' by the chain rule from the ODE)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    u, v, du, dv = _path(np.clip(x, 0.0, 1.0))
    ddu, ddv = _rhs(x, np.array([u, v, du, dv]))[2:]
    rho, su, cu, sv, cv = R0 + r * np.cos(v), np.sin(u), np.cos(u), np.sin(v), np.cos(v)
    zero = np.zeros_like(u)
    p_u = np.stack([-rho * su, rho * cu, zero], -1)
    p_v = np.stack([-r * sv * cu, -r * sv * su, r * cv], -1)
    p_uu = np.stack([-rho * cu, -rho * su, zero], -1)
    p_uv = np.stack([r * sv * su, -r * sv * cu, zero], -1)
    p_vv = np.stack([-r * cv * cu, -r * cv * su, -r * sv], -1)
    acc = (
        p_uu * (du**2)[:, None]
        + 2 * p_uv * (du * dv)[:, None]
        + p_vv * (dv**2)[:, None]
        + p_u * ddu[:, None]
        + p_v * ddv[:, None]
    )
    P = point(u, v)
    grad = 4.0 * (np.sum(P**2, -1) + R0**2 - r**2)[:, None] * P
    grad[:, :2] -= 8.0 * R0**2 * P[:, :2]
    return np.sum(acc * grad, -1) / np.sum(grad**2, -1)


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": point(*START), "right": point(*END)},
    constraints=[vc.Pointwise(torus, name="torus")],
    exact=exact,
    exact_value=0.5 * speed2,
    name="torus_geodesic",
)
n = 81
grading = None
plot_options = {"labels": ("x₀", "x₁", "x₂")}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
