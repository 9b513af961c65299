"""Brachistochrone to a vertical line: the cycloid arrives horizontally.

A bead released at rest at the origin must reach the vertical line x = X as fast as possible; the
depth at which it arrives is free.  With the depth f(x) measured downward the travel time is
T[f] = ∫_0^X sqrt((1 + f'²) / (2 g f)) dx, with f(0) = 0 and f(X) left free.  The extremals from
rest at the origin are the cycloids x = R (θ - sin θ), f = R (1 - cos θ); the free end gives the
natural boundary condition ∂G/∂f' = f' / sqrt((1 + f'²) 2 g f) = 0, i.e. f'(X) = 0: the cycloid
arrives at its lowest point, θ_end = π, so R = X / π and the end depth is f(X) = 2 X / π.  The
least time is T = θ_end sqrt(R / g) = sqrt(π X / g) (Bernoulli; see e.g. Gelfand & Fomin,
*Calculus of Variations*, §6).  The reference reuses the cycloid inversion of
`brachistochrone.cycloid_depth`.  Here X = 1: f(X) = 2/π ≈ 0.6366, T ≈ 0.5659 s.  The default
guess f = x lies inside the integrand's domain (f > 0 away from the start).
"""

import jax.numpy as jnp  # noqa: F401  (the integrand is brachistochrone.integrand)
import numpy as np
from varcalc.problems import brachistochrone

import varcalc as vc

g = brachistochrone.g  # gravitational acceleration [m/s²]
X = 1.0  # abscissa of the vertical finish line [m]
integrand = brachistochrone.integrand  # ds / v, v = sqrt(2 g f)

R = X / np.pi  # radius of the cycloid's rolling circle
theta_end = np.pi  # the natural boundary condition f'(X) = 0: the cycloid's lowest point
end_depth = 2.0 * R  # f(X) = R (1 - cos π)
exact_value = theta_end * np.sqrt(R / g)  # = sqrt(π X / g)


def exact(x):
    """The cycloid's depth at x in [0, X] (vectorised)."""
    return brachistochrone.cycloid_depth(x, R, theta_end)


def guess(x):
    """A straight 45° line: positive away from the start, so the travel time is finite."""
    return np.asarray(x, dtype=np.float64)


problem = vc.Problem(
    integrand, domain=(0.0, X), bc={"left": 0.0}, exact=exact, exact_value=exact_value, name="brachistochrone_vertical"
)
n = 161
# As for the brachistochrone: cubic grading toward the singular start (f ~ x^(2/3) there) gives
# order 2 for both the nodal error and the travel time.
grading = dict(power=3.0, end="left")
plot_options = {"invert_yaxis": True}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
