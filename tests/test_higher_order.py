"""Second-derivative integrands (Problem(order=2), C¹ cubic Hermite elements) on the catalog problems
beam, smoothing_spline and elastica: each against an exact or independent reference.

Compilation dominates (one JAX compile per integrand and grid, ~2 s), so solves are cached and the
grids are shared between tests: 5 compiled solves in all (beams n = 11 and 21: the two beams
share the integrand, their loads are params; smoothing spline on the data sites; elastica n = 21
and 41).  Not repeated here: the CLI's
smoothing spline (n = 121, a uniform grid containing the sites) gives the same spline.
"""

import importlib

import numpy as np
import pytest
from conventions import check_module_convention
from scipy.integrate import solve_bvp

import varcalc as vc

NAMES = ["beam", "smoothing_spline", "elastica"]
N_BEAM = (11, 21)
N_ELASTICA = (21, 41)


def load(name):
    return importlib.import_module(f"varcalc.problems.{name}")


_SOLVES = {}


def solve(key, problem, **kwargs):
    """vc.solve(problem, **kwargs), cached under `key`."""
    if key not in _SOLVES:
        _SOLVES[key] = vc.solve(problem, **kwargs)
    return _SOLVES[key]


def fitted_order(ns, errors):
    """Slope of log(error) against log(h), h = 1/(n-1) (least squares over the grids)."""
    h = 1.0 / (np.asarray(ns, dtype=float) - 1.0)
    return np.polyfit(np.log(h), np.log(np.asarray(errors)), 1)[0]


def gauss(a, b, cells=64, points=8):
    """Composite Gauss–Legendre nodes and weights on [a, b]."""
    t, w = np.polynomial.legendre.leggauss(points)
    e = np.linspace(a, b, cells + 1)
    lo, hi = e[:-1, None], e[1:, None]
    return (lo + (hi - lo) * (1 + t) / 2).ravel(), ((hi - lo) / 2 * w).ravel()


# -- the module convention ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_module_convention(name):
    mod = load(name)
    check_module_convention(mod, name)  # includes: exact() meets the Dirichlet values
    assert mod.problem.order == 2 and mod.grading is None
    assert np.asarray(mod.exact(np.linspace(*mod.problem.domain, 7))).shape == (7,)
    a, b = mod.problem.domain
    for end, xe in (("left", a), ("right", b)):  # ... and exact_slope() the slope conditions
        if end + "'" in mod.problem.bc and hasattr(mod, "exact_slope"):
            assert abs(float(mod.exact_slope(np.array([xe]))[0]) - mod.problem.bc[end + "'"]) <= 1e-14


# -- beam ----------------------------------------------------------------------------------------


def _beam_checks(f, fp, q, EI, L, J, bc):
    """f (a numpy Polynomial) solves EI f'''' = q (q a Polynomial), meets bc, and J = J[f]."""
    scale = np.abs(f.coef).max()
    # The 4th derivative multiplies the fitted leading coefficient by 4! = 24, so its rounding
    # (~1e-15 relative from the 9-point least-squares fit) is 24x that of f: 1e-14 alone failed by
    # 1.15e-14 with numpy 2.4 (before any solver code runs; this checks the closed form, not varcalc).
    np.testing.assert_allclose((EI * f.deriv(4) - q).coef, 0, atol=24 * 1e-14 * max(1, EI * scale))
    np.testing.assert_allclose(fp.coef, f.deriv().coef, rtol=1e-14, atol=1e-15)
    for (k, x0), v in bc.items():
        assert abs(f.deriv(k)(x0) - v) <= 1e-14 * max(1, scale)
    x, w = gauss(0, L, cells=4)
    assert np.sum(w * (0.5 * EI * f.deriv(2)(x) ** 2 - q(x) * f(x))) == pytest.approx(J, rel=1e-13)


