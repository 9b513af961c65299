"""Free end points, saddles, matrix unknowns and parameters: catalog problems with exact references.

* brachistochrone_vertical — free end depth (natural boundary condition, cycloid arrives level);
* brachistochrone_slanted — free end on a line (vc.OnCurve, transversality: right angle);
* harmonic_oscillator_long — Hamilton's principle past a conjugate point: a saddle, found with
  mode="stationary" and refused by mode="minimize";
* spd_geodesic — matrix-valued unknown (components=(2, 2)), affine-invariant geodesic;
* parametric_catenoid — params: one compiled solver for several parameter values.

Each module's reference is checked independently of the solver first (quadrature of the
functional along the exact extremal, direct minimisation, scipy matrix functions), then the
solver against it: errors on nested grids n and 2n - 1 (h halves) and observed orders.
Solves are cached per (name, grid) and the grids are shared, since compilation dominates.
"""

import importlib
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conventions import check_module_convention
from scipy.integrate import quad
from scipy.linalg import fractional_matrix_power, logm
from scipy.optimize import minimize_scalar

import varcalc as vc

NAMES = [
    "brachistochrone_vertical",
    "brachistochrone_slanted",
    "harmonic_oscillator_long",
    "spd_geodesic",
    "parametric_catenoid",
]
NS = (21, 41)  # nested grids: h halves (one compilation each: ~3-8 s on 2 cores)
ORDER_MIN = 1.9


def load(name):
    return importlib.import_module(f"varcalc.problems.{name}")


def observed_order(errors, ns=NS):
    """log2 of the error ratio between n and 2n - 1 nodes (h halves)."""
    (e1, e2), (n1, n2) = errors, ns
    return float(np.log(e1 / e2) / np.log((n2 - 1) / (n1 - 1)))


_SOLVES = {}


def solve(name, n, *, problem=None, power="module", key=None, **kwargs):
    """Solve catalog problem ``name`` (or a variant ``problem``, with a distinct ``key``) on n
    nodes: graded as the module says (or with ``power``; None = uniform).  Cached."""
    mod = load(name)
    problem = mod.problem if problem is None else problem
    if power == "module":
        power = mod.grading["power"] if mod.grading else None
    ck = (name, key, n, power, tuple(sorted(kwargs.items(), key=lambda kv: kv[0])).__repr__())
    if ck not in _SOLVES:
        guess = getattr(mod, "guess", None)
        if power is None:
            _SOLVES[ck] = vc.solve(problem, n=n, guess=guess, **kwargs)
        else:
            grid = vc.graded_grid(problem.domain, n, power=power, end="left")
            _SOLVES[ck] = vc.solve(problem, grid=grid, guess=guess, **kwargs)
    return _SOLVES[ck]


def gauss_value(problem, exact, a, b, *, params=None, points=40, d=1e-4):
    """∫_a^b G(f*, f*', x) dx by Gauss–Legendre, f*' by a 5-point central difference (error
    ~ d⁴ |f*⁽⁵⁾| / 30).  For entire integrands along f*: exact to ~1e-12."""
    t, w = np.polynomial.legendre.leggauss(points)
    x, w = a + (b - a) * (1 + t) / 2, w * (b - a) / 2
    stencil = [(-2, 1), (-1, -8), (1, 8), (2, -1)]
    df = sum(c * np.asarray(exact(x + k * d)) for k, c in stencil) / (12 * d)
    f = np.asarray(exact(x))
    G = problem.integrand if params is None else (lambda f, df, x: problem.integrand(f, df, x, params))
    values = jax.jit(jax.vmap(G))(jnp.asarray(f), jnp.asarray(df), jnp.asarray(x))
    return float(np.sum(w * np.asarray(values)))


# -- the module convention (the CLI relies on it) ----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_module_convention(name):
    check_module_convention(load(name), name)


# -- 1. brachistochrone to a vertical line -------------------------------------------------------


def _cycloid_time_by_quad(R, theta_end, g):
    """T = ∫ ds / sqrt(2 g f) along the cycloid, parametrised by θ (smooth in θ)."""

    def dT(t):
        ds = 2.0 * R * abs(np.sin(0.5 * t))  # |(x', f')| = R sqrt((1 - cos)² + sin²)
        return ds / np.sqrt(2.0 * g * R * (1 - np.cos(t)))

    return quad(dT, 0.0, theta_end, epsabs=1e-14, epsrel=1e-13)[0]


