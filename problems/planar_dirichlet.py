"""Dirichlet's principle with a manufactured solution and a free (natural) edge (2-D, exact).

J[u] = ∫∫ (½ |∇u|² - f u) dx dy on the unit square is minimised by the solution of Poisson's
equation -Δu = f with the natural condition ∂u/∂n = 0 wherever u is not prescribed.  With
u = e^x cos(πy) and f = -Δu = (π² - 1) e^x cos(πy), u is given on the left, right and bottom
edges and left free on the top edge, where ∂u/∂y = -π e^x sin(π) = 0 holds: the minimiser has to
find the natural boundary condition by itself.  J at the minimiser is computed by a 40 × 40
Gauss–Legendre rule (exact to rounding for this entire integrand).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc


def forcing(x):
    return (jnp.pi**2 - 1.0) * jnp.exp(x[0]) * jnp.cos(jnp.pi * x[1])


def integrand(u, du, x):
    """Dirichlet energy density with a load f."""
    return 0.5 * du @ du - forcing(x) * u


def exact(points):
    p = np.asarray(points, dtype=np.float64)
    return np.exp(p[:, 0]) * np.cos(np.pi * p[:, 1])


def exact_energy(order=40):
    t, w = np.polynomial.legendre.leggauss(order)
    s, w = 0.5 * (t + 1.0), 0.5 * w
    X, Y = np.meshgrid(s, s, indexing="ij")
    ux = np.exp(X) * np.cos(np.pi * Y)
    uy = -np.pi * np.exp(X) * np.sin(np.pi * Y)
    f = (np.pi**2 - 1.0) * np.exp(X) * np.cos(np.pi * Y)
    return float(w @ (0.5 * (ux**2 + uy**2) - f * ux) @ w)


domain = vc.Rectangle((0.0, 1.0), (0.0, 1.0))
problem = vc.PlanarProblem(
    integrand,
    domain,
    bc={"left": exact, "right": exact, "bottom": exact},
    exact=exact,
    exact_value=exact_energy(),
    name="planar_dirichlet",
)
n = 33
element = "P1"
solve_options = {}
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
