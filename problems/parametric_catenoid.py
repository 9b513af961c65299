"""Catenoid family with parameters: one compiled solver for all (R, L).

The soap film between two coaxial rings of radius R at x = ±L is the surface of revolution of least
area A[r] = ∫_{-L}^{L} 2π r sqrt(1 + r'²) dx, r(±L) = R (see `catenoid`).  Here (R, L) are
parameters, p = {"R": R, "L": L}: the problem is written on the fixed reference interval
ξ ∈ [-1, 1] (x = L ξ) for the deflection f(ξ) = r(L ξ) - R, so the boundary values f(±1) = 0 and
the grid do not depend on p, and the integrand is G(f, f', ξ, p) = 2π L (R + f) sqrt(1 + (f'/L)²).
The extremal is the catenary r = c cosh(x / c), c the larger root of c cosh(L / c) = R (the stable
catenoid; needs R / L > 1.5089), i.e. f(ξ) = c cosh(L ξ / c) - R, with area
A = π c (2L + c sinh(2L / c)) (Euler, 1744).  `vc.solve(problem, params={"R": ..., "L": ...})`
solves another member of the family without recompiling; `exact_for(p)` and `exact_value_for(p)`
give its reference.  The default p = {"R": 1, "L": 0.5} is the `catenoid` problem.  The default
guess f = 0 (the cylinder r = R) converges to the stable branch.
"""

import jax.numpy as jnp
import numpy as np
from varcalc.problems import catenoid

import varcalc as vc

params = {"R": 1.0, "L": 0.5}  # ring radius and half the distance between the rings


def integrand(f, df, x, p):
    """Area per unit of ξ: 2π r ds/dξ with r = R + f and dx/dξ = L."""
    L = p["L"]
    return 2.0 * jnp.pi * L * (p["R"] + f) * jnp.sqrt(1.0 + (df / L) ** 2)


def exact_for(p):
    """The stable catenary's deflection f(ξ) = c cosh(L ξ / c) - R for the parameters p."""
    c, _ = catenoid.catenary_parameters(L=p["L"], R=p["R"])
    R, L = p["R"], p["L"]
    return lambda xi: c * np.cosh(L * np.asarray(xi, dtype=np.float64) / c) - R


def exact_value_for(p):
    """The least area π c (2L + c sinh(2L / c))."""
    c, _ = catenoid.catenary_parameters(L=p["L"], R=p["R"])
    return float(np.pi * c * (2.0 * p["L"] + c * np.sinh(2.0 * p["L"] / c)))


_exact = exact_for(params)


def exact(x):
    """The deflection of the stable catenoid for the default parameters."""
    return _exact(x)


problem = vc.Problem(
    integrand,
    domain=(-1.0, 1.0),
    bc={"left": 0.0, "right": 0.0},
    params=params,
    exact=exact,
    exact_value=exact_value_for(params),
    name="parametric_catenoid",
)
n = 81
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
