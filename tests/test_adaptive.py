"""Adaptive refinement to a tolerance (varcalc.adaptive.solve_adaptive)."""

import numpy as np
import pytest
from varcalc.problems import brachistochrone, catenoid

import varcalc as vc
from varcalc import cache as _cache
from varcalc.adaptive import hierarchical_indicator, ladder, refine, solve_adaptive


def _compiled_entries():
    """Number of compiled Newton programs in varcalc's cache.  The engine compiles the generic
    step once per size bucket and the integrand's kernel once per node count, so this counts the
    kernels' compiled derivative programs (one per kernel and array shape)."""
    return sum(v.compiled() for k, v in _cache._entries.items() if k[0] == "kernel")


@pytest.fixture(scope="module")
def catenoid_run():
    return solve_adaptive(catenoid.problem, 1e-8)


@pytest.fixture(scope="module")
def brachistochrone_run():
    before = _compiled_entries()
    sol = solve_adaptive(brachistochrone.problem, 1e-6)  # (1e-7: 1537 nodes, ~7 s; the same checks)
    return sol, _compiled_entries() - before


def test_ladder_is_closed_under_halving():
    rungs = ladder(2**17 + 1)
    assert rungs[-1] == 2**17 + 1
    small = rungs[rungs <= 2**16 + 1]
    assert np.isin(2 * small - 1, rungs).all()
    assert np.all(np.diff(rungs) > 0) and np.all(rungs[1:] / rungs[:-1] <= 2.0)


def test_refine_hits_the_count_and_keeps_the_old_nodes():
    rng = np.random.default_rng(0)
    x = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, 31)]))
    eta = rng.uniform(0, 1, 32) ** 4
    for n_new in (33, 40, 49, 65):
        y = refine(x, eta, n_new)
        assert y.size == n_new and np.all(np.diff(y) > 0)
        assert np.isin(x, y).all()
    # The cell with by far the largest indicator is split most.
    eta = np.full(32, 1e-6)
    eta[10] = 1.0
    y = refine(x, eta, 49)
    inside = np.sum((y > x[10]) & (y < x[11]))
    assert inside >= 7


def test_refine_grades_geometrically_toward_a_singular_end():
    x = np.linspace(0.0, 1.0, 33)
    eta = np.full(32, 1e-8)
    eta[0] = 1.0  # decays like h at a singular end: 2^-k per halving
    y = refine(x, eta, 49, singular_ends=("left",))
    h = np.diff(y)
    # All 16 new nodes go to the end cell: 1/32 · 2^-16, then doubling widths.
    assert np.argmin(h) == 0 and h[0] == pytest.approx(2.0**-21)
    ratios = h[2:7] / h[1:6]
    np.testing.assert_allclose(ratios, 2.0)


def test_refine_and_solve_adaptive_reject_bad_input():
    x = np.linspace(0.0, 1.0, 5)
    with pytest.raises(ValueError, match="indicator"):
        refine(x, np.ones(3), 6)
    with pytest.raises(ValueError, match="n_new"):
        refine(x, np.ones(4), 10)
    with pytest.raises(ValueError, match="tol"):
        solve_adaptive(catenoid.problem, -1.0)
    with pytest.raises(TypeError, match="tol"):
        solve_adaptive(catenoid.problem, "small")
    with pytest.raises(TypeError, match="problem"):
        solve_adaptive("catenoid", 1e-6)
    with pytest.raises(ValueError, match="n0"):
        solve_adaptive(catenoid.problem, 1e-6, n0=1000, max_nodes=1025)


def test_catenoid_meets_the_tolerance_with_a_reliable_estimate(catenoid_run):
    sol = catenoid_run
    exact = catenoid.problem.exact_value
    true = abs(sol.value - exact)
    est = sol.stats["error_estimate"]
    assert sol.converged and sol.stats["tol_met"]
    assert true <= 1e-8 * abs(exact)
    assert true / 3 <= est <= 3 * true
    history = sol.stats["mesh_history"]
    assert [h["level"] for h in history] == list(range(len(history)))
    nodes = np.array([h["nodes"] for h in history])
    assert np.all(np.diff(nodes) > 0) and np.isin(nodes, ladder(2**17 + 1)).all()
    assert history[-1]["estimate"] <= 1e-8 * abs(history[-1]["value"]) < history[-2]["estimate"]
    assert sol.x.size == history[-1]["fine_nodes"] == 2 * nodes[-1] - 1


def test_brachistochrone_from_no_grid_finds_the_singular_start(brachistochrone_run):
    sol, compiles = brachistochrone_run
    problem = brachistochrone.problem
    exact = problem.exact_value
    true = abs(sol.value - exact)
    est = sol.stats["error_estimate"]
    assert sol.converged and sol.stats["tol_met"] and sol.singular_ends == ("left",)
    assert true <= 1e-6 * exact
    assert true / 3 <= est <= 3 * true
    h = np.diff(sol.x)
    assert np.argmin(h) == 0 and h[0] < 1e-3 * h.max()
    # The nodal error at the nodes is small too (cycloid): a refined grid, not just a good value.
    R, theta = brachistochrone.cycloid(brachistochrone.X, brachistochrone.Y)
    f_exact = brachistochrone.cycloid_depth(sol.x, R, theta)
    assert np.max(np.abs(sol.f - f_exact)) < 1e-4
    # Compile-friendly: at most one compiled Newton loop per node count used (coarse and fine grids).
    history = sol.stats["mesh_history"]
    sizes = {h["nodes"] for h in history} | {h["fine_nodes"] for h in history}
    assert len(history) >= 3
    assert compiles <= len(sizes)


def test_indicator_accounts_for_the_value_change():
    """Σ η ≈ J_h - J_{h/2}: the hierarchical surplus energy is the local share of the change
    (catenoid: the change is all discretization of f; a midpoint-rule error in terms without f'
    is not in η)."""
    p = catenoid.problem
    x = np.linspace(*p.domain, 33)
    coarse = vc.solve(p, grid=x)
    xf = np.sort(np.concatenate([x, 0.5 * (x[1:] + x[:-1])]))
    fine = vc.solve(p, grid=xf, guess=coarse)
    eta = hierarchical_indicator(coarse, fine)
    assert eta.shape == (32,) and np.all(eta >= 0)
    np.testing.assert_allclose(eta.sum(), coarse.value - fine.value, rtol=0.01)
    np.testing.assert_allclose(eta, eta[::-1], rtol=1e-6)  # a symmetric problem


def test_max_nodes_stops_and_says_so(catenoid_run):
    sol = solve_adaptive(catenoid.problem, 1e-12, max_nodes=129)  # shapes compiled by catenoid_run
    assert sol.converged and not sol.stats["tol_met"]
    assert sol.x.size <= 129 and "max_nodes" in sol.message
    assert sol.stats["error_estimate"] > 1e-12 * sol.value
    assert sol.stats["error_estimate"] == sol.stats["mesh_history"][-1]["estimate"]


def test_vc_solve_tol_dispatches_to_the_adaptive_solve():
    # tol= with degree=1 (or n=): the piecewise-linear h-path; tol= alone is automatic (test_auto.py).
    sol = vc.solve(catenoid.problem, tol=1e-6, degree=1)
    assert sol.stats["tol_met"] and sol.value_error() <= 1e-6 * abs(sol.value)
    assert [h["nodes"] for h in sol.stats["mesh_history"]][0] == 33
    with pytest.raises(ValueError, match="grid: not combined with tol="):
        vc.solve(catenoid.problem, grid=np.linspace(-0.5, 0.5, 11), tol=1e-6)
