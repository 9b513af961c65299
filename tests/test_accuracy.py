"""Measured convergence order on smooth problems, uniform and non-uniform grids, and free ends."""

import jax.numpy as jnp
import numpy as np
import pytest
from integrands import poisson

import varcalc as vc

SIZES = (21, 41, 81)  # h halves; nodes nest


def fitted_order(hs, errors):
    """Slope of log(error) against log(h), least squares over all grids."""
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


def _perturbed_grid(n, seed=0):
    # Non-uniform without a smooth mapping: each interior node moved by up to 30 % of h.
    x = np.linspace(0.0, 1.0, n)
    x[1:-1] += 0.3 * (x[1] - x[0]) * np.random.default_rng(seed).uniform(-1, 1, n - 2)
    return x


GRIDS = {
    "uniform": lambda n: vc.uniform_grid((0.0, 1.0), n),
    "graded": lambda n: vc.graded_grid((0.0, 1.0), n, power=1.5, end="both"),
    "perturbed": _perturbed_grid,
}


@pytest.mark.parametrize("kind", GRIDS)
def test_second_order_on_smooth_problem(kind):
    problem = vc.Problem(poisson, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    exact_value = -(np.pi**2) / 4  # J[sin πx] = ½·π²/2 − π²/2
    hs, nodal, value = [], [], []
    for n in SIZES:
        sol = vc.solve(problem, grid=GRIDS[kind](n))
        assert sol.converged
        hs.append(np.max(np.diff(sol.x)))
        nodal.append(np.max(np.abs(sol.f - np.sin(np.pi * sol.x))))
        value.append(abs(sol.value - exact_value))
    assert fitted_order(hs, nodal) >= 1.9, nodal
    assert fitted_order(hs, value) >= 1.9, value
    if kind == "uniform":  # the criterion: error ratio >= 3.5 when h halves
        assert nodal[-2] / nodal[-1] >= 3.5


def _natural_exact(x):
    # min ∫ ½f'² + ½f² − f on [0, 1], f(0) = 0, right end free (f'(1) = 0): f'' = f − 1.
    b = -1.0 / (1.0 + np.exp(-2.0))
    a = b * np.exp(-2.0)
    return 1.0 + a * np.exp(x) + b * np.exp(-x)


def natural(f, df, x):
    return 0.5 * df**2 + 0.5 * f**2 - f


def test_natural_boundary_condition_comes_out_of_the_variational_form():
    problem = vc.Problem(natural, (0.0, 1.0), bc={"left": 0.0}, exact=_natural_exact)
    assert problem.free_ends == ("right",)
    hs, errors, end_slopes = [], [], []
    for n in SIZES:
        sol = vc.solve(problem, n=n)
        assert sol.converged
        hs.append(sol.x[1] - sol.x[0])
        errors.append(sol.error())
        end_slopes.append(abs(sol.f[-1] - sol.f[-2]) / (sol.x[-1] - sol.x[-2]))
    assert fitted_order(hs, errors) >= 1.9
    # f'(1) = 0 is not imposed; the last cell's slope tends to it (first order: it is a
    # one-sided difference of a function with f'' ≠ 0 there).
    assert fitted_order(hs, end_slopes) >= 0.9
    assert end_slopes[-1] < 0.02


def test_vector_unknown_straight_line_at_constant_speed():
    # Energy ½|f'|² in the plane: the extremal is the straight segment, traversed uniformly.
    problem = vc.Problem(
        lambda f, df, x: 0.5 * jnp.sum(df**2), (0.0, 2.0), bc={"left": [0.0, 1.0], "right": [3.0, -1.0]}
    )
    sol = vc.solve(problem, n=SIZES[0], guess=lambda x: np.stack([x**2, np.cos(x)], axis=1))
    assert sol.converged and sol.f.shape == (SIZES[0], 2)
    line = np.stack([1.5 * sol.x, 1.0 - sol.x], axis=1)
    np.testing.assert_allclose(sol.f, line, atol=1e-12)
    assert sol(np.array([0.5, 1.0])).shape == (2, 2)
    np.testing.assert_allclose(sol(1.0), [1.5, 0.0], atol=1e-12)
    assert sol.value == pytest.approx(0.5 * (1.5**2 + 1.0) * 2.0, rel=1e-12)