def test_vertical_reference():
    m = load("brachistochrone_vertical")
    assert m.exact(np.array([m.X]))[0] == pytest.approx(2 * m.X / np.pi, rel=1e-14)
    assert m.exact_value == pytest.approx(np.sqrt(np.pi * m.X / m.g), rel=1e-14)
    assert _cycloid_time_by_quad(m.R, m.theta_end, m.g) == pytest.approx(m.exact_value, rel=1e-12)
    # Independently: the fastest point-to-point cycloid to the line x = X.
    b = load("brachistochrone")
    r = minimize_scalar(lambda Y: b.cycloid_time(m.X, Y), bounds=(0.1, 2.0), method="bounded", options={"xatol": 1e-10})
    assert r.x == pytest.approx(m.end_depth, abs=1e-6)
    assert r.fun == pytest.approx(m.exact_value, rel=1e-12)


def test_vertical_solves_with_order_2():
    """Free right end, graded power 3: nodal error (incl. the free end depth) and time at order 2.

    Measured: nodal (= end depth) 8.53e-4, 2.14e-4 (order 2.00), time 1.59e-4, 3.96e-5 (2.00).
    """
    m = load("brachistochrone_vertical")
    sols = [solve("brachistochrone_vertical", n) for n in NS]
    for s in sols:
        assert s.converged, s.message
        assert s.x[-1] == m.X  # the line is at a fixed abscissa: the grid is not moved
    nodal = [s.error() for s in sols]
    end = [abs(s.f[-1] - m.end_depth) for s in sols]
    time = [s.value_error() for s in sols]
    assert nodal[-1] < 5e-4 and time[-1] / m.exact_value < 2e-4
    for e in (nodal, end, time):
        assert observed_order(e) >= ORDER_MIN
    # Natural boundary condition: the last cell's slope ~ f'(X - h/2) = -f''(X) h / 2 = O(h).
    s = sols[-1]
    h = s.x[-1] - s.x[-2]
    assert abs((s.f[-1] - s.f[-2]) / h) < h


# -- 2. brachistochrone to a slanted line ---------------------------------------------------------

LINES = [(1.0, 1.0, 1.0), (2.0, -1.0, 1.0), (1.0, 2.0, 1.0)]  # θ_end = π/2, > π, < π/2


