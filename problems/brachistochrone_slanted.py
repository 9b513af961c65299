"""Brachistochrone to a slanted line: the cycloid meets it at a right angle.

A bead released at rest at the origin must reach the line a x + b f = c (depth f measured
downward) as fast as possible; where it arrives is free.  The travel time is
T[f] = ∫_0^{x_b} sqrt((1 + f'²) / (2 g f)) dx with f(0) = 0, the end (x_b, f(x_b)) on the line
and x_b unknown.  The extremals from rest are the cycloids x = R (θ - sin θ), f = R (1 - cos θ),
whose tangent (1 - cos θ, sin θ) is parallel to (sin(θ/2), cos(θ/2)).  The transversality
condition (G - f' G_f') φ_f - G_f' φ_x = 0 with φ = a x + b f - c reduces, for G = ds / v, to
b - a f' = 0: the tangent is parallel to the line's normal (a, b), so the cycloid crosses the line
at a right angle (it meets the line where the synchronous curve of the cycloids through the origin
touches it).  Hence θ_end = 2 atan2(a, b) (a > 0) and R = c / (a (θ_end - sin θ_end) +
b (1 - cos θ_end)) from the end lying on the line; the least time is T = θ_end sqrt(R / g)
(Bernoulli's problem for a line; Gelfand & Fomin, *Calculus of Variations*, §6).  tests/ check
this against a direct minimisation of the point-to-point cycloid time along the line.
Here the line is x + f = 1 (45° down to the left): θ_end = π/2, R = 2/π, the end point is
(1 - 2/π, 2/π) ≈ (0.3634, 0.6366) with slope f' = 1 there, and T = sqrt(π / (2 g)) ≈ 0.4002 s.
The initial guess is the 45° line f = x, ending on the line at x_b = 1/2 (domain[1]).
"""

import jax.numpy as jnp  # noqa: F401  (the integrand is brachistochrone.integrand)
import numpy as np
from varcalc.problems import brachistochrone

import varcalc as vc

g = brachistochrone.g  # gravitational acceleration [m/s²]
LINE = (1.0, 1.0, 1.0)  # (a, b, c): the finish line a x + b f = c, here x + f = 1
integrand = brachistochrone.integrand  # ds / v, v = sqrt(2 g f)


def cycloid_to_line(a, b, c):
    """(R, θ_end, x_end, f_end) of the fastest cycloid from rest at (0, 0) to a x + b f = c.

    The line must lie below/right of the start (c > 0 with a > 0 after normalising signs), so that
    the bead can reach it.
    """
    a, b, c = float(a), float(b), float(c)
    if a < 0 or (a == 0 and b < 0):  # the same line with the normal (a, b) pointing right/down
        a, b, c = -a, -b, -c
    if a == 0 and b == 0:
        raise ValueError("cycloid_to_line: (a, b) = (0, 0) is not a line")
    if c <= 0:
        raise ValueError(
            f"cycloid_to_line: the start (0, 0) must lie before the line {a} x + {b} f = {c} (need c > 0 with a >= 0)"
        )
    theta = 2.0 * np.arctan2(a, b)  # tangent (sin θ/2, cos θ/2) parallel to the normal (a, b)
    if not 0.0 < theta < 2.0 * np.pi:
        raise ValueError(f"cycloid_to_line: no cycloid from rest meets {a} x + {b} f = {c} at a right angle")
    # a x + b f along the cycloid: R (a (θ - sin θ) + b (1 - cos θ)), > 0 for θ in (0, 2π) here.
    s = a * brachistochrone._theta_minus_sin(theta) + b * 2.0 * np.sin(0.5 * theta) ** 2
    R = c / s
    return R, float(theta), R * float(brachistochrone._theta_minus_sin(theta)), R * 2.0 * np.sin(0.5 * theta) ** 2


def make_problem(a, b, c, x_guess, name="brachistochrone_slanted"):
    """The brachistochrone from rest at (0, 0) to the line a x + b f = c.  x_guess (domain[1]) is
    the initial guess of the end abscissa; the initial curve is `guess` (f = x), so the line
    should cross it there."""
    R, theta, x_end, _ = cycloid_to_line(a, b, c)
    return vc.Problem(
        integrand,
        domain=(0.0, x_guess),
        bc={"left": 0.0},
        right_end=vc.OnCurve(lambda x, f: a * x + b * f - c, name="line"),
        exact=lambda x: brachistochrone.cycloid_depth(x, R, theta),
        exact_value=theta * np.sqrt(R / g),
        name=name,
    )


R, theta_end, x_end, f_end = cycloid_to_line(*LINE)
exact_value = theta_end * np.sqrt(R / g)  # = sqrt(π / (2 g)) for x + f = 1


def phi(x, f):
    """The finish line x + f = 1 as φ(x, f) = 0."""
    a, b, c = LINE
    return a * x + b * f - c


def exact(x):
    """The cycloid's depth at x in [0, x_end] (vectorised)."""
    return brachistochrone.cycloid_depth(x, R, theta_end)


def guess(x):
    """The straight 45° line f = x (it meets x + f = 1 at the guessed end x_b = 1/2)."""
    return np.asarray(x, dtype=np.float64)


problem = vc.Problem(
    integrand,
    domain=(0.0, 0.5),
    bc={"left": 0.0},
    right_end=vc.OnCurve(phi, name="line"),
    exact=exact,
    exact_value=exact_value,
    name="brachistochrone_slanted",
)
n = 161
grading = dict(power=3.0, end="left")  # as for the brachistochrone: f ~ x^(2/3) at the start
plot_options = {"invert_yaxis": True, "equal_aspect": True}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
