"""The problem catalog (``problems/``, installed as ``varcalc.problems``): each module solves, converges
to its exact solution at second order, and the brachistochrone meets its accuracy target.

Compilation dominates the run time (JAX compiles the Newton loop once per integrand and array
shape, ~1-3 s each on 2 cores), so solves are cached per (problem, grid, quadrature) and the
grid sizes below are chosen so that tests share them: the default ``n`` of every module is one
of the grids of its convergence study.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conventions import check_module_convention
from scipy.integrate import quad

import varcalc as vc

NAMES = ["brachistochrone", "catenoid", "natural_boundary", "harmonic_oscillator", "sphere_geodesic"]
SMOOTH = ["catenoid", "natural_boundary", "harmonic_oscillator", "sphere_geodesic"]

# Nested uniform grids (n, 2n-1, 4n-3: h halves) for the smooth problems; the last one is their
# default n.  Measured orders are 2.000 +- 0.003 on these grids for both errors.
N_SMOOTH = (41, 81, 161)
# The brachistochrone on graded_grid(power=2): the J error's observed order creeps up slowly
# (1.89 from n = 21 to 41, 1.91 from 161 to 321, 1.92 from 1281 to 2561: the borderline grading
# for f ~ x^(2/3)), so it is fitted on larger grids; the last one is the default n and the
# accuracy-target grid.
N_BRACH = (161, 321, 641)
N_BRACH_TARGET = 641  # <= 1000 nodes, as the target requires
# power=3 grading restores order 2 for the nodal error too (error ~ h1^(2/3) in the first cell).
N_BRACH_P3 = (41, 81, 161)
# End points (X, Y) of the accuracy target: before, near and after the cycloid's lowest point.
ENDPOINTS = [(1.0, 1.0), (1.0, 0.6), (1.0, 0.3)]

ORDER_MIN = 1.9  # required observed order of a second-order method (measured 2.000 where smooth)


def load(name):
    return importlib.import_module(f"varcalc.problems.{name}")


_SOLVES = {}


def solve(name, n, *, problem=None, power=None, quadrature="auto"):
    """Solve catalog problem ``name`` (or a variant ``problem`` of it) from the default guess on n
    nodes: graded as the module says (or with ``power``), else uniform.  Cached."""
    mod = load(name)
    problem = mod.problem if problem is None else problem
    if power is None and mod.grading is not None:
        power = mod.grading["power"]
    bc = tuple((k, tuple(np.ravel(v))) for k, v in problem.bc.items())
    key = (name, problem.domain, bc, n, power, quadrature)
    if key not in _SOLVES:
        if power is None:
            _SOLVES[key] = vc.solve(problem, n=n, quadrature=quadrature)
        else:
            end = (mod.grading or {}).get("end", "left")
            grid = vc.graded_grid(problem.domain, n, power=power, end=end)
            _SOLVES[key] = vc.solve(problem, grid=grid, quadrature=quadrature)
    return _SOLVES[key]


def fitted_order(ns, errors):
    """Slope of log(error) against log(h), h = 1/(n-1) (a least-squares fit over all grids)."""
    h = 1.0 / (np.asarray(ns, dtype=float) - 1.0)
    return np.polyfit(np.log(h), np.log(np.asarray(errors)), 1)[0]


# -- the module convention (the CLI relies on it) ----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_module_convention(name):
    check_module_convention(load(name), name)


@pytest.mark.parametrize("name", SMOOTH)
def test_exact_value_is_the_functional_of_exact(name):
    """The closed-form exact_value equals ∫ G(f*, f*', x) dx (checks the derivations)."""
    p = load(name).problem
    a, b = p.domain
    # 40-point Gauss-Legendre: the integrands along f* are entire, so this is exact to rounding.
    t, w = np.polynomial.legendre.leggauss(40)
    x, w = a + (b - a) * (1 + t) / 2, w * (b - a) / 2
    d = 1e-3  # f*' by the 5-point central difference: error ~ d^4 |f*^(5)| / 30 < 1e-12 here
    stencil = [(-2, 1), (-1, -8), (1, 8), (2, -1)]
    df = sum(c * np.asarray(p.exact(x + k * d)) for k, c in stencil) / (12 * d)
    G = jax.vmap(p.integrand) if p.is_vector else jnp.vectorize(p.integrand)
    val = float(np.sum(w * np.asarray(G(jnp.asarray(p.exact(x)), jnp.asarray(df), jnp.asarray(x)))))
    assert val == pytest.approx(p.exact_value, rel=1e-10, abs=1e-12)  # limited by the f*' stencil


# -- (a) each problem solves at its default ---------------------------------------------------

# Accuracy at the default n (measured): nodal error 2.8e-5 (harmonic_oscillator) at most among the
# smooth problems; the brachistochrone's travel time 5.7e-7 relative.
DEFAULT_NODAL_TOL = 1e-4
DEFAULT_BRACH_REL_T = 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_default_solve_converges(name):
    mod = load(name)
    assert mod.n in (N_SMOOTH if name in SMOOTH else N_BRACH)  # shares the compiled code
    sol = solve(name, mod.n)
    assert sol.converged, sol.message
    assert sol.x.size == mod.n
    if name == "brachistochrone":
        assert sol.value_error() / mod.problem.exact_value <= DEFAULT_BRACH_REL_T
    else:
        assert sol.error() <= DEFAULT_NODAL_TOL


# -- (b) second-order convergence --------------------------------------------------------------


@pytest.mark.parametrize("name", SMOOTH)
def test_order_smooth(name):
    sols = [solve(name, n) for n in N_SMOOTH]
    assert all(s.converged for s in sols)
    nodal = [s.error() for s in sols]
    value = [s.value_error() for s in sols]
    assert fitted_order(N_SMOOTH, nodal) >= ORDER_MIN
    assert fitted_order(N_SMOOTH, value) >= ORDER_MIN


def test_order_brachistochrone_graded_power2():
    """Travel-time error on graded_grid(power=2): measured fitted order 1.913 on N_BRACH."""
    sols = [solve("brachistochrone", n, power=2.0) for n in N_BRACH]
    assert all(s.converged for s in sols)
    assert fitted_order(N_BRACH, [s.value_error() for s in sols]) >= ORDER_MIN
    # The nodal error converges at order 4/3 only: the first cell, h1 ~ h^2, sees f ~ x^(2/3).
    # Measured 1.334.
    assert fitted_order(N_BRACH, [s.error() for s in sols]) == pytest.approx(4 / 3, abs=0.05)


def test_order_brachistochrone_graded_power3():
    """power=3 grading: order 2 for both the time and the nodal error (measured 2.000, 2.002)."""
    sols = [solve("brachistochrone", n, power=3.0) for n in N_BRACH_P3]
    assert all(s.converged for s in sols)
    assert fitted_order(N_BRACH_P3, [s.value_error() for s in sols]) >= ORDER_MIN
    assert fitted_order(N_BRACH_P3, [s.error() for s in sols]) >= ORDER_MIN


# -- (c) the discrete minimum is an upper bound --------------------------------------------------

# Where J_h(U) >= J(u_h) for every trial function u_h (quadrature exact or overestimating), the
# discrete minimum is >= the exact one.  Brachistochrone: accurate quadrature (relative 1e-14);
# catenoid: G is linear in f with f' constant per cell, so the midpoint rule is exact;
# harmonic_oscillator: the midpoint rule undercounts ∫ f², which enters with a minus sign;
# sphere_geodesic: sin²θ is concave for θ in [π/4, π/2], so the midpoint rule overcounts it.
# Not natural_boundary: there the midpoint rule undercounts ∫ ½ f² and J_h < J* (measured
# J_h - J* = -7.0e-7 at n = 161).
UPPER_BOUND = ["brachistochrone", "catenoid", "harmonic_oscillator", "sphere_geodesic"]
ROUNDING = 1e-12  # relative slack for the rounding of J_h


@pytest.mark.parametrize("name", UPPER_BOUND)
def test_value_is_upper_bound(name):
    ns = N_SMOOTH if name in SMOOTH else N_BRACH
    power = 2.0 if name == "brachistochrone" else None  # the grids of the order test (compiled)
    for n in ns:
        sol = solve(name, n, power=power)
        ev = load(name).problem.exact_value
        assert sol.value >= ev - ROUNDING * abs(ev)


# -- problem-specific checks -------------------------------------------------------------------


@pytest.mark.parametrize("X, Y", ENDPOINTS)
def test_brachistochrone_target(X, Y):
    """Travel time to 1e-6 relative with <= 1000 nodes (graded, power 2) from the default guess.

    Measured at n = 641: 3.7e-7 (1, 1), 5.7e-7 (1, 0.6), 8.1e-7 (1, 0.3).
    """
    b = load("brachistochrone")
    p = b.make_problem(X, Y)
    sol = solve("brachistochrone", N_BRACH_TARGET, problem=p, power=2.0)
    assert sol.converged, sol.message
    T = b.cycloid_time(X, Y)
    assert abs(sol.value - T) / T <= 1e-6


def test_brachistochrone_midpoint_rule_is_wrong():
    """The one-point rule undercounts the singular first cell; the discrete minimiser exploits it
    and the time comes out 8.3 % too low (measured at n = 641, (1, 0.6)): hence the accurate rules."""
    p = load("brachistochrone").problem
    sol = solve("brachistochrone", N_BRACH_TARGET, quadrature="midpoint")
    assert sol.converged
    assert (sol.value - p.exact_value) / p.exact_value < -0.01  # too low by more than 1 %


def test_cycloid_time_and_shape():
    b = load("brachistochrone")
    for X, Y in ENDPOINTS:
        R, theta = b.cycloid(X, Y)
        # The cycloid passes through (X, Y); its lowest point (θ = π) comes before X iff X/Y > π/2.
        assert R * (theta - np.sin(theta)) == pytest.approx(X, rel=1e-14)
        assert R * (1 - np.cos(theta)) == pytest.approx(Y, rel=1e-14)
        assert (theta > np.pi) == (X / Y > np.pi / 2)

        # T = ∫ sqrt((1 + f'²) / (2 g f)) dx along the cycloid, parametrised by θ (smooth in θ).
        def dT(t):
            f = R * (1 - np.cos(t))
            fp = np.sin(t) / (1 - np.cos(t))
            return np.sqrt((1 + fp**2) / (2 * b.g * f)) * R * (1 - np.cos(t))

        T = quad(dT, 0, theta, epsabs=1e-14, epsrel=1e-13)[0]
        assert b.cycloid_time(X, Y) == pytest.approx(T, rel=1e-12)
        # exact() inverts x(θ) to rounding, including near the start where x ~ R θ³ / 6.
        t = np.concatenate([np.geomspace(1e-6, 1e-2, 20), np.linspace(0.02, theta, 50)])
        xs, fs = R * (t - np.sin(t)), R * (1 - np.cos(t))
        p = b.make_problem(X, Y)
        np.testing.assert_allclose(p.exact(xs), fs, rtol=1e-12, atol=1e-15)


def test_catenoid_branches():
    """Two catenaries span the rings; the default guess (f = R) finds the stable (larger c) one,
    and even a start at the unstable one leaves the saddle (negative Hessian eigenvalue) for it."""
    cat = load("catenoid")
    assert cat.c > cat.c_unstable > 0
    for c in (cat.c, cat.c_unstable):
        assert c * np.cosh(cat.L / c) == pytest.approx(cat.R, rel=1e-14)
    # The catenoid beats the two flat disks (Goldschmidt solution), area 2 π R².
    assert cat.problem.exact_value < 2 * np.pi * cat.R**2
    n = N_SMOOTH[0]
    sol = vc.solve(cat.problem, n=n, guess=lambda x: cat.c_unstable * np.cosh(x / cat.c_unstable))
    assert sol.converged, sol.message
    assert sol.stats["negative"][0] >= 1  # started at a saddle (1 negative eigenvalue, measured)
    np.testing.assert_allclose(sol.f, solve("catenoid", n).f, rtol=0, atol=1e-10)  # same minimiser


def test_natural_boundary_condition():
    """The free end comes out with f'(1) = 0 (the natural condition), though no bc imposes it."""
    nb = load("natural_boundary")
    assert nb.problem.free_ends == ("right",)
    d = 1e-5
    dexact = lambda x: (nb.exact(x + d) - nb.exact(x - d)) / (2 * d)  # central difference, error ~1e-10
    assert abs(dexact(1.0)) < 1e-9
    errors = []
    for n in N_SMOOTH:
        sol = solve("natural_boundary", n)
        h = sol.x[-1] - sol.x[-2]
        slope = (sol.f[-1] - sol.f[-2]) / h
        # The last cell's slope ~ f'(1 - h/2) = -f''(1) h/2 + O(h^2), about -0.011 h: small, and ...
        assert abs(slope) <= 0.02 * h  # measured 0.0142 h, 0.0125 h, 0.0116 h
        # ... it matches the exact derivative at the cell's midpoint to O(h^2) (superconvergence).
        errors.append(abs(slope - dexact(1.0 - h / 2)))
    assert fitted_order(N_SMOOTH, errors) >= ORDER_MIN


def test_sphere_geodesic_is_a_great_circle_at_constant_speed():
    sg = load("sphere_geodesic")
    sol = solve("sphere_geodesic", N_SMOOTH[-1])
    th, ph = sol.f[:, 0], sol.f[:, 1]
    p = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=1)
    normal = np.cross(sg._p0, sg._p1)
    normal /= np.linalg.norm(normal)
    assert np.max(np.abs(p @ normal)) < 1e-5  # in the great circle's plane (measured 2.2e-7)
    # Chord angles between neighbouring nodes are equal (constant speed): measured spread 6.8e-6.
    steps = np.arccos(np.clip(np.sum(p[1:] * p[:-1], axis=1), -1, 1))
    assert np.ptp(steps) / np.mean(steps) < 1e-4
    assert sol.value == pytest.approx(sg.alpha**2, rel=1e-5)  # E = α² (measured 2.6e-6 rel.)
