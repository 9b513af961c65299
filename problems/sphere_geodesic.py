"""Geodesic on the unit sphere: a great-circle arc, vector unknown f = (θ, φ).

In spherical coordinates (polar angle θ, azimuth φ) the squared speed of a path is
θ'² + sin²θ φ'².  Minimising the energy E[θ, φ] = ∫_0^1 (θ'² + sin²θ φ'²) dx between two fixed
points gives the geodesics traversed at constant speed (by Cauchy–Schwarz, E >= (length)² with
equality at constant speed), i.e. the shorter great-circle arc, with E = α², α the angle between
the end points.  The exact path is the spherical linear interpolation
p(x) = [sin((1 - x) α) p₀ + sin(x α) p₁] / sin α of the unit vectors, converted back to (θ, φ).
Here (θ, φ) goes from (π/2, 0) on the equator to (π/4, 1): not antipodal (unique geodesic) and
away from the poles (where φ is undefined).  The default guess is the straight line in (θ, φ).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

START = (np.pi / 2, 0.0)  # (θ, φ) at x = 0
END = (np.pi / 4, 1.0)  # (θ, φ) at x = 1


def integrand(f, df, x):
    theta = f[0]
    return df[0] ** 2 + jnp.sin(theta) ** 2 * df[1] ** 2


def _unit(theta, phi):
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


_p0, _p1 = _unit(*START), _unit(*END)
# Angle between the end points: atan2(|p0 × p1|, p0 · p1) is accurate at any angle.
alpha = float(np.arctan2(np.linalg.norm(np.cross(_p0, _p1)), np.dot(_p0, _p1)))


def exact(x):
    """(θ, φ) along the great circle at constant speed, shape (k, 2)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    p = (np.sin((1 - x) * alpha)[:, None] * _p0 + np.sin(x * alpha)[:, None] * _p1) / np.sin(alpha)
    theta = np.arctan2(np.hypot(p[:, 0], p[:, 1]), p[:, 2])
    phi = np.arctan2(p[:, 1], p[:, 0])  # the arc stays within |φ| < π: no unwrapping needed
    return np.stack([theta, phi], axis=-1)


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": list(START), "right": list(END)},
    exact=exact,
    exact_value=alpha**2,
    name="sphere_geodesic",
)
n = 161
grading = None
plot_options = {"labels": ("θ (polar angle)", "φ (azimuth)")}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