def test_beam_exact_solutions():
    """The closed forms solve EI f'''' = q with their boundary conditions (the cantilever's free
    end: zero moment f'' and shear f''') and the stated minimum energies."""
    bm = load("beam")
    Pn = np.polynomial.Polynomial
    x = np.linspace(0, bm.L, 9)
    cant = Pn.fit(x, bm.exact(x), 4).convert()
    cant_p = Pn.fit(x, bm.exact_slope(x), 3).convert()
    L = bm.L
    for fit, ref in [(cant, bm.exact), (cant_p, bm.exact_slope)]:  # 9 points: a real check
        np.testing.assert_allclose(fit(x), ref(x), rtol=0, atol=1e-14)
    _beam_checks(cant, cant_p, Pn([bm.q]), bm.EI, L, bm.exact_value, {(0, 0): 0, (1, 0): 0, (2, L): 0, (3, L): 0})
    clamp = Pn.fit(x, bm.clamped_exact(x), 5).convert()
    clamp_p = Pn.fit(x, bm.clamped_exact_slope(x), 4).convert()
    for fit, ref in [(clamp, bm.clamped_exact), (clamp_p, bm.clamped_exact_slope)]:
        np.testing.assert_allclose(fit(x), ref(x), rtol=0, atol=1e-14)
    _beam_checks(
        clamp,
        clamp_p,
        Pn([0, bm.q0 / L]),
        bm.EI,
        L,
        bm.clamped_exact_value,
        {(0, 0): 0, (1, 0): 0, (0, L): 0, (1, L): 0},
    )


def _beam(kind, n):
    bm = load("beam")
    p = bm.problem if kind == "cantilever" else bm.make_problem("clamped")
    return p, solve(("beam", kind, n), p, n=n)


@pytest.mark.parametrize("kind, ns", [("cantilever", N_BEAM), ("clamped", N_BEAM[:1])])
def test_beam_nodal_values_are_exact(kind, ns):
    """Cubic Hermite elements are nodally exact for the beam (the Green's function of d⁴/dx⁴ is a
    C² piecewise cubic, so it lies in the element space, and the 4-point Gauss rule integrates the
    load term q v exactly): f and f' at the nodes match the exact polynomial to rounding, though f
    itself (quartic / quintic) is not in the space.  Measured: nodal errors 6e-17 and 2e-18."""
    bm = load("beam")
    slope = bm.exact_slope if kind == "cantilever" else bm.clamped_exact_slope
    for n in ns:
        p, sol = _beam(kind, n)
        assert sol.converged, sol.message
        assert sol.error() <= 1e-13 * np.abs(p.exact(sol.x)).max()
        assert np.abs(sol.slope - slope(sol.x)).max() <= 1e-13 * np.abs(slope(sol.x)).max()


def _hermite_d2(x, f, s, xq):
    """Second derivative at xq of the cubic Hermite interpolant of values f, slopes s at nodes x."""
    i = np.clip(np.searchsorted(x, xq) - 1, 0, x.size - 2)
    h = x[i + 1] - x[i]
    t = (xq - x[i]) / h
    return (
        (-6 + 12 * t) * f[i] + h * (-4 + 6 * t) * s[i] + (6 - 12 * t) * f[i + 1] + h * (-2 + 6 * t) * s[i + 1]
    ) / h**2


@pytest.mark.parametrize("kind", ["cantilever", "clamped"])
def test_beam_energy_error(kind):
    """With exact nodal values and slopes the discrete solution is the Hermite interpolant I_h f,
    and Galerkin orthogonality gives J_h - J = ½ EI ∫ (f'' - (I_h f)'')² > 0 exactly: O(h⁴).
    For the cantilever that is q² L h⁴ / (1440 EI): 1.389e-7 at n = 11; the clamped beam: 1.663e-6."""
    bm = load("beam")
    slope = bm.exact_slope if kind == "cantilever" else bm.clamped_exact_slope
    p, sol = _beam(kind, N_BEAM[0])
    # 4-point Gauss on 4 sub-cells of each element: exact for the degree-6 integrand below.
    xq, w = gauss(0.0, bm.L, cells=4 * (N_BEAM[0] - 1), points=4)
    d2 = np.polynomial.Polynomial.fit(xq, p.exact(xq), 5).convert().deriv(2)(xq)
    gap = 0.5 * bm.EI * np.sum(w * (d2 - _hermite_d2(sol.x, p.exact(sol.x), slope(sol.x), xq)) ** 2)
    assert sol.value - p.exact_value == pytest.approx(gap, rel=1e-6)
    assert gap > 0


