"""The 4-Laplacian on an L-shaped domain with a manufactured solution (2-D, exact).

J[u] = ∫∫ (|∇u|⁴ / 4 - f u) dx dy is minimised by the solution of the p-Laplace equation
-div(|∇u|² ∇u) = f (p = 4), a degenerate nonlinear membrane.  With u = e^x cos(2y), whose
gradient never vanishes, the forcing f = -div(|∇u|² ∇u) = e^(3x) cos 2y (cos² 2y + 28 sin² 2y)
(checked against automatic differentiation of the flux), and u is prescribed on the whole boundary of the L-shaped
polygon [0, 1]² minus (½, 1]².  J at the minimiser is integrated by a 30 × 30 Gauss–Legendre
rule on each of the three unit-half squares.
"""

import jax
import jax.numpy as jnp
import numpy as np

import varcalc as vc

p = 4.0


def u_exact(x):
    return jnp.exp(x[0]) * jnp.cos(2.0 * x[1])


def flux(x):
    du = jax.grad(u_exact)(x)
    return (du @ du) ** ((p - 2) / 2) * du


def forcing_autodiff(x):
    """f = -div(|∇u|^(p-2) ∇u) by automatic differentiation of the flux (the check)."""
    return -jnp.trace(jax.jacfwd(flux)(x))


def forcing(x):
    """f = -div(|∇u|² ∇u) = e^(3x) a (a² + 28 b²), a = cos 2y, b = sin 2y (by hand; the tests
    compare it with :func:`forcing_autodiff`, which costs more to compile inside the Hessian)."""
    a, b = jnp.cos(2.0 * x[1]), jnp.sin(2.0 * x[1])
    return jnp.exp(3.0 * x[0]) * a * (a * a + 28.0 * b * b)


def integrand(u, du, x):
    """p-Dirichlet energy with a load."""
    return (du @ du) ** (p / 2) / p - forcing(x) * u


def exact(points):
    return np.asarray(jax.vmap(u_exact)(jnp.asarray(points, dtype=jnp.float64)))


def exact_energy(order=30):
    t, w = np.polynomial.legendre.leggauss(order)
    s, w = 0.25 * (t + 1.0), 0.25 * w
    density = jax.jit(jax.vmap(lambda x: integrand(u_exact(x), jax.grad(u_exact)(x), x)))
    squares = [np.meshgrid(ox + s, oy + s, indexing="ij") for ox, oy in ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5))]
    pts = np.concatenate([np.column_stack([X.ravel(), Y.ravel()]) for X, Y in squares])
    vals = np.asarray(density(jnp.asarray(pts))).reshape(3, order, order)  # one compiled call
    return float(sum(w @ v @ w for v in vals))


domain = vc.Polygon([(0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)])
problem = vc.PlanarProblem(
    integrand, domain, bc=exact, exact=exact, exact_value=exact_energy(), name="planar_p_laplacian"
)
n = 33
element = "P1"
solve_options = {}
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
