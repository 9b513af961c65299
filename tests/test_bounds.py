"""Bounds that converge from the default guess (issue 16 item 1): inactive, active at any level,
and touching a Dirichlet value; checked against an independent solve of the same discrete QP."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.optimize

import varcalc as vc

G = lambda f, df, x: 0.5 * df**2 + f  # unconstrained minimiser x(x - 1)/2, minimum -1/8 at x = 1/2
N = 101


def _problem(lower):
    return vc.Problem(G, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, constraints=[vc.Bound(lower=lower)])


def _uniform_grid(n):
    """Nodes, spacing and lumped masses of the uniform grid on [0, 1] (∫ f = Σ mass_i f_i, midpoint rule)."""
    x = np.linspace(0.0, 1.0, n)
    h = x[1] - x[0]
    mass = np.full(n, h)
    mass[[0, -1]] = h / 2
    return x, h, mass


def _discrete_reference(lower, n=N):
    """The same discrete J_h (P1, midpoint rule: ∫ f = Σ mass_i f_i) minimised by scipy's L-BFGS-B."""
    x, h, mass = _uniform_grid(n)

    def J(u):
        f = np.concatenate([[0.0], u, [0.0]])
        return np.sum(np.diff(f) ** 2) / (2 * h) + np.sum(mass * f)

    def grad(u):
        f = np.concatenate([[0.0], u, [0.0]])
        d = np.diff(f) / h
        g = mass.copy()
        g[:-1] -= d
        g[1:] += d
        return g[1:-1]

    r = scipy.optimize.minimize(
        J,
        np.zeros(n - 2),
        jac=grad,
        method="L-BFGS-B",
        bounds=[(lower, None)] * (n - 2),
        options=dict(ftol=1e-16, gtol=1e-14, maxiter=100_000, maxcor=50),
    )
    return np.concatenate([[0.0], r.x, [0.0]]), J(r.x)


def test_an_inactive_bound_costs_a_few_iterations_and_changes_nothing():
    free = vc.solve(vc.Problem(G, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}), n=N)
    bounded = vc.solve(_problem(-0.2), n=N)
    assert free.converged and bounded.converged, bounded.message
    assert bounded.iterations <= free.iterations + 6  # the barrier's μ ladder, then projected Newton
    np.testing.assert_allclose(bounded.f, free.f, rtol=0, atol=1e-12)


@pytest.mark.parametrize("lower", [-0.125, -0.1, -0.05, -0.01, -0.001])
def test_an_active_bound_converges_from_the_default_guess_to_the_discrete_minimiser(lower):
    sol = vc.solve(_problem(lower), n=N)
    assert sol.converged, sol.message
    assert sol.iterations <= 30
    ref, J_ref = _discrete_reference(lower)
    assert np.min(sol.f) >= lower  # feasible: contact nodes sit exactly on the bound
    np.testing.assert_allclose(sol.f, ref, rtol=0, atol=1e-8)  # L-BFGS-B's own accuracy is ~1e-10
    assert sol.value <= J_ref + 1e-14


def test_a_dirichlet_value_on_the_bound():
    """f >= 0 with f(0) = f(1) = 0: the minimiser of ∫ ½f'² + f is f = 0 (every node in contact)."""
    sol = vc.solve(_problem(0.0), n=N)
    assert sol.converged, sol.message
    np.testing.assert_allclose(sol.f, 0.0, atol=1e-12)


def test_bounds_with_parameters_and_batches():
    p = vc.Problem(
        lambda f, df, x, p: 0.5 * df**2 + p["a"] * f,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Bound(lower=-0.05)],
        params={"a": 1.0},
    )
    a = jnp.array([0.2, 1.0, 2.0])  # unconstrained minima -a/8: inactive, active, active
    batch = vc.solve_batch(p, n=N, params={"a": a})
    assert bool(np.all(batch.converged))
    for i, ai in enumerate(np.asarray(a)):
        one = vc.solve(p, n=N, params={"a": float(ai)})
        assert one.converged
        np.testing.assert_allclose(batch.f[i], one.f, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.min(batch.f, axis=1), [-0.2 / 8, -0.05, -0.05], atol=1e-12)


# -- bounds on f' (Bound(derivative=1)) ------------------------------------------------------------


