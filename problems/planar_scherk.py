"""Scherk's minimal surface over the unit square (2-D, area functional, exact solution).

Among graphs u(x, y) over Ω = [0, 1]², the minimal surfaces minimise the area
A[u] = ∫∫ sqrt(1 + |∇u|²) dx dy.  Scherk's first surface (1834),
u = (1/k) log(cos(k(y - ½)) / cos(k(x - ½))), solves the minimal-surface equation
div(∇u / sqrt(1 + |∇u|²)) = 0 for every k < π; here k = 2.4, so the surface is steep near the
corners' mid-edges (|∇u| up to tan(1.2) ≈ 2.57) — the case of scikit-fem's minimal-surface
example.  Dirichlet data: u itself on the whole boundary.  Its area has no closed form in
elementary functions: 1 + |∇u|² = 1 + tan²(k(x-½)) + tan²(k(y-½)) is integrated by an 80 × 80
Gauss–Legendre rule, which is exact to rounding (the integrand is analytic in a Bernstein ellipse
with ρ ≈ 2.15, error ~ ρ^-160).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

k = 2.4


def integrand(u, du, x):
    """Area element of the graph."""
    return jnp.sqrt(1.0 + du @ du)


def exact(points):
    """Scherk's surface at points (n, 2) -> (n,)."""
    p = np.asarray(points, dtype=np.float64)
    return np.log(np.cos(k * (p[:, 1] - 0.5)) / np.cos(k * (p[:, 0] - 0.5))) / k


def exact_area(order=80):
    t, w = np.polynomial.legendre.leggauss(order)
    s, w = 0.5 * (t + 1.0), 0.5 * w
    a = np.tan(k * (s - 0.5)) ** 2
    return float(w @ np.sqrt(1.0 + a[:, None] + a[None, :]) @ w)


domain = vc.Rectangle((0.0, 1.0), (0.0, 1.0))
problem = vc.PlanarProblem(integrand, domain, bc=exact, exact=exact, exact_value=exact_area(), name="planar_scherk")
n = 65  # nodes per side
element = "P1"
solve_options = {}
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
