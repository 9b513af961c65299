"""Newton's body of least resistance: a monotone profile under a height bound.

Newton (Principia, 1687): among bodies of revolution of radius R and height at most M moving along
their axis through a rarefied medium, which meets the least resistance?  The profile z = f(r),
r in [0, R], non-increasing (f' <= 0: a slope Bound, derivative=1), with 0 <= f <= M (a height
Bound) and f(R) = 0, minimises

    J[f] = ∫_0^R r / (1 + f'(r)²) dr.

The classical solution has a flat nose f = M on [0, r0] and then, with p = -f' running from 1 to
P, the parametric curve r = r0 (1 + p²)² / (4p), z = M - (r0/4) (¾p⁴ + p² - ln p - 7/4); r0 and P
solve r(P) = R, z(P) = 0.  For M = R = 1: r0 = 0.350943, P = 1.916801, J = 0.187408.

G is not convex in f' where |f'| < 1/√3, and Newton's method stalls there from a straight guess
(measured: the classical form from the straight guess below reaches a wrong local minimum at
n = 101, J - J* = 1.3e-3, and runs out of iterations at n = 201 and 401).  ``problem`` therefore
states G by its convex envelope in f' on f' <= 0: r (1 + f'/2) for -1 <= f' <= 0
(the tangent from f' = 0 that touches r/(1+f'²) at f' = -1), r/(1 + f'²) beyond.  The envelope
has the same minimisers and minimum: the optimal slopes are 0 or <= -1, where the two agree
(the solution jumps from slope 0 to -1 at r0); on the cells where a minimiser's slope lies in
(-1, 0) the envelope is strictly below G.  The discrete J_h converges to the exact value.

The classical form itself is ``classical`` (G = r/(1 + f'²), the same bounds and reference);
:func:`solve_classical` solves it from the envelope's solution, where every slope is 0 or <= -1
and the classical G is convex in f' (13-14 Newton steps: J - J* = 6.6e-7 at n = 201, as the
envelope's).
"""

import jax.numpy as jnp
import numpy as np
from scipy.optimize import brentq

import varcalc as vc

M, R = 1.0, 1.0  # height bound and radius


def integrand(f, df, x):
    """Newton's resistance r / (1 + f'²), by its convex envelope on -1 <= f' <= 0: r (1 + f'/2)."""
    return jnp.where(df > -1.0, x * (1.0 + 0.5 * df), x / (1.0 + df**2))


def _curve(p, r0):
    """The curve's (r, z) at slope -p (p >= 1) after a nose of radius r0."""
    return r0 * (1 + p**2) ** 2 / (4 * p), M - r0 / 4 * (0.75 * p**4 + p**2 - np.log(p) - 1.75)


def _nose():
    """(r0, P): the nose's radius and the slope -P at the rim, from r(P) = R and z(P) = 0."""

    def height_at_rim(P):  # r0 from r(P) = R, then z(P)
        r0 = 4 * P * R / (1 + P**2) ** 2
        return _curve(P, r0)[1]

    P = brentq(height_at_rim, 1.0 + 1e-12, 50.0, xtol=1e-15)
    return 4 * P * R / (1 + P**2) ** 2, P


r0, P = _nose()
_p = np.geomspace(1.0, P, 20001)
_r, _z = _curve(_p, r0)


def exact(x):
    """The classical profile: M on [0, r0], then the parametric curve (tabulated in p, interpolated)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x <= r0, M, np.interp(x, _r, _z))


def _exact_value():
    # The nose r0²/2, plus ∫ r/(1+p²) dr along the curve, in p (dr/dp in closed form): 8-decimal
    # Gauss-Legendre on [1, P] is exact to rounding for this smooth integrand.
    t, w = np.polynomial.legendre.leggauss(60)
    p = 1 + (P - 1) * (1 + t) / 2
    dr_dp = r0 / 4 * (1 + p**2) * (3 * p**2 - 1) / p**2
    return r0**2 / 2 + float(np.sum(w * (P - 1) / 2 * (_curve(p, r0)[0] / (1 + p**2)) * dr_dp))


problem = vc.Problem(
    integrand,
    domain=(0.0, R),
    bc={"right": 0.0},
    constraints=[vc.Bound(upper=M, name="height"), vc.Bound(upper=0.0, derivative=1, name="monotone")],
    exact=exact,
    exact_value=_exact_value(),
    name="newton_resistance",
)
n = 201
grading = None
guess = lambda x: 0.9 * M * (1 - x / R) + 0.05  # noqa: E731 - strictly decreasing, below M
solve_options = {"solver": vc.Newton(max_iter=300)}
plot_options = {}


def classical_integrand(f, df, x):
    """Newton's resistance in its classical form, r / (1 + f'²) (not convex in f' for |f'| < 1/√3)."""
    return x / (1.0 + df**2)


classical = vc.Problem(
    classical_integrand,
    domain=(0.0, R),
    bc={"right": 0.0},
    constraints=[vc.Bound(upper=M, name="height"), vc.Bound(upper=0.0, derivative=1, name="monotone")],
    exact=exact,
    exact_value=problem.exact_value,
    name="newton_resistance_classical",
)


def solve_classical(n=n, **options):
    """The classical form, solved from the convex envelope's solution on the same grid: a start
    whose slopes are 0 (the nose, kept ~1e-10 inside f' <= 0 by the interior point) or <= -1, where
    r/(1 + f'²) is convex in f', so Newton needs no help with the concave region.

    >>> sol = solve_classical(101)
    >>> sol.converged, abs(sol.value - classical.exact_value) < 1e-5
    (True, True)
    """
    envelope = vc.solve(problem, n=n, guess=guess, **solve_options)
    if not envelope.converged:
        return envelope
    return vc.solve(classical, grid=envelope.x, guess=envelope, **options)
