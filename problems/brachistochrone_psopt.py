"""PSOPT's brachistochrone with degree-8 elements: the singular start mapped away.

PSOPT (a pseudospectral optimal-control code) publishes the brachistochrone as a time-optimal
control problem: from rest at (0, 0) to 2 across and 2 down, g = 9.8 m/s², t_f = 0.8247591 s
with 40 Legendre nodes (reported local error 2.8e-7, 0.82 s of CPU).  Here it is the same problem
in varcalc's graph form: the depth f(x) (downward) minimises the travel time
T[f] = ∫_0^2 sqrt((1 + f'²) / (2 g f)) dx with f(0) = 0, f(2) = 2.  The extremal is the cycloid
through (2, 2) (θ_end ≈ 2.412, short of its lowest point), T = θ_end sqrt(R / g) =
0.82475914315662507 s.

The start is singular (f ~ x^(2/3)): with ``degree=8`` varcalc maps it away, x = 2 s³, where the
cycloid is smooth in s (varcalc.endmap), and reaches T to ~1e-16 relative on 5 nodes; see
tests/test_endmap.py and benchmarks/bench_elements.py.
"""

import jax.numpy as jnp
import numpy as np
from varcalc.problems import brachistochrone

import varcalc as vc

g = 9.8  # PSOPT's gravitational acceleration [m/s²]
X, Y = 2.0, 2.0  # end point: 2 across, 2 down [m]


def integrand(f, df, x):
    """Travel time per unit of x: ds / v with v = sqrt(2 g f) (f = depth, downward)."""
    return jnp.sqrt((1.0 + df**2) / (2.0 * g * f))


R, theta_end = brachistochrone.cycloid(X, Y)  # the cycloid does not depend on g
exact_value = theta_end * np.sqrt(R / g)


def exact(x):
    """The cycloid's depth at x in [0, X] (vectorised)."""
    return brachistochrone.cycloid_depth(x, R, theta_end)


problem = vc.Problem(
    integrand,
    domain=(0.0, X),
    bc={"left": 0.0, "right": Y},
    exact=exact,
    exact_value=exact_value,
    name="brachistochrone_psopt",
)
n = 5  # 4 cells
grading = None  # uniform in s: the map x = 2 s³ does the grading
solve_options = {"degree": 8}
plot_options = {"invert_yaxis": True}