def test_a_slope_bound_gives_the_clipped_slopes():
    """G = ½ (f' - 2x)², f(0) = 0, free right end, f' <= 1: the cells decouple, and the discrete
    minimiser (midpoint rule) has slopes min(2 m_i, 1) exactly (m_i the cell midpoints); J_h is
    Σ h ½ (1 - 2 m_i)² over the cells where the bound is active."""
    G2 = lambda f, df, x: 0.5 * (df - 2 * x) ** 2
    p = vc.Problem(G2, (0.0, 1.0), bc={"left": 0.0}, constraints=[vc.Bound(upper=1.0, derivative=1)])
    for n in (11, 201):
        sol = vc.solve(p, n=n)
        assert sol.converged, sol.message
        x = sol.x
        m, h = 0.5 * (x[1:] + x[:-1]), np.diff(x)
        slopes = np.minimum(2 * m, 1.0)
        ref = np.concatenate([[0.0], np.cumsum(slopes * h)])
        # An interior-point finish (μ = 1e-9 μ0): the active slopes sit ~1e-10 inside the bound.
        np.testing.assert_allclose(sol.f, ref, rtol=0, atol=1e-8)
        assert abs(sol.value - np.sum(0.5 * h * (slopes - 2 * m) ** 2)) < 1e-9
        assert np.max(np.diff(sol.f) / h) <= 1.0  # feasible
        assert sol.constraint_residuals["bound0"] == 0.0


def test_a_monotone_profile_and_a_height_bound_together():
    """min ∫ ½ f'² - 4 f on [0, 1], f(0) = 0, f(1) = 0.5 with f' >= 0 (non-decreasing) and f <= 0.5.
    Unconstrained, f = 2x(1 - x) + x/2 rises above 0.5 and falls back; with both bounds the discrete
    solution is checked against an independent SLSQP solve of the same discrete problem."""
    G3 = lambda f, df, x: 0.5 * df**2 - 4.0 * f
    n = 41
    p = vc.Problem(
        G3,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.5},
        constraints=[vc.Bound(lower=0.0, derivative=1, name="monotone"), vc.Bound(upper=0.5, name="cap")],
    )
    sol = vc.solve(p, n=n)
    assert sol.converged, sol.message
    x, h, mass = _uniform_grid(n)

    def J(u):
        f = np.concatenate([[0.0], u, [0.5]])
        return np.sum(np.diff(f) ** 2) / (2 * h) - 4.0 * np.sum(mass * f)

    cons = [{"type": "ineq", "fun": lambda u: np.diff(np.concatenate([[0.0], u, [0.5]]))}]
    ref = scipy.optimize.minimize(
        J,
        np.linspace(0, 0.5, n)[1:-1],
        method="SLSQP",
        constraints=cons,
        bounds=[(None, 0.5)] * (n - 2),
        options=dict(ftol=1e-15, maxiter=1000),
    )
    assert ref.success
    np.testing.assert_allclose(sol.f[1:-1], ref.x, rtol=0, atol=1e-6)  # SLSQP's own accuracy
    assert sol.value <= J(ref.x) + 1e-9
    assert np.min(np.diff(sol.f)) >= 0.0 and np.max(sol.f) <= 0.5


def test_a_guess_outside_a_slope_bound_is_refused_with_a_remedy():
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 1.0},
        constraints=[vc.Bound(upper=0.5, derivative=1)],
    )  # infeasible: the ends need slope 1
    with pytest.raises(ValueError, match="guess: its slope 1 .* strictly"):
        vc.solve(p, n=11)
    with pytest.raises(ValueError, match="derivative"):
        vc.Bound(upper=1.0, derivative=2)
    with pytest.raises(ValueError, match="one with derivative=1"):
        vc.Problem(
            lambda f, df, x: df**2,
            (0.0, 1.0),
            bc={"left": 0.0, "right": 1.0},
            constraints=[vc.Bound(upper=2.0, derivative=1), vc.Bound(lower=-1.0, derivative=1)],
        )


