"""Diagnostics (strong Euler–Lagrange residual, first integral) and continuation to a fold.

Measured against exact facts: the residual and the spread of the first integral shrink like h²
(slopes from n and 2n - 1 nodes, h halved); continuation of the stable catenoid in the ring radius R
(L = 0.5) stops at the Goldschmidt fold R* = L·min cosh(u)/u (u tanh u = 1), where the smallest
eigenvalue of the second variation goes to zero; the branch's areas match Euler's formula to O(h²).
Two grids (41, 81 nodes) and one catenoid family keep the compilations few (one per grid).
"""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq
from varcalc.problems import catenoid
from varcalc.problems import harmonic_oscillator as ho
from varcalc.problems import parametric_catenoid as pc

import varcalc as vc

N = (41, 81)  # h halves
L = pc.params["L"]
U_FOLD = brentq(lambda u: u * np.tanh(u) - 1.0, 0.5, 2.0)
R_FOLD = L * np.cosh(U_FOLD) / U_FOLD  # 0.5 · 1.5088795 = 0.75444


def _order(coarse, fine):
    return np.log2(coarse / fine)


@pytest.fixture(scope="module")
def catenoids():
    """The catenoid (parametric form at R = 1, L = 0.5, G independent of ξ) on both grids."""
    return {n: vc.solve(pc.problem, n=n) for n in N}


@pytest.fixture(scope="module")
def oscillators():
    return {n: vc.solve(ho.problem, n=n) for n in N}


@pytest.fixture(scope="module")
def fold_path():
    """R from 1.0 down past the fold at n = 81, with eigenvalues (the expensive part, done once)."""
    return vc.continuation(pc.problem, {"R": (1.0, 0.7)}, n=81, steps=10, tol=1e-3)


@pytest.mark.parametrize("which", ["catenoids", "oscillators"])
def test_residual_and_first_integral_converge_like_h2(which, request):
    sols = request.getfixturevalue(which)
    res, spread = {}, {}
    for n, sol in sols.items():
        x, r = vc.euler_lagrange_residual(sol)
        assert x.shape == (n,) and r.shape == (n,)
        res[n] = np.max(np.abs(r))
        x, E = vc.first_integral(sol)
        spread[n] = np.ptp(E)
        # relative to the first integral's size: small already on the coarse grid
        assert spread[n] < 1e-2 * np.max(np.abs(E))
    assert 1.8 < _order(res[41], res[81]) < 2.3
    assert 1.8 < _order(spread[41], spread[81]) < 2.3


def test_first_integral_is_the_catenary_parameter(catenoids):
    # G = 2π L (R + f) sqrt(1 + (f'/L)²)  ⇒  E = G - f' G_f' = 2π L r / sqrt(1 + r'²) = 2π L c.
    c, _ = catenoid.catenary_parameters(L=L, R=1.0)
    err = {n: np.max(np.abs(vc.first_integral(s)[1] - 2 * np.pi * L * c)) for n, s in catenoids.items()}
    assert err[81] < 1e-4
    assert _order(err[41], err[81]) > 1.8


def test_residual_at_points_and_vector_shape(oscillators):
    sol = oscillators[81]
    xq = np.linspace(0.1, 0.9, 7)
    x, r = vc.euler_lagrange_residual(sol, xq)
    assert np.array_equal(x, xq) and r.shape == (7,)
    assert np.max(np.abs(r)) < 1e-3
    with pytest.raises(ValueError, match="x:"):
        vc.euler_lagrange_residual(sol, [2.0])
    with pytest.raises(TypeError, match="sol:"):
        vc.first_integral(sol.f)


def test_first_integral_refuses_x_dependent_G():
    forced = vc.Problem(lambda f, df, x: 0.5 * df**2 - 2.0 * f**2 + x * f, ho.problem.domain, bc=ho.problem.bc)
    sol = vc.solve(forced, n=41)
    x, r = vc.euler_lagrange_residual(sol)  # the residual still works (exact: f'' + 4 f = x)
    assert np.max(np.abs(r)) < 1e-2
    with pytest.raises(ValueError, match="depends on x explicitly"):
        vc.first_integral(sol)
    x, E = vc.first_integral(sol, check=False)
    assert np.ptp(E) > 0.1  # indeed not conserved


def test_plot_diagnostics(catenoids, tmp_path):
    axes = vc.plot_diagnostics(catenoids[41], tmp_path / "d.png")
    assert len(axes) == 3 and (tmp_path / "d.png").stat().st_size > 10_000


