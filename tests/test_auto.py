"""``vc.solve(problem, tol=...)`` alone (varcalc/auto.py) and ``sol.derivative``.

Exact references: the brachistochrone from rest (the cycloid, J known to 1e-16), ``G = √x f'²/2``
with ``f = √x`` and ``J = 1/4`` (singular under a smooth ``G``: the guess does not show it), and
the catalog's exact extremals for the derivatives (their slopes by central differences of the exact
solution, 1e-9 accurate).  Each automatic solve compiles one kernel per degree it tries.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from varcalc.problems import brachistochrone, catenoid, sphere_geodesic

import varcalc as vc
from varcalc.auto import solve_auto


def _rel(sol, exact_value):
    return abs(sol.value - exact_value) / abs(exact_value)


def _unknowns(sol):
    return int(np.sum(~np.asarray(sol._state[0].fixed)))


def _sqrt_integrand(f, df, x):
    return 0.5 * jnp.sqrt(x) * df**2


SQRT = vc.Problem(_sqrt_integrand, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})  # f = √x, J = 1/4


@pytest.fixture(scope="module")
def brach():
    """The brachistochrone from rest to (1, 0.6), tol 1e-9: one automatic solve for several tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tolerance is met: no warning
        return vc.solve(brachistochrone.problem, tol=1e-9)


def test_smooth_after_the_map_takes_the_p_path_and_its_estimate_is_of_the_returned_solution(brach):
    sol = brach
    assert sol.converged and sol.stats["tol_met"]
    # The singular start is seen along the guess (G infinite at f = 0) and mapped from the start.
    assert sol.end_map is not None and sol.end_map.powers == (3, 1) and sol.stats["strategy"] == "map"
    rel = _rel(sol, brachistochrone.problem.exact_value)
    est = sol.stats["error_estimate"] / abs(sol.value)
    assert rel <= 1e-9 and 1 / 3 <= est / rel <= 3  # measured: 9.68e-11 and 9.67e-11
    assert _unknowns(sol) < 30 and sol.degree == 6  # the h-path: 49,153 nodes for 1e-10


def _oscillator(f, df, x):
    return 0.5 * (df**2 + 25.0 * f**2)