def test_componentwise_bounds_of_a_vector_unknown():
    """Two decoupled components, f0 with ½f'² + f (a lower bound active) and f1 with ½f'² - f (an
    upper bound active): each equals the scalar obstacle solution (or its mirror image)."""
    Gv = lambda f, df, x: 0.5 * jnp.sum(df**2) + f[0] - f[1]
    p = vc.Problem(
        Gv,
        (0.0, 1.0),
        bc={"left": np.zeros(2), "right": np.zeros(2)},
        constraints=[vc.Bound(lower=np.array([-0.05, -np.inf]), upper=np.array([np.inf, 0.05]))],
    )
    sol = vc.solve(p, n=N)
    assert sol.converged, sol.message
    scalar = vc.solve(_problem(-0.05), n=N)
    np.testing.assert_allclose(sol.f[:, 0], scalar.f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sol.f[:, 1], -scalar.f, rtol=0, atol=1e-12)
    mu = sol.multipliers["bound0"]
    assert mu.shape == (N, 2)
    np.testing.assert_allclose(mu[:, 0], scalar.multipliers["bound0"], rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        vc.solve(
            vc.Problem(
                Gv,
                (0.0, 1.0),
                bc={"left": np.zeros(2), "right": np.zeros(2)},
                constraints=[vc.Bound(lower=np.zeros(3))],
            ),
            n=11,
        )


# -- bounds with Integral constraints (the SQP step with a barrier) ------------------------------------


def test_an_integral_constraint_with_a_bound():
    """min ∫ ½ f'² with ∫ f = 0.1, f(0) = f(1) = 0 and f <= 0.12: the parabola 0.6 x(1 - x) would
    reach 0.15, so the top is flat.  Against SLSQP on the same discrete problem, and the fused loop
    (batches, jit) agrees with the Python loop."""
    A, cap, n = 0.1, 0.12, 41
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Integral(lambda f, df, x: f, A, name="area"), vc.Bound(upper=cap, name="cap")],
    )
    sol = vc.solve(p, n=n)
    assert sol.converged, sol.message
    x, h, mass = _uniform_grid(n)

    def J(u):
        return np.sum(np.diff(np.concatenate([[0.0], u, [0.0]])) ** 2) / (2 * h)

    area = {"type": "eq", "fun": lambda u: np.sum(mass[1:-1] * u) - A}
    ref = scipy.optimize.minimize(
        J,
        0.8 * 6 * A * x[1:-1] * (1 - x[1:-1]),
        method="SLSQP",
        constraints=[area],
        bounds=[(None, cap)] * (n - 2),
        options=dict(ftol=1e-15, maxiter=1000),
    )
    assert ref.success
    np.testing.assert_allclose(sol.f[1:-1], ref.x, rtol=0, atol=1e-8)
    assert abs(sol.value - J(ref.x)) < 1e-10
    assert np.max(sol.f) <= cap and abs(np.sum(mass * sol.f) - A) < 1e-12
    batch = vc.solve_batch(p, n=n, constraint_values={"area": jnp.array([0.05, A])})
    assert bool(np.all(batch.converged))
    np.testing.assert_allclose(batch.f[1], sol.f, rtol=0, atol=1e-10)
    assert np.max(batch.f[0]) < cap - 0.04  # area 0.05: the bound inactive (max ≈ 0.075, the parabola's)
    assert abs(np.max(batch.f[1]) - cap) < 1e-9  # area 0.1: in contact


def test_newtons_body_of_least_resistance_against_the_classical_solution():
    """The catalog's Newton problem (height and slope bounds): the flat nose and the parametric
    curve.  Measured at n = 201: J error 6.6e-7 (relative 3.5e-6), nodal error 9.3e-4 (the slope
    jumps from 0 to -1 at r0, between nodes: first order there)."""
    from conventions import check_module_convention  # (tests/ is on the path, as for test_catalog)
    from varcalc.problems import newton_resistance as mod

    check_module_convention(mod, "newton_resistance")
    assert abs(mod.r0 - 0.350943) < 1e-6 and abs(mod.P - 1.916801) < 1e-6  # the classical M = R = 1 nose
    sol = vc.solve(mod.problem, n=mod.n, guess=mod.guess, **mod.solve_options)
    assert sol.converged, sol.message
    assert abs(sol.value - mod.problem.exact_value) < 2e-6
    assert sol.error() < 2e-3
    nose = sol.x <= mod.r0 - 0.01
    np.testing.assert_allclose(sol.f[nose], mod.M, atol=1e-8)  # the flat nose, on the height bound
    assert np.max(np.diff(sol.f)) <= 0.0  # monotone
    # The error estimate's fine solve starts from the coarse guess (it was NaN: a flattened start).
    est = sol.error_estimate
    assert est.fine.converged and 0.3 < est.value_error / abs(sol.value - mod.problem.exact_value) < 3
    # The classical form r/(1 + f'²), from the envelope's solution: the same classical reference.
    classical = vc.solve(mod.classical, grid=sol.x, guess=sol)
    assert classical.converged, classical.message
    assert abs(classical.value - mod.classical.exact_value) < 2e-6
    assert classical.error() < 2e-3 and np.max(np.diff(classical.f)) <= 0.0