@pytest.mark.parametrize("line", LINES)
def test_slanted_reference_is_the_fastest_point_on_the_line(line):
    """cycloid_to_line (right angle + on the line) against a direct 1-D minimisation of the
    point-to-point cycloid time over the end points of the line."""
    m, b = load("brachistochrone_slanted"), load("brachistochrone")
    a_, b_, c_ = line
    R, theta, x_end, f_end = m.cycloid_to_line(*line)
    assert a_ * x_end + b_ * f_end == pytest.approx(c_, rel=1e-14)
    T = theta * np.sqrt(R / m.g)
    assert _cycloid_time_by_quad(R, theta, m.g) == pytest.approx(T, rel=1e-12)
    # End points (x, (c - a x) / b) on the line, x in (0, x_max) with f > 0.
    xmax = c_ / a_ if b_ > 0 else 10.0
    xmin = 0.0 if b_ > 0 else c_ / a_
    r = minimize_scalar(
        lambda x: b.cycloid_time(x, (c_ - a_ * x) / b_),
        bounds=(xmin + 1e-9, xmax - 1e-9),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert r.x == pytest.approx(x_end, abs=1e-6)
    assert r.fun == pytest.approx(T, rel=1e-12)
    # Transversality for G = ds/v and φ = a x + b f - c: f'(x_end) = b / a (normal direction).
    assert 1.0 / np.tan(theta / 2) == pytest.approx(b_ / a_, rel=1e-13)


def _slope_angle_deg(sol, a, b):
    """Angle between the last cell's chord and the line a x + b f = c, in degrees."""
    t = np.array([sol.x[-1] - sol.x[-2], sol.f[-1] - sol.f[-2]])
    u = np.array([b, -a])  # along the line
    return np.degrees(np.arccos(abs(t @ u) / (np.linalg.norm(t) * np.linalg.norm(u))))


def test_slanted_solves_with_order_2():
    """x + f = 1 via vc.OnCurve: nodal error, end abscissa, time at order 2; right angle.

    Measured: nodal 3.33e-4, 8.33e-5; end x_b 1.66e-4, 4.15e-5; time 2.59e-5, 6.46e-6 (all 2.00).
    """
    m = load("brachistochrone_slanted")
    a, b, c = m.LINE
    sols = [solve("brachistochrone_slanted", n) for n in NS]
    for s in sols:
        assert s.converged, s.message
        assert s.end == pytest.approx(s.x[-1], abs=1e-15)
        assert a * s.x[-1] + b * s.f[-1] == pytest.approx(c, abs=1e-10)  # the end is on the line
        # sol.transversality evaluates (G - f' G_f') φ_f - G_f' φ_x with f'(x_b) from the parabola
        # through the last three nodes, an O(h²) estimate.
        assert abs(s.transversality) < (s.x[-1] - s.x[-2]) ** 2
    nodal = [s.error() for s in sols]
    end = [abs(s.end - m.x_end) for s in sols]
    time = [s.value_error() for s in sols]
    print("slanted nodal", nodal, "end", end, "time", time, "transversality", [s.transversality for s in sols])
    assert observed_order([abs(s.transversality) for s in sols]) >= ORDER_MIN
    assert nodal[-1] < 2e-4 and end[-1] < 2e-4 and time[-1] / m.exact_value < 3e-5
    for e in (nodal, end, time):
        assert observed_order(e) >= ORDER_MIN, (nodal, end, time)
    # Right angle: the last chord's slope is f'(x_end - h/2) + O(h²), f'' = -π/2 there, so the
    # angle is off 90° by O(h); compare with the exact chord too (order 2).
    angles = [_slope_angle_deg(s, a, b) for s in sols]
    print("slanted angles", angles)
    assert abs(angles[-1] - 90.0) < 1.0
    exact_angle = []
    for s in sols:
        xs = s.x[-2:]
        fs = m.exact(xs)
        t = np.array([xs[1] - xs[0], fs[1] - fs[0]])
        exact_angle.append(
            np.degrees(np.arccos(abs(t @ np.array([b, -a])) / (np.linalg.norm(t) * np.sqrt(a * a + b * b))))
        )
    dev = [abs(x - y) for x, y in zip(angles, exact_angle)]
    assert observed_order(dev) >= 1.5, dev


# -- 3. harmonic oscillator past the first conjugate point ---------------------------------------


def test_oscillator_long_reference():
    m = load("harmonic_oscillator_long")
    p = m.problem
    assert gauss_value(p, m.exact, 0.0, m.T) == pytest.approx(p.exact_value, rel=1e-10)
    t = np.linspace(0.1, 3.9, 9)
    d = 1e-3
    f2 = (m.exact(t + d) - 2 * m.exact(t) + m.exact(t - d)) / d**2
    np.testing.assert_allclose(f2 + m.omega**2 * m.exact(t), 0, atol=1e-6)  # f'' + ω² f = 0
    assert m.conjugate_points() == 1 and m.conjugate_points(7.0) == 2


def test_oscillator_long_stationary_order_2():
    """mode="stationary" finds the saddle; nodal and action errors at order 2 (midpoint rule).

    The discrete second variation has floor(ωT/π) = 1 negative eigenvalue.
    """
    m = load("harmonic_oscillator_long")
    sols = [solve("harmonic_oscillator_long", n, mode="stationary") for n in NS]
    for s in sols:
        assert s.converged, s.message
        assert s.status == vc.Status.SUCCESS
        assert s.negative == m.conjugate_points()
    nodal = [s.error() for s in sols]
    value = [s.value_error() for s in sols]
    print("oscillator nodal", nodal, "value", value)
    assert nodal[-1] < 1e-2  # measured 1.82e-2, 4.53e-3; action 1.17e-2, 2.91e-3
    assert observed_order(nodal) >= ORDER_MIN and observed_order(value) >= ORDER_MIN


def test_oscillator_long_minimize_does_not_converge():
    """mode="minimize" (the default) must not report the saddle as a minimum.  From the default
    guess the action is unbounded below along the negative direction: Newton with a shifted
    Hessian runs downhill (status MAX_ITERATIONS, measured), and sol.negative says why."""
    m = load("harmonic_oscillator_long")
    s = solve("harmonic_oscillator_long", NS[0], mode="minimize")
    assert not s.converged
    assert s.status != vc.Status.SUCCESS, s.message
    assert s.negative >= 1
    assert s.value < m.problem.exact_value  # went downhill, past the saddle's value


def test_oscillator_long_minimize_at_the_saddle_says_saddle():
    """Started at the discrete saddle itself (gradient ~ 0), "minimize" must say SADDLE and
    suggest mode="stationary" (API of issue 3)."""
    m = load("harmonic_oscillator_long")
    saddle = solve("harmonic_oscillator_long", NS[0], mode="stationary")
    s = vc.solve(m.problem, n=NS[0], guess=saddle.f, mode="minimize")
    assert not s.converged
    assert s.status == vc.Status.SADDLE, (s.status, s.message)
    assert "stationary" in s.message
    assert s.negative == 1


def test_oscillator_two_conjugate_points():
    """T = 7 (2π < 7 < 3π): two negative directions; same integrand and n, so no new compile."""
    m = load("harmonic_oscillator_long")
    p = m.make_problem(7.0)
    s = solve("harmonic_oscillator_long", NS[-1], problem=p, key="T=7", mode="stationary")
    assert s.converged, s.message
    assert s.negative == 2
    assert s.error() < 0.1  # measured 0.038 (h = 7/40)


# -- 4. geodesic between SPD matrices --------------------------------------------------------------


def _tr_sq(F, V):
    """The textbook integrand tr((F⁻¹F')²) (a saddle off the symmetric matrices)."""
    X = jnp.linalg.solve(F, V)
    return jnp.trace(X @ X)


def test_spd_reference():
    m = load("spd_geodesic")
    A, B = m.A, m.B
    Ah = fractional_matrix_power(A, 0.5).real
    Aih = np.linalg.inv(Ah)
    M = Aih @ B @ Aih
    t = np.linspace(0, 1, 9)
    ref = np.array([Ah @ fractional_matrix_power(M, s).real @ Ah for s in t])
    np.testing.assert_allclose(m.exact(t), ref, rtol=0, atol=1e-13)
    assert m.exact_value == pytest.approx(np.sum(logm(M).real ** 2), rel=1e-12)
    assert gauss_value(m.problem, m.exact, 0.0, 1.0) == pytest.approx(m.exact_value, rel=1e-10)
    # Constant speed: G(F*, F*') = d(A, B)² at every t.
    F, d = m.exact(t[2:3])[0], 1e-4
    dF = (m.exact(t[2:3] + d)[0] - m.exact(t[2:3] - d)[0]) / (2 * d)
    assert float(m.integrand(F, dF, 0.0)) == pytest.approx(m.exact_value, rel=1e-7)


def test_spd_integrand_derivatives_match_matrix_calculus():
    """Second directional derivative of G = tr(P V P Vᵀ), P = F⁻¹, along (E, W), by jax.jvp
    (as varcalc differentiates) against the hand formula with dP = -P E P, d²P = 2 P E P E P."""
    m = load("spd_geodesic")
    rng = np.random.default_rng(3)
    F = m.exact(np.array([0.3]))[0] + 0.1 * rng.standard_normal((2, 2))  # not symmetric
    V, E, W = (rng.standard_normal((2, 2)) for _ in range(3))
    G = lambda s: m.integrand(F + s * E, V + s * W, 0.0)
    d1 = lambda s: jax.jvp(G, (s,), (1.0,))[1]
    d2 = lambda s: jax.jvp(d1, (s,), (1.0,))[1]
    # One jit: eager AD would compile every primitive separately (~10 s on 2 cores).
    d1_ad, d2_ad = jax.jit(lambda: (d1(0.0), d2(0.0)))()
    P = np.linalg.inv(F)
    dP, d2P = -P @ E @ P, 2 * P @ E @ P @ E @ P
    tr = np.trace
    d1_hand = tr(dP @ V @ P @ V.T) + tr(P @ W @ P @ V.T) + tr(P @ V @ dP @ V.T) + tr(P @ V @ P @ W.T)
    d2_hand = (
        tr(d2P @ V @ P @ V.T)
        + tr(P @ V @ d2P @ V.T)
        + 2
        * (
            tr(dP @ W @ P @ V.T)
            + tr(dP @ V @ dP @ V.T)
            + tr(dP @ V @ P @ W.T)
            + tr(P @ W @ dP @ V.T)
            + tr(P @ W @ P @ W.T)
            + tr(P @ V @ dP @ W.T)
        )
    )
    assert float(d1_ad) == pytest.approx(d1_hand, rel=1e-12)
    assert float(d2_ad) == pytest.approx(d2_hand, rel=1e-12)
    # On symmetric F, F' it is tr((F⁻¹F')²); transposing F leaves it unchanged.
    S, Vs = F + F.T, V + V.T
    vals = jax.jit(
        lambda: (m.integrand(S, Vs, 0.0), _tr_sq(S, Vs), m.integrand(F.T, V.T, 0.0), m.integrand(F, V, 0.0))
    )()
    assert float(vals[0]) == pytest.approx(float(vals[1]), rel=1e-13)
    assert float(vals[2]) == pytest.approx(float(vals[3]), rel=1e-13)


def test_spd_textbook_integrand_would_be_a_saddle():
    """Why the module writes tr(F⁻¹F'F⁻¹F'ᵀ): with tr((F⁻¹F')²) over general 2×2 matrices the
    geodesic is still stationary, but antisymmetric perturbations have negative second variation
    (tr(Y²) = -‖Y‖² for antisymmetric Y), so "minimize" would call it a saddle.  Midpoint
    discretisation at the exact nodes, n = 7: gradients ~ 0, second derivative along an
    antisymmetric bump at the middle node > 0 for ours, < 0 for the textbook form."""
    m = load("spd_geodesic")
    n = 7
    x = np.linspace(0.0, 1.0, n)
    F0, h = jnp.asarray(m.exact(x)), x[1] - x[0]

    def energy(G):
        def J(u):
            F = jnp.concatenate([F0[:1], u.reshape(-1, 2, 2), F0[-1:]])
            Fm, dF = 0.5 * (F[1:] + F[:-1]), (F[1:] - F[:-1]) / h
            return h * jnp.sum(jax.vmap(lambda f, d: G(f, d, 0.0))(Fm, dF))

        return J

    u0 = F0[1:-1].reshape(-1)
    bump = np.zeros((n - 2, 2, 2))
    bump[(n - 2) // 2] = [[0.0, 1.0], [-1.0, 0.0]]
    v = jnp.asarray(bump.reshape(-1))

    def checks(J):
        d1 = lambda u: jax.jvp(J, (u,), (v,))[1]
        return jnp.max(jnp.abs(jax.grad(J)(u0))), jax.jvp(d1, (u0,), (v,))[1]

    (g1, c1), (g2, c2) = jax.jit(lambda: (checks(energy(m.integrand)), checks(energy(lambda f, d, x: _tr_sq(f, d)))))()
    assert float(g1) < 1e-12 and float(g2) < 1e-12  # both stationary at the geodesic's nodes
    assert float(c1) > 0 > float(c2)


N_SPD = NS[0]  # one compilation (~5-9 s on 2 cores for the 2×2 unknown) serves both grids


def test_spd_uniform_grid_nodes_are_exact():
    """Uniform grid, midpoint rule: the discrete minimiser is the geodesic at the nodes (invariance
    under congruence and inversion), and E_h = Σ 4 tanh²(h λ_k / 2) / h² (λ_k = log μ_k) exactly,
    E_h - E = -Σ λ_k⁴ h² / 6 + O(h⁴): second order, from below.  Measured: nodal error 1e-15;
    E_h - E = -1.42e-3 (n = 21), -3.56e-4 (41), -8.89e-5 (81)."""
    m = load("spd_geodesic")
    lam = np.log(m._mu)
    s = solve("spd_geodesic", N_SPD)
    assert s.converged, s.message
    assert s.f.shape == (N_SPD, 2, 2)
    np.testing.assert_allclose(s.f, np.swapaxes(s.f, 1, 2), rtol=0, atol=1e-12)  # symmetric
    assert s.error() < 1e-10
    assert s.negative == 0
    h = 1.0 / (N_SPD - 1)
    assert s.value == pytest.approx(np.sum(4 * np.tanh(h * lam / 2) ** 2) / h**2, rel=1e-12)
    assert s.value_error() == pytest.approx(np.sum(lam**4) * h**2 / 6, rel=0.05)
    assert s.value < m.exact_value


def test_spd_graded_grid():
    """On a graded grid (power 2) the nodes are no longer exact: nodal error O(h²).  Measured
    1.56e-3 (n = 21), 3.88e-4 (41), 9.71e-5 (81): order 2.01, 2.00 (one grid here, to save a
    compilation; it shares the uniform grid's)."""
    s = solve("spd_geodesic", N_SPD, power=2.0)
    assert s.converged, s.message
    assert 1e-4 < s.error() < 3e-3
    assert s.value_error() < 5e-3


# -- 5. parameters: one compiled solver for many values -----------------------------------------

PARAMS = [{"R": 1.0, "L": 0.5}, {"R": 1.0, "L": 0.6}, {"R": 1.5, "L": 0.5}, {"R": 2.0, "L": 0.8}]


def test_parametric_reference():
    m = load("parametric_catenoid")
    cat = load("catenoid")
    assert m.problem.exact_value == pytest.approx(cat.problem.exact_value, rel=1e-14)
    xi = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(m.exact(xi) + 1.0, cat.exact(0.5 * xi), rtol=1e-14)
    for p in PARAMS:
        ex = m.exact_for(p)
        assert ex(np.array([-1.0, 1.0])) == pytest.approx([0.0, 0.0], abs=1e-13)
        assert gauss_value(m.problem, ex, -1.0, 1.0, params=p) == pytest.approx(m.exact_value_for(p), rel=1e-10)


def test_params_one_compilation(caplog):
    """Solving with several parameter values reuses one compiled solver: a counter in the
    integrand sees no new trace after the first solve, and JAX logs no compilation."""
    m = load("parametric_catenoid")
    traces = []

    def G(f, df, x, p):
        traces.append(1)  # runs only while JAX traces (compiled code does not call back)
        return m.integrand(f, df, x, p)

    problem = vc.Problem(
        G, domain=(-1.0, 1.0), bc={"left": 0.0, "right": 0.0}, params=PARAMS[0], name="parametric_catenoid"
    )
    n = NS[-1]
    first = vc.solve(problem, n=n)
    assert first.converged, first.message
    after_first = len(traces)
    assert after_first > 0
    sols = {}
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        for i, p in enumerate(PARAMS):
            sols[i] = vc.solve(problem, n=n, params=p)
    compiles = [r.getMessage() for r in caplog.records if "ompil" in r.getMessage()]
    assert len(traces) == after_first, f"{len(traces) - after_first} new traces"
    assert compiles == [], compiles[:5]
    errors = []
    for i, p in enumerate(PARAMS):
        s = sols[i]
        assert s.converged, s.message
        errors.append(s.error(m.exact_for(p)))
        assert s.value_error(m.exact_value_for(p)) < 1e-4 * m.exact_value_for(p)
    print("parametric nodal errors", errors)
    assert max(errors) < 2e-4
    np.testing.assert_array_equal(sols[0].f, first.f)  # the defaults are PARAMS[0]


# -- a free LEFT end on a curve --------------------------------------------------------------------


def _arc_length(f, df, x):
    return jnp.sqrt(1 + df**2)


def test_left_end_on_a_circle_meets_it_along_the_radius():
    """Shortest path from the unit circle to (3, 1): the radial segment, start (3, 1)/√10,
    length √10 - 1.  Straight lines are exact for piecewise-linear elements, so the start, the
    nodes and J are exact to rounding; the transversality (right angle) residual vanishes."""
    circle = vc.OnCurve(lambda x, f: x**2 + f**2 - 1.0, name="circle")
    p = vc.Problem(_arc_length, (0.5, 3.0), bc={"right": 1.0}, left_end=circle)
    s = vc.solve(p, n=21, guess=lambda x: x / 3)
    r = np.hypot(3.0, 1.0)
    assert s.converged, s.message
    assert s.start == pytest.approx(3 / r, abs=1e-12) and s.x[0] == s.start and s.end is None
    np.testing.assert_allclose(s.f, s.x / 3, atol=1e-12)
    assert s.value == pytest.approx(r - 1, abs=1e-12)
    assert abs(s.transversality) < 1e-10 and s.constraint_residuals["circle"] < 1e-12
    with pytest.raises(ValueError, match="left_end"):
        vc.Problem(_arc_length, (0.5, 3.0), bc={"left": 0.0, "right": 1.0}, left_end=circle)
