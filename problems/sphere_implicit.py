"""Geodesic on the unit sphere given implicitly in R³: a great-circle arc.

The unknown is the space curve f(x) ∈ R³, x ∈ [0, 1], with the energy E[f] = ∫_0^1 ½ |f'|² dx and
the pointwise constraint g(f) = |f|² - 1 = 0 (vc.Pointwise, named "sphere").  The minimiser
between two non-antipodal points p₀, p₁ is the shorter great-circle arc traversed at constant
speed α, α the angle between them: the spherical linear interpolation
f(x) = [sin((1 - x) α) p₀ + sin(x α) p₁] / sin α, with E = α² / 2.  Its Euler–Lagrange equation
-f'' + μ ∇g = 0 with f'' = -α² f and ∇g = 2 f gives the multiplier function μ = -α² / 2
(constant) for the Lagrangian E + ∫ μ g dx.  The end points are those of
`problems/sphere_geodesic.py` (there in angle coordinates): (θ, φ) = (π/2, 0) and (π/4, 1).  The
default guess is the straight chord, inside the ball (infeasible).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

START = (np.pi / 2, 0.0)  # (θ, φ) at x = 0
END = (np.pi / 4, 1.0)  # (θ, φ) at x = 1


def integrand(f, df, x):
    """Kinetic energy ½ |f'|² of the space curve."""
    return 0.5 * jnp.sum(df**2)


def sphere(f, x):
    """The unit sphere's implicit equation |f|² - 1."""
    return jnp.sum(f**2) - 1.0


def _unit(theta, phi):
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


p0, p1 = _unit(*START), _unit(*END)
alpha = float(np.arctan2(np.linalg.norm(np.cross(p0, p1)), np.dot(p0, p1)))
multiplier = -0.5 * alpha**2  # exact μ(x) (constant) for E + ∫ μ (|f|² - 1) dx


def exact(x):
    """The great-circle arc at constant speed, shape (k, 3)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return (np.sin((1 - x) * alpha)[:, None] * p0 + np.sin(x * alpha)[:, None] * p1) / np.sin(alpha)


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": p0, "right": p1},
    constraints=[vc.Pointwise(sphere, name="sphere")],
    exact=exact,
    exact_value=0.5 * alpha**2,
    name="sphere_implicit",
)
n = 81
grading = None
plot_options = {"labels": ("x₀", "x₁", "x₂")}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