def test_a_slope_bound_with_an_integral_constraint():
    """min ∫ ½ f'² with ∫ f = A, f(0) = f(1) = 0 and f' <= σ < 6A (the parabola's slope at 0): the
    exact minimiser is f = σx on [0, a], then σx - k(x - a)²/2, a = 3A/σ - 1/2, k = 2σ/(1 - a)²
    (the Integral's multiplier is -k).  P1 is second order; degree 2 is exact (piecewise quadratic,
    the kink at a = 0.1 on a node) up to the interior-point finish."""
    A, sig = 0.1, 0.5
    a = 3 * A / sig - 0.5
    k = 2 * sig / (1 - a) ** 2
    exact = lambda x: np.where(x < a, sig * x, sig * x - k * (x - a) ** 2 / 2)
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Integral(lambda f, df, x: f, A, name="area"), vc.Bound(upper=sig, derivative=1, name="slope")],
    )
    for n, degree, tol in ((101, 1, 2e-5), (11, 2, 1e-9)):  # P1: 1.5e-5 measured (O(h²))
        sol = vc.solve(p, n=n, degree=degree)
        assert sol.converged, sol.message
        np.testing.assert_allclose(sol.f, exact(sol.x), rtol=0, atol=tol)
        assert abs(sol.multipliers["area"] + k) < 50 * tol
        assert sol.constraint_residuals["slope"] == 0.0 and sol.constraint_residuals["area"] < 1e-12


# -- bounds with degree-p elements -------------------------------------------------------------------


def test_an_obstacle_with_degree_p_elements():
    """min ∫ ½ f'² + eˣ f, f(0) = f(1) = 0, f >= -0.1: off the contact set [c1, c2] f = eˣ + a x + b,
    C¹ at c1, c2 (roots of one equation each).  f'' jumps at c1, c2, which lie inside cells: that
    limits every degree to O(h²) at the nodes (measured 2.3 for p = 2 from 8 to 32 cells), while J's
    error keeps the higher degree's advantage — degree 2..4 on 16 cells (31..63 unknowns) beat P1 on
    64 cells (63 unknowns) by 20-250x (measured: 2.2e-5 for P1; 9.5e-7, 1.1e-6, 8.3e-8)."""
    lo = -0.1
    c1 = scipy.optimize.brentq(lambda c: np.exp(c) * (1 - c) - 1 - lo, 1e-6, 1.0)
    c2 = scipy.optimize.brentq(lambda c: np.exp(c) * (2 - c) - np.e - lo, 0.0, 1 - 1e-9)

    def exact(x):
        return np.where(
            x < c1, np.exp(x) - np.exp(c1) * x - 1, np.where(x > c2, np.exp(x) - np.exp(c2) * x - np.e + np.exp(c2), lo)
        )

    def slope(x):
        return np.where(x < c1, np.exp(x) - np.exp(c1), np.where(x > c2, np.exp(x) - np.exp(c2), 0.0))

    J_exact = sum(
        scipy.integrate.quad(lambda x: 0.5 * slope(x) ** 2 + np.exp(x) * exact(x), a, b, epsabs=1e-14)[0]
        for a, b in ((0.0, c1), (c1, c2), (c2, 1.0))
    )  # smooth on each piece
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2 + jnp.exp(x) * f,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Bound(lower=lo)],
    )
    p1 = vc.solve(p, n=65)
    assert p1.converged, p1.message
    errors = {}
    for degree, cells in ((2, 8), (2, 32), (2, 16), (3, 16), (4, 16)):
        sol = vc.solve(p, n=cells + 1, degree=degree)
        assert sol.converged and sol.iterations <= 30, sol.message
        assert np.min(sol.element_values) >= lo  # the bound holds at every GLL node
        errors[degree, cells] = np.max(np.abs(sol.f - exact(sol.x))), abs(sol.value - J_exact)
        if cells == 16:
            assert errors[degree, cells][1] < abs(p1.value - J_exact) / 10, (degree, errors)
            # The contact force per unit length, -f'' + eˣ = eˣ inside the contact set (g over each
            # node's GLL weight; the cell integrals of eˣ φ_i by their lumped rule: ~h² off).
            inside = (sol.x > c1 + 0.1) & (sol.x < c2 - 0.1)
            np.testing.assert_allclose(sol.multipliers["bound0"][inside], np.exp(sol.x[inside]), rtol=1e-2)
        if degree == 3:  # the certificate on the solve's admissible subspace (GLL rows in contact held)
            cert = sol.certificate
            assert cert.is_minimum and cert.negative == 0 and cert.zero == 0
            assert cert.dimension == 3 * cells - 1 - np.sum(np.isclose(sol.element_values[:, :-1], lo, atol=1e-12))
    order = np.log(errors[2, 8][0] / errors[2, 32][0]) / np.log(4)
    assert order > 1.8, order  # O(h²): the contact set limits smoothness, not the degree


