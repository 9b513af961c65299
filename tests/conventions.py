"""The problem-module convention that the CLI and the catalog rely on, checked in one place."""

import numpy as np

import varcalc as vc


def check_module_convention(mod, name):
    """``mod`` (a ``problems/`` module) defines what ``varcalc solve`` reads, consistently."""
    title = mod.__doc__.strip().splitlines()[0]
    assert title and len(title) < 80 and title.endswith(".")
    assert callable(mod.integrand) and callable(mod.exact)
    assert isinstance(mod.problem, vc.Problem) and mod.problem.name == name
    assert mod.problem.exact is mod.exact
    assert isinstance(mod.n, int) and mod.n >= 2
    assert mod.grading is None or set(mod.grading) <= {"power", "end"}
    assert isinstance(mod.plot_options, dict)
    # exact(x) is vectorised: shape (k,) + the unknown's shape ...
    a, b = mod.problem.domain
    x = np.linspace(a, b, 7)
    assert np.asarray(mod.problem.exact(x)).shape == (7,) + tuple(mod.problem.shape)
    # ... and meets the Dirichlet values (to rounding: exact() is evaluated, not copied).
    for end, xe in (("left", a), ("right", b)):
        if end in mod.problem.bc:
            got = np.asarray(mod.problem.exact(np.array([xe]))).reshape(-1)
            np.testing.assert_allclose(got, np.ravel(mod.problem.bc[end]), rtol=0, atol=1e-14)


_SOLVES = {}


def cached_solve(problem, n, p, **kw):
    """``vc.solve(problem, n=n, degree=p, **kw)``, once per (problem name, n, p, keyword names) in a
    test session: each size compiles once, and tests of one solution share it."""
    key = (problem.name, n, p, tuple(sorted(kw)))
    if key not in _SOLVES:
        _SOLVES[key] = vc.solve(problem, n=n, degree=p, **kw)
    return _SOLVES[key]