def test_smooth_problem_raises_the_degree_and_refines_no_cell():
    # f'' = 25 f, f(0) = 0, f(1) = 1: f = sinh(5x)/sinh(5), J = 5 coth(5)/2.
    p = vc.Problem(_oscillator, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    sol = vc.solve(p, tol=1e-12)
    assert sol.stats["tol_met"] and sol.stats["strategy"] == "p" and sol.end_map is None
    bases = [h for h in sol.stats["mesh_history"] if h["role"] == "base"]
    assert [h["action"] for h in bases] == ["start", "p"] and bases[-1]["degree"] == 8
    assert all(h["nodes"] in (4, 7) for h in sol.stats["mesh_history"])  # 3 cells, halved by the probe
    # The degree step cut the estimate > 10-fold: spectral, so the degree rose again (no h-step).
    assert bases[1]["estimate"] < 0.1 * bases[0]["estimate"]
    exact = 2.5 / np.tanh(5.0)
    assert _rel(sol, exact) <= 1e-12 and _unknowns(sol) < 30


def test_mesh_history_records_each_solve_and_why(brach):
    hist = brach.stats["mesh_history"]
    assert [(h["role"], h["action"]) for h in hist] == [("base", "start"), ("probe", "probe")]
    base, probe = hist
    assert base["estimate"] == brach.stats["error_estimate"] and probe["estimate"] is None
    assert probe["nodes"] == 2 * base["nodes"] - 1 and probe["degree"] == base["degree"] == brach.degree
    assert base["unknowns"] == _unknowns(brach) and base["end_map"] == (3, 1)
    assert all(h["why"] and h["time"] >= 0 for h in hist) and "mapped, powers (3, 1)" in base["why"]
    assert base["value"] == brach.value


def test_singular_extremal_under_a_smooth_integrand_is_found_from_the_iterates():
    sol = vc.solve(SQRT, tol=1e-8)
    assert sol.converged and sol.stats["tol_met"]
    actions = [h["action"] for h in sol.stats["mesh_history"] if h["role"] == "base"]
    # p stalls (the estimate falls ~1.3-fold from degree 6 to 8), the left end is graded, the
    # graded nodes show f ~ x^0.5, and the end map x ∝ s^4 makes it smooth: spectral again.
    assert actions[:2] == ["start", "p"] and "h" in actions and actions[-1] == "map"
    assert sol.end_map is not None and sol.end_map.powers == (4, 1) and sol.stats["strategy"] == "map"
    assert _rel(sol, 0.25) <= 1e-8 and _unknowns(sol) < 60
    # The exact extremal √x through the element polynomials, and its infinite slope at 0.
    xq = np.array([1e-6, 0.01, 0.3, 0.9])
    assert np.max(np.abs(sol(xq) - np.sqrt(xq))) < 1e-8
    np.testing.assert_allclose(sol.derivative(xq), 0.5 / np.sqrt(xq), rtol=1e-6)
    assert sol.derivative(0.0) == np.inf


def test_missed_tolerance_warns_and_says_so(brach):
    # The same integrand as the fixture: its degree-6 kernel is compiled already.
    with pytest.warns(UserWarning, match="does not meet the tolerance"):
        sol = solve_auto(brachistochrone.problem, 1e-15, max_unknowns=20)
    assert sol.converged and not sol.stats["tol_met"] and "max_unknowns = 20" in sol.message
    assert sol.stats["error_estimate"] > 1e-15 * sol.value


def test_tol_routing_and_refusals():
    with pytest.raises(ValueError, match="singular_ends: not combined with tol="):
        vc.solve(SQRT, tol=1e-6, singular_ends=("left",))
    with pytest.raises(ValueError, match="tol: expected a positive"):
        vc.solve(SQRT, tol=-1.0)


# -- sol.derivative ---------------------------------------------------------------------------
def _exact_slope(exact, x, h=1e-6):
    return (exact(x + h) - exact(x - h)) / (2 * h)


def test_derivative_p1_is_the_cell_slope():
    p = catenoid.problem
    sol = vc.solve(p, n=41)
    x = sol.x
    mid = 0.5 * (x[:-1] + x[1:])
    np.testing.assert_allclose(sol.derivative(mid), np.diff(sol.f) / np.diff(x), rtol=1e-13)
    assert np.max(np.abs(sol.derivative(mid) - _exact_slope(p.exact, mid))) < 2e-3  # O(h²) at midpoints
    # At a node: the cell to its right; the last node: the last cell.
    assert sol.derivative(x[3]) == pytest.approx((sol.f[4] - sol.f[3]) / (x[4] - x[3]), rel=1e-13)
    assert sol.derivative(x[-1]) == pytest.approx((sol.f[-1] - sol.f[-2]) / (x[-1] - x[-2]), rel=1e-13)
    assert sol.derivative(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match="order: P1 elements"):
        sol.derivative(0.0, order=2)
    for bad in (0, 3, True, "1"):
        with pytest.raises(ValueError, match="order: expected 1 or 2"):
            sol.derivative(0.0, order=bad)
    with pytest.raises(ValueError, match="xq: expected points inside the domain"):
        sol.derivative(5.0)


def test_derivative_lagrange_end_mapped_and_vector_against_exact(brach):
    p = brachistochrone.problem  # degree 6, start mapped (x ∝ s³): the cycloid, f ~ x^(2/3)
    xq = np.array([1e-4, 0.01, 0.2, 0.5, 0.8, 0.99])
    fd = _exact_slope(p.exact, xq, h=1e-7)
    # 3 cells of degree 6 (J to 1e-10; the slope converges at half the rate): measured 2e-7
    # relative at x <= 0.01 (f' ~ 16 at 1e-4), 2e-5 absolute at 0.8 and 5e-5 at 0.99.
    np.testing.assert_allclose(brach.derivative(xq), fd, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(brach.derivative(xq[:2]), fd[:2], rtol=1e-6)
    second = _exact_slope(lambda x: _exact_slope(p.exact, x, 1e-5), xq[1:4], 1e-5)  # (1e-6 accurate)
    np.testing.assert_allclose(brach.derivative(xq[1:4], order=2), second, rtol=1e-3)  # measured 5e-4 at 0.5
    assert brach.derivative(0.0) == np.inf  # the vertical start: the limit
    assert brach.derivative(np.array([[0.0, 0.5]])).shape == (1, 2)
    g = sphere_geodesic.problem  # vector unknown, (θ, φ)
    vs = vc.solve(g, n=5, degree=6)
    xv = np.linspace(g.domain[0], g.domain[1], 7)
    d = vs.derivative(xv)
    assert d.shape == (7, 2) and vs.derivative(np.zeros((2, 3)) + xv[1]).shape == (2, 3, 2)
    # Degree 6 on 4 cells: f' is O(h^6) accurate, measured 7.2e-7 at the right end, 2.8e-7 at a
    # node between cells (one-sided there), 2e-9 inside the first cell.
    assert np.max(np.abs(d - _exact_slope(g.exact, xv))) < 1.5e-6
