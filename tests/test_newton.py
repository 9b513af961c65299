"""Newton's method: one step for quadratics, quadratic convergence, globalisation, failures."""

import jax.numpy as jnp
import numpy as np
import pytest
from integrands import allen_cahn, catenary, poisson, quadratic, travel_time

import varcalc as vc

N = 41


def test_quadratic_functional_is_solved_in_one_newton_step():
    problem = vc.Problem(quadratic, (0.0, 2.0), bc={"left": 0.5})  # right end free
    sol = vc.solve(problem, n=N)
    assert sol.converged and sol.iterations == 1
    # After the one step the discrete Euler–Lagrange residual is at rounding level.
    assert sol.history[1] < 1e-9 * sol.history[0]


def test_newton_converges_quadratically():
    problem = vc.Problem(catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)})
    sol = vc.solve(problem, n=N)
    assert sol.converged
    step = sol.stats["step"]
    # e_{k+1} <= C e_k² once in the quadratic regime: check the last steps above rounding.
    k = [i for i in range(len(step) - 1) if step[i] < 1e-2 and step[i + 1] > 1e-14]
    assert len(k) >= 2
    ratios = [step[i + 1] / step[i] ** 2 for i in k]
    assert max(ratios) < 50, ratios
    assert sol.stats["alpha"][k[-1]] == 1.0  # full Newton steps near the solution


def test_line_search_rescues_a_step_out_of_the_domain():
    # From f = 0.6 x^(1/4) (too steep at the start) full Newton steps are rejected: they leave
    # the domain f > 0 (J = NaN) or increase J.  The line search must shorten them and go on.
    problem = vc.Problem(travel_time, (0.0, 1.0), bc={"left": 0.0, "right": 0.6})
    grid = vc.graded_grid(problem.domain, N)
    sol = vc.solve(problem, grid=grid, guess=lambda x: 0.6 * x**0.25)
    assert sol.converged
    assert np.min(sol.stats["alpha"][: sol.iterations]) < 1.0
    assert np.all(np.isfinite(sol.f)) and np.all(sol.f[1:] > 0)


def test_indefinite_hessian_is_shifted_to_a_descent_direction():
    # f ≈ 0 is near a maximum of the double well: the Hessian there has negative directions.
    problem = vc.Problem(allen_cahn, (0.0, 1.0))  # both ends free
    sol = vc.solve(problem, n=N, guess=lambda x: 0.05 + 0.01 * x)
    assert sol.stats["negative"][0] > 0 and sol.stats["shift"][0] > 0
    assert sol.converged
    assert sol.stats["negative"][-1] == 0  # a minimum: positive definite at the end
    np.testing.assert_allclose(sol.f, 1.0, atol=1e-10)  # the well the guess leans toward


def test_max_iterations_reported_with_cause_and_remedy():
    problem = vc.Problem(catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)})
    sol = vc.solve(problem, n=N, solver=vc.Newton(max_iter=2))
    assert not sol.converged and sol.status == vc.Status.MAX_ITERATIONS
    assert "Remedy" in sol.message and "max_iter" in sol.message
    assert sol.iterations == 2 and sol.history.shape == (3,)


def test_unbounded_functional_fails_with_a_message_not_nans():
    # J = ∫ -f² + f'² on a long interval (beyond the conjugate point) with free ends has no minimum.
    problem = vc.Problem(lambda f, df, x: df**2 - f**2, (0.0, 10.0))
    sol = vc.solve(problem, n=N, guess=lambda x: 1.0 + 0 * x)
    assert not sol.converged
    assert sol.status == vc.Status.UNBOUNDED  # f runs off (measured: max |f| ~ 1e30 after 100 steps)
    assert "unbounded below" in sol.message and "Remedy" in sol.message


def test_scaling_the_integrand_does_not_move_the_extremal():
    base = vc.Problem(poisson, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    sol = vc.solve(base, n=N)
    scaled = vc.Problem(lambda f, df, x: 3.7 * poisson(f, df, x), (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    sol3 = vc.solve(scaled, n=N)
    np.testing.assert_allclose(sol3.f, sol.f, atol=1e-12)
    assert sol3.value == pytest.approx(3.7 * sol.value, rel=1e-12)


def test_null_lagrangian_does_not_move_the_extremal():
    # d/dx φ(f, x) with φ = f² sin x contributes a boundary term only: same extremal.
    def with_null(f, df, x):
        return poisson(f, df, x) + 2 * f * df * jnp.sin(x) + f**2 * jnp.cos(x)

    bc = {"left": 0.0, "right": 0.3}
    sol = vc.solve(vc.Problem(poisson, (0.0, 1.0), bc=bc), n=N)
    sol_null = vc.solve(vc.Problem(with_null, (0.0, 1.0), bc=bc), n=N)
    # Not to rounding: the midpoint rule integrates d/dx φ only to O(h²) per cell.
    np.testing.assert_allclose(sol_null.f, sol.f, atol=5e-4)
    assert sol_null.value - sol.value == pytest.approx(0.3**2 * np.sin(1.0), abs=1e-3)


def test_minimum_beats_admissible_perturbations():
    problem = vc.Problem(catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)})
    sol = vc.solve(problem, n=N)
    disc = vc.discretize(problem, n=N)
    rng = np.random.default_rng(4)
    for _ in range(5):
        bump = np.zeros(N)
        bump[1:-1] = 1e-3 * rng.standard_normal(N - 2)
        U = jnp.asarray((sol.f + bump)[None, :])
        value = disc.functional.value(U, jnp.asarray(sol.x), jnp.asarray(disc.z0), disc.aux())
        assert float(value) > sol.value