def test_continuation_locates_the_goldschmidt_fold(fold_path):
    res = fold_path
    assert res.lost and res.converged[0]
    lo, hi = res.fold  # R decreases: last converged above, first failed below
    assert hi < lo and lo - hi <= 1e-3 * 0.3 * 1.0001
    # the discrete fold of an 81-node grid is O(h²) from the continuous one
    assert abs(0.5 * (lo + hi) - R_FOLD) < 1e-3
    assert res.last_converged["R"] == pytest.approx(lo) and res.first_failed["R"] == pytest.approx(hi)
    assert "branch lost" in res.message


def test_continuation_with_high_order_elements():
    """degree=6 on 4 cells (the secant predictor extrapolates the element polynomials): the fold is
    bracketed as tightly, and the discrete fold sits on the continuous one (measured bracket
    [0.754375, 0.754609] around R* = 0.754440; 81 nodes of degree 1 are O(h²) off)."""
    res = vc.continuation(pc.problem, {"R": (1.0, 0.7)}, n=5, degree=6, steps=10, certificate=False)
    assert res.lost and res.solution.degree == 6
    lo, hi = res.fold
    assert hi < R_FOLD < lo and lo - hi <= 1e-3 * 0.3 * 1.0001


def test_smallest_eigenvalue_goes_to_zero_at_the_fold(fold_path):
    res = fold_path
    b = res.branch
    lam, R = res.smallest_eigenvalue[b], res.parameter[b]
    assert np.all(np.diff(lam) < 0) and lam[0] > 10.0 and lam[-1] < 0.05 * lam[0]
    # near a fold λ ~ sqrt(R - R*): extrapolating λ² linearly to zero from the last points gives R*
    slope, icpt = np.polyfit(R[-4:], lam[-4:] ** 2, 1)
    assert abs(-icpt / slope - R_FOLD) < 1e-3


def test_branch_values_converge_like_h2(fold_path):
    # R = 1, 0.97, ..., 0.76 are on both paths (steps of 0.03 in R)
    coarse = vc.continuation(pc.problem, {"R": (1.0, 0.76)}, n=41, steps=8, certificate=False, predictor="previous")
    assert not coarse.lost and np.all(coarse.converged)
    fine = {round(p["R"], 12): v for p, v, ok in zip(fold_path.params, fold_path.value, fold_path.converged) if ok}
    ratios = []
    for p, v in zip(coarse.params, coarse.value):
        exact = pc.exact_value_for(p)
        e41, e81 = abs(v - exact), abs(fine[round(p["R"], 12)] - exact)
        assert e81 < 2e-4 * exact
        ratios.append(e41 / e81)
    assert len(ratios) == 9 and 3.9 < min(ratios) and max(ratios) < 4.1  # measured 3.9986-3.9999


def test_continuation_callable_path_and_bad_input(catenoids):
    res = vc.continuation(
        pc.problem, lambda t: {"R": 1.0 - 0.1 * t, "L": 0.5}, n=41, steps=2, certificate=False, guess=catenoids[41].f
    )
    assert not res.lost and res.parameter_name == "t" and np.allclose(res.t, [0, 0.5, 1])
    assert res.solution.params["R"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="path: key 'X'"):
        vc.continuation(pc.problem, {"X": (0, 1)}, n=41)
    with pytest.raises(ValueError, match="steps"):
        vc.continuation(pc.problem, {"R": (1, 0.9)}, n=41, steps=0)
    with pytest.raises(ValueError, match="problem: continuation needs"):
        vc.continuation(ho.problem, lambda t: None, n=41)
    with pytest.raises(TypeError, match="path"):
        vc.continuation(pc.problem, 3.0, n=41)


def test_integral_constraint_and_vector_unknown():
    from varcalc.problems import hanging_chain as hc

    # L = G + λ·H with the length multiplier: without λ the residual would be O(1)
    sol = vc.solve(hc.problem, n=41)
    x, r = vc.euler_lagrange_residual(sol)
    assert sol.multipliers["length"] > 1.0 and np.max(np.abs(r)) < 5e-3
    assert np.ptp(vc.first_integral(sol)[1]) < 1e-3
    # f ∈ R²: f'' + f = 0 componentwise; the residual has the unknown's shape
    p = vc.Problem(
        lambda f, df, x: 0.5 * jnp.sum(df**2) - 0.5 * jnp.sum(f**2),
        (0.0, 1.0),
        bc={"left": [1.0, 0.0], "right": [0.5, 1.0]},
    )
    sol = vc.solve(p, n=41)
    x, r = vc.euler_lagrange_residual(sol)
    assert r.shape == (41, 2) and np.max(np.abs(r)) < 1e-3
    assert np.ptp(vc.first_integral(sol)[1]) < 1e-4