def test_beam_cantilever_energy_order_4():
    """J_h - J = q² L h⁴ / (1440 EI) on n = 11 and 21 (measured relative deviation < 1e-8): the
    observed order log2(e_11 / e_21) is 4."""
    bm = load("beam")
    errors = [_beam("cantilever", n)[1].value - bm.exact_value for n in N_BEAM]
    for n, e in zip(N_BEAM, errors):
        h = bm.L / (n - 1)
        assert e == pytest.approx(bm.q**2 * bm.L * h**4 / (1440 * bm.EI), rel=1e-6)
    assert fitted_order(N_BEAM, errors) == pytest.approx(4.0, abs=1e-3)


def test_beam_load_as_params():
    """The load is a parameter: a new load reuses the compiled solver (the clamped beam above
    already did, on the cantilever's n = 11 grid), and the deflection scales with it."""
    bm = load("beam")
    sol = vc.solve(bm.problem, n=N_BEAM[0], params={"q": 2 * bm.q, "dq": 0.0})
    assert sol.converged, sol.message
    np.testing.assert_allclose(sol.f, 2 * bm.exact(sol.x), rtol=1e-13, atol=1e-16)


def test_beam_cantilever_between_nodes():
    """sol(x) is the cubic Hermite interpolant: error q h⁴ / (384 EI) at cell midpoints."""
    bm = load("beam")
    n = N_BEAM[0]
    sol = _beam("cantilever", n)[1]
    h = bm.L / (n - 1)
    xm = 0.5 * (sol.x[1:] + sol.x[:-1])
    err = bm.exact(xm) - np.asarray(sol(xm))
    np.testing.assert_allclose(err, bm.q * h**4 / (384 * bm.EI), rtol=1e-8)


# -- smoothing spline ----------------------------------------------------------------------------


def test_smoothing_spline_matches_scipy():
    """On the data sites as grid, varcalc's minimiser is scipy's make_smoothing_spline(x, y, lam)
    (the natural cubic smoothing spline lies in the Hermite space).  Measured differences: values
    1.3e-13, slopes 2.0e-13, between the sites 1.3e-13, J 6.7e-16 (J = 1.2643)."""
    ss = load("smoothing_spline")
    spl = ss.reference_spline()
    sol = solve(("smoothing_spline", "sites"), ss.problem, grid=ss.x_data)
    assert sol.converged, sol.message
    np.testing.assert_array_equal(sol.x, ss.x_data)
    assert np.abs(sol.f - spl(sol.x)).max() <= 1e-9
    assert np.abs(sol.slope - spl(sol.x, 1)).max() <= 1e-9
    xq = np.linspace(ss.x_data[0], ss.x_data[-1], 1001)  # between sites: both are the same cubic
    assert np.abs(np.asarray(sol(xq)) - spl(xq)).max() <= 1e-9
    assert sol.value == pytest.approx(ss.exact_value, rel=1e-12)  # J of scipy's spline


# -- elastica ------------------------------------------------------------------------------------


def _elastica_derivatives(theta, S):
    """y', y'', y''', y'''' of the elastica at tangent angle θ (θ' = -S √cos θ in arc length, so
    dθ/dx = -S / √cos θ)."""
    c, s = np.cos(theta), np.sin(theta)
    return (np.tan(theta), -S * c**-2.5, 2.5 * S**2 * s * c**-4, -2.5 * S**3 * (c**-3.5 + 4 * s**2 * c**-5.5))


def _graph_el(p, y2, y3, y4):
    return 2 * (1 + p**2) ** 2 * y4 - 20 * p * (1 + p**2) * y2 * y3 + 5 * (6 * p**2 - 1) * y2**3