# -- bounds with Pointwise constraints and free ends ---------------------------------------------------


def test_a_bound_with_a_pointwise_constraint():
    """f = (f0, f1) tied by f0 = f1, G = ½|f'|² + f0, f0 >= -0.05: the same as the scalar obstacle
    ½u'² + ½u (u = x(x - 1)/4 unconstrained, minimum -1/16), solved by the established path."""
    p = vc.Problem(
        lambda f, df, x: 0.5 * jnp.sum(df**2) + f[0],
        (0.0, 1.0),
        bc={"left": np.zeros(2), "right": np.zeros(2)},
        constraints=[vc.Pointwise(lambda f, x: f[0] - f[1], name="tie"), vc.Bound(lower=np.array([-0.05, -np.inf]))],
    )
    sol = vc.solve(p, n=51)
    assert sol.converged, sol.message
    scalar = vc.solve(
        vc.Problem(
            lambda f, df, x: 0.5 * df**2 + 0.5 * f,
            (0.0, 1.0),
            bc={"left": 0.0, "right": 0.0},
            constraints=[vc.Bound(lower=-0.05)],
        ),
        n=51,
    )
    for j in (0, 1):
        np.testing.assert_allclose(sol.f[:, j], scalar.f, rtol=0, atol=1e-9)  # interior-point finish
    assert abs(sol.value - 2 * scalar.value) < 1e-10
    assert np.min(sol.f) >= -0.05


def test_a_bound_with_free_ends():
    """G = ½f'² + f, f(0) = 0, f >= -0.2.  Right end natural (f'(1) = 0) or on the curve x = 1 (an
    unknown abscissa): the minimiser reaches the bound at c = √0.4, f = (x - c)²/2 - 0.2 before it."""
    c = np.sqrt(0.4)
    exact = lambda x: np.where(x < c, (x - c) ** 2 / 2 - 0.2, -0.2)
    natural = vc.Problem(G, (0.0, 1.0), bc={"left": 0.0}, constraints=[vc.Bound(lower=-0.2)])
    curve = vc.Problem(
        G, (0.0, 1.0), bc={"left": 0.0}, right_end=vc.OnCurve(lambda x, f: x - 1.0), constraints=[vc.Bound(lower=-0.2)]
    )
    for p in (natural, curve):
        sol = vc.solve(p, n=N)
        assert sol.converged, sol.message
        np.testing.assert_allclose(sol.f, exact(sol.x), rtol=0, atol=2e-5)  # O(h²): 1.1e-5 measured
        assert np.min(sol.f) >= -0.2
    assert abs(sol.x[-1] - 1.0) < 1e-12
    with pytest.raises(ValueError, match="OnCurve.*numbers, not functions"):
        vc.Problem(
            G,
            (0.0, 1.0),
            bc={"left": 0.0},
            right_end=vc.OnCurve(lambda x, f: x - 1.0),
            constraints=[vc.Bound(lower=lambda x: -0.2 + 0 * x)],
        )
