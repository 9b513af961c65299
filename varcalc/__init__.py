"""varcalc: calculus of variations in Python.

Write the integrand ``G(f, f', x)`` with ``jax.numpy``; varcalc discretizes ``J[f] = ∫ G dx`` with
piecewise-linear elements, gets the Euler–Lagrange residual and the second variation by
automatic differentiation, and minimises with Newton's method on the exact (block-tridiagonal)
Hessian.

Importing varcalc switches JAX to float64 (``jax_enable_x64``): the Hessian of a discretized
functional has condition number ~n², and float32 would stall Newton near 1e-6.

>>> import jax.numpy as jnp, varcalc as vc
>>> p = vc.Problem(lambda f, df, x: jnp.sqrt(1 + df**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
>>> round(vc.solve(p, n=11).value, 12)   # the straight line, length sqrt(2)
1.414213562373
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from .cache import clear_cache  # noqa: E402
from .constraints import Bound, Data, Integral, OnCurve, Pointwise  # noqa: E402

# Eager: the function shares its module's name, and an import of the submodule `varcalc.continuation`
# would otherwise leave the module, not the function, as `vc.continuation`.
from .continuation import Continuation, continuation, plot_continuation  # noqa: E402
from .mesh import check_grid, graded_grid, uniform_grid  # noqa: E402
from .newton import Newton, Status  # noqa: E402
from .problem import Problem  # noqa: E402
from .solution import Solution, load  # noqa: E402
from .solve import discretize, solve  # noqa: E402

# The rest of the public surface is imported on first use (PEP 562): `import varcalc` then costs
# ~0.3 s less (the planar layer pulls in scipy.sparse.linalg and pyamg, the symbolic layer
# jax.extend), which a one-off `varcalc solve` process feels.  `vc.solve_planar`,
# `from varcalc import solve_batch`, ... work as before.  No lazy name may equal its module's name
# (importing the submodule would bind the module under that name first; tests/test_engine.py checks).
_LAZY = {
    "planar": ("PlanarProblem", "Polygon", "Rectangle", "Disk", "Annulus", "TriMesh", "solve_planar"),
    "batch": ("BatchSolution", "solve_batch"),
    "symbolic": ("EulerLagrange", "euler_lagrange"),
    "stochastic": (
        "Distribution",
        "ExpectedProblem",
        "ExpectedSolution",
        "LogNormal",
        "Normal",
        "Uniform",
        "compare_sensitivities",
        "plot_ensemble",
        "sample_extremals",
        "sensitivity",
        "solve_expected",
    ),
    "diagnostics": ("euler_lagrange_residual", "first_integral", "plot_diagnostics"),
    "deflation": ("solve_all", "plot_extremals"),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name):
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'varcalc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES))


__version__ = "0.1.0"
__all__ = [
    "Problem",
    "solve",
    "discretize",
    "Newton",
    "Status",
    "Solution",
    "load",
    "uniform_grid",
    "graded_grid",
    "check_grid",
    "Integral",
    "Pointwise",
    "Bound",
    "Data",
    "OnCurve",
    "solve_batch",
    "BatchSolution",
    "euler_lagrange",
    "EulerLagrange",
    "PlanarProblem",
    "solve_planar",
    "Rectangle",
    "Polygon",
    "Disk",
    "Annulus",
    "TriMesh",
    "Normal",
    "LogNormal",
    "Uniform",
    "Distribution",
    "ExpectedProblem",
    "ExpectedSolution",
    "solve_expected",
    "sample_extremals",
    "sensitivity",
    "compare_sensitivities",
    "plot_ensemble",
    "euler_lagrange_residual",
    "first_integral",
    "plot_diagnostics",
    "continuation",
    "Continuation",
    "plot_continuation",
    "clear_cache",
    "solve_all",
    "plot_extremals",
]
