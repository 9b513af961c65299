"""Smoothing spline: fit noisy data with a curvature penalty (order=2, data).

Given data (x_i, y_i), i = 1..N, minimise J[f] = Σ_i (f(x_i) - y_i)² + lam ∫_{x_1}^{x_N} f''² dx
with both ends free.  The minimiser over all f with square-integrable f'' is the natural cubic
smoothing spline with knots at the data sites (Schoenberg 1964, Reinsch 1967): a C² piecewise
cubic whose f''' jumps by (y_i - f(x_i)) / lam at each site, with f'' = 0 at x_1 and x_N (the
natural condition of a free end; the shear condition there includes the end's data residual).
varcalc's C¹ cubic Hermite space on any grid that contains the data sites contains that spline,
and ∫ f''² of a cubic is integrated exactly, so varcalc reproduces it to rounding.

Reference: `scipy.interpolate.make_smoothing_spline(x, y, lam=lam)`, whose documented objective
is Σ w_i |y_i - f(x_i)|² + λ ∫ f''² with weights w_i = 1 by default (not squared), the same
functional: `data=vc.Data(x, y)` contributes Σ weight_i |f(x_i) - y_i|² with weight 1.  `exact`
evaluates that spline and `exact_value` is J of it (the squared residuals plus lam times ∫ f''²
by 3-point Gauss–Legendre per interval: f''² is quadratic there).

Data: N = 40 deterministic samples (seeded numpy generator) of sin x on [0, 2π] with Gaussian
noise of standard deviation 0.2, at irregular sites (spacings 1 to 9 times 2π/120).
lam = 0.05.  The data sites must be grid nodes: `vc.solve(problem, grid=x_data)` solves on the
sites themselves (the test does); with `n=` varcalc merges the sites into a uniform grid (a larger
space with the same minimiser).  The sites are nodes of the default n = 121 uniform grid, so the
CLI's grid has no extra, near-duplicate nodes.
"""

import jax.numpy as jnp  # noqa: F401  (write your integrands with it)
import numpy as np
from scipy.interpolate import make_smoothing_spline

import varcalc as vc

N = 40  # number of data points
lam = 0.05  # smoothing parameter: weight of ∫ f''² against the squared residuals
noise = 0.2  # standard deviation of the noise
seed = 20240603


def make_data(N=N, noise=noise, seed=seed, n_fine=121):
    """Deterministic noisy samples of sin x on [0, 2π] at N irregular sites: 0, 2π and N - 2
    distinct random nodes of the uniform n_fine-node grid (so `n = n_fine` adds no new nodes)."""
    rng = np.random.default_rng(seed)
    fine = np.linspace(0.0, 2 * np.pi, n_fine)
    inner = rng.choice(np.arange(1, n_fine - 1), size=N - 2, replace=False)
    x = fine[np.concatenate([[0], np.sort(inner), [n_fine - 1]])]
    y = np.sin(x) + noise * rng.standard_normal(N)
    return x, y


x_data, y_data = make_data()


def integrand(f, df, d2f, x):
    """The roughness penalty; the data misfit comes from `data=vc.Data(...)`."""
    return lam * d2f**2


def reference_spline(x=x_data, y=y_data, lam=lam):
    """scipy's smoothing spline (a BSpline) for the same functional."""
    return make_smoothing_spline(x, y, lam=lam)


def functional(spline, x=x_data, y=y_data, lam=lam):
    """J of a C² piecewise cubic with knots at x (e.g. a BSpline): exact up to rounding."""
    t, w = np.polynomial.legendre.leggauss(3)
    a, b = x[:-1, None], x[1:, None]
    xq = a + (b - a) * (1 + t) / 2
    rough = np.sum(w * (b - a) / 2 * spline(xq, 2) ** 2)
    return float(np.sum((spline(x) - y) ** 2) + lam * rough)


_spline = reference_spline()


def exact(x):
    """scipy.interpolate.make_smoothing_spline(x_data, y_data, lam=lam) at x."""
    return _spline(np.asarray(x, dtype=np.float64))


exact_value = functional(_spline)

problem = vc.Problem(
    integrand,
    domain=(float(x_data[0]), float(x_data[-1])),
    bc={},
    order=2,
    data=vc.Data(x_data, y_data),
    exact=exact,
    exact_value=exact_value,
    name="smoothing_spline",
)
n = 121  # the CLI's uniform grid: it contains the data sites (see make_data)
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
