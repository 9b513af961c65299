"""Catenoid: the minimal surface of revolution spanning two coaxial rings.

Rotating the graph of f > 0 about the x axis sweeps a surface of area
A[f] = ∫_{-L}^{L} 2π f sqrt(1 + f'²) dx; the rings are f(-L) = f(L) = R.  The Euler–Lagrange
equation has the first integral f / sqrt(1 + f'²) = c, whose symmetric solutions are the catenaries
f = c cosh(x / c) with c cosh(L / c) = R.  Writing u = L / c, cosh(u) / u = R / L has two roots
when R / L > min cosh(u)/u ≈ 1.5089 (at u ≈ 1.1997): the shallow catenoid (larger c, smaller u) is
a stable minimum, the deep one (smaller c) a saddle of the area.  Here L = 0.5, R = 1, so
R / L = 2 and the stable c ≈ 0.8483.  Its area is
A = 2π c ∫ cosh²(x/c) dx = π c (2L + c sinh(2L / c)) (Euler, 1744).  The straight-line default guess
f = R converges to the stable branch.
"""

import jax.numpy as jnp
import numpy as np
from scipy.optimize import brentq

import varcalc as vc

L = 0.5  # half the distance between the rings
R = 1.0  # radius of both rings


def integrand(f, df, x):
    """Area of the surface swept by the graph, per unit of x."""
    return 2.0 * jnp.pi * f * jnp.sqrt(1.0 + df**2)


def catenary_parameters(L=L, R=R):
    """Both roots c of c cosh(L / c) = R, as (c_stable, c_unstable) with c_stable > c_unstable."""
    u_min = brentq(lambda u: u * np.tanh(u) - 1.0, 0.1, 10.0)  # minimum of cosh(u)/u: u tanh u = 1
    h = lambda u: np.cosh(u) / u - R / L
    if h(u_min) >= 0:
        raise ValueError(
            f"no catenoid spans rings of radius {R} at distance {2 * L}: needs R / L > {np.cosh(u_min) / u_min:.6f}"
        )
    u_small = brentq(h, 1e-12, u_min, xtol=1e-15, rtol=1e-15)
    u_large = brentq(h, u_min, 50.0, xtol=1e-15, rtol=1e-15)
    return L / u_small, L / u_large


c, c_unstable = catenary_parameters()


def exact(x):
    """The stable catenary c cosh(x / c)."""
    return c * np.cosh(np.asarray(x, dtype=np.float64) / c)


problem = vc.Problem(
    integrand,
    domain=(-L, L),
    bc={"left": R, "right": R},
    exact=exact,
    exact_value=np.pi * c * (2 * L + c * np.sinh(2 * L / c)),
    name="catenoid",
)
n = 161
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