def test_elastica_reference_solves_the_graph_equation():
    """The rectangular-elastica curve satisfies the Euler–Lagrange equation of the graph form
    (measured residual 6e-13 against terms of size 1e3), its derivatives agree with differences
    of exact(), and scipy's solve_bvp on that equation finds the same curve."""
    el = load("elastica")
    S = el.elastica_scale()
    th = np.linspace(-el.theta0, el.theta0, 201)
    d = _elastica_derivatives(th, S)
    assert np.abs(_graph_el(*d)).max() <= 1e-12 * np.abs(2 * (1 + d[0] ** 2) ** 2 * d[3]).max()
    x = np.linspace(0.05, 0.95, 19)
    dx = 1e-3
    stencil = [(-2, 1), (-1, -8), (1, 8), (2, -1)]
    fd1 = sum(c * el.exact(x + k * dx) for k, c in stencil) / (12 * dx)
    fd2 = sum(c * el.exact(x + k * dx) for k, c in [(-2, -1), (-1, 16), (0, -30), (1, 16), (2, -1)]) / (12 * dx**2)
    p, y2, _, _ = _elastica_derivatives(el.tangent_angle(x), S)
    np.testing.assert_allclose(fd1, p, atol=1e-10)
    np.testing.assert_allclose(el.exact_slope(x), p, atol=1e-15)
    np.testing.assert_allclose(fd2, y2, atol=1e-7)

    def rhs(x, u):
        y, p, a, b = u
        return np.vstack([p, a, b, (20 * p * (1 + p**2) * a * b - 5 * (6 * p**2 - 1) * a**3) / (2 * (1 + p**2) ** 2)])

    s0 = np.tan(el.theta0)
    xm = np.linspace(0, 1, 11)  # start from the small-slope parabola
    guess = np.vstack([s0 * (xm - xm**2), s0 * (1 - 2 * xm), -2 * s0 + 0 * xm, 0 * xm])
    res = solve_bvp(
        rhs, lambda ua, ub: np.array([ua[0], ua[1] - s0, ub[0], ub[1] + s0]), xm, guess, tol=1e-8, max_nodes=10000
    )
    assert res.success, res.message
    xs = np.linspace(0, 1, 41)
    assert np.abs(res.sol(xs)[0] - el.exact(xs)).max() <= 1e-8


def test_elastica_reference_is_a_minimum():
    """J[y] = S² (by quadrature in x), and perturbations y + ε φ with φ = φ' = 0 at both ends
    raise the energy (second difference > 0, first difference O(ε³): stationary)."""
    el = load("elastica")
    S = el.elastica_scale()
    x, w = gauss(0.0, 1.0, cells=32)
    p, y2, _, _ = _elastica_derivatives(el.tangent_angle(x), S)
    J = lambda dp, d2: np.sum(w * (y2 + d2) ** 2 / (1 + (p + dp) ** 2) ** 2.5)
    assert J(0, 0) == pytest.approx(el.exact_value, rel=1e-12)
    # φ = sin²(π x) sin(k π x) (+ a shift for asymmetric modes): φ(0) = φ'(0) = φ(1) = φ'(1) = 0.
    for k, shift in [(0, 0.5), (1, 0.0), (2, 0.0), (3, 0.3)]:
        u, dup = np.sin(np.pi * x) ** 2, np.pi * np.sin(2 * np.pi * x)
        d2u = 2 * np.pi**2 * np.cos(2 * np.pi * x)
        a = k * np.pi * x + shift * np.pi
        v, dv, d2v = np.sin(a), k * np.pi * np.cos(a), -((k * np.pi) ** 2) * np.sin(a)
        phi1, phi2 = dup * v + u * dv, d2u * v + 2 * dup * dv + u * d2v
        eps = 1e-4
        Jp, Jm, J0 = J(eps * phi1, eps * phi2), J(-eps * phi1, -eps * phi2), J(0, 0)
        first, second = (Jp - Jm) / (2 * eps), (Jp + Jm - 2 * J0) / eps**2
        assert second > 100  # measured 281, 474, 1664, 5045 for the four modes
        # The first variation vanishes: what remains is the O(ε²) error of the difference
        # quotient (measured 2.8e-6, 4.6e-6, 0, 3.8e-5: it shrinks 100x per 10x smaller ε).
        assert abs(first) <= 1e-6 * second


def test_elastica_convergence_order_4():
    """Nodal values and slopes and the energy converge at order 4 from n = 21 to 41 (measured:
    nodal error 2.32e-6 -> 1.48e-7, order 3.965; slopes 3.01e-6 -> 1.93e-7, 3.966; energy
    4.77e-6 -> 3.02e-7, 3.981; from n = 11 the orders are 3.87, 3.87, 3.93: not yet asymptotic)."""
    el = load("elastica")
    sols = [solve(("elastica", n), el.problem, n=n) for n in N_ELASTICA]
    assert all(s.converged for s in sols), [s.message for s in sols]
    nodal = [s.error() for s in sols]
    slope = [np.abs(s.slope - el.exact_slope(s.x)).max() for s in sols]
    value = [abs(s.value_error()) for s in sols]
    for errors in (nodal, slope, value):
        assert fitted_order(N_ELASTICA, errors) >= 3.9
    assert nodal[-1] <= 2e-7
    assert all(s.value > el.exact_value for s in sols)  # conforming; quadrature error O(h⁸)
