"""Bad input is rejected at the door with errors that name the argument."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from integrands import catenary, travel_time

import varcalc as vc

GOOD_BC = {"left": 1.0, "right": 1.0}


@pytest.mark.parametrize("domain", [(1.0, 1.0), (1.0, 0.0), (0.0, math.inf), (math.nan, 1.0), (0.0,), "ab", None])
def test_bad_domain(domain):
    with pytest.raises(ValueError, match="domain"):
        vc.Problem(catenary, domain, GOOD_BC)


def test_integrand_must_be_callable():
    with pytest.raises(TypeError, match="integrand"):
        vc.Problem("f*df", (0.0, 1.0), GOOD_BC)


@pytest.mark.parametrize(
    "bc, exc, match",
    [
        ({"top": 1.0}, ValueError, "unknown key"),
        ({"left": "one"}, TypeError, r"bc\['left'\]"),
        ({"left": math.nan}, ValueError, "finite"),
        ({"left": [1.0, 2.0], "right": [1.0]}, ValueError, "different lengths"),
        ({"left": [1.0, 2.0], "right": 1.0}, ValueError, "sequence"),
        ([1.0, 2.0], TypeError, "bc"),
    ],
)
def test_bad_boundary_conditions(bc, exc, match):
    with pytest.raises(exc, match=match):
        vc.Problem(catenary, (0.0, 1.0), bc)


@pytest.mark.parametrize(
    "n, exc", [(1, ValueError), (0, ValueError), (10.5, TypeError), ("10", TypeError), (True, TypeError)]
)
def test_bad_n(n, exc):
    with pytest.raises(exc, match="n"):
        vc.solve(vc.Problem(catenary, (0.0, 1.0), GOOD_BC), n=n)


@pytest.mark.parametrize(
    "grid, match",
    [
        ([0.0, 0.5, 0.5, 1.0], "strictly increasing"),
        ([0.0, 0.7, 0.3, 1.0], "strictly increasing"),
        ([0.0, 0.5, 0.9], "spanning"),
        ([0.1, 0.5, 1.0], "spanning"),
        ([[0.0, 1.0]], "1-D"),
        ([0.0, math.nan, 1.0], "finite"),
    ],
)
def test_bad_grid(grid, match):
    with pytest.raises(ValueError, match=match):
        vc.solve(vc.Problem(catenary, (0.0, 1.0), GOOD_BC), grid=grid)


def test_n_and_grid_together():
    with pytest.raises(ValueError, match="n, grid"):
        vc.solve(vc.Problem(catenary, (0.0, 1.0), GOOD_BC), n=5, grid=[0.0, 1.0])


def test_guess_of_wrong_length():
    with pytest.raises(ValueError, match=r"guess.*shape"):
        vc.solve(vc.Problem(catenary, (0.0, 1.0), GOOD_BC), n=11, guess=np.ones(10))


def test_guess_where_integrand_is_nan_names_x():
    problem = vc.Problem(travel_time, (0.0, 1.0), bc={"left": 0.0, "right": 0.6})
    # f < 0 on (0.5, 1): sqrt of a negative number.
    guess = lambda x: np.where(x < 0.5, 0.6 * x, -0.1)
    with pytest.raises(ValueError, match=r"guess: the integrand is NaN/inf .* x in the cell \[0\.4, 0\.5\]"):
        vc.solve(problem, n=11, guess=guess)


def test_integrand_must_return_a_scalar():
    problem = vc.Problem(lambda f, df, x: jnp.stack([f, df]), (0.0, 1.0), GOOD_BC)
    with pytest.raises(ValueError, match="integrand: expected .* scalar"):
        vc.solve(problem, n=5)


def test_integrand_with_wrong_signature():
    problem = vc.Problem(lambda f, df: f * df, (0.0, 1.0), GOOD_BC)
    with pytest.raises(TypeError, match=r"integrand: calling G\(f, df, x\)"):
        vc.solve(problem, n=5)


def test_integrand_with_python_control_flow():
    def branchy(f, df, x):
        return df**2 if f > 0 else -(df**2)

    with pytest.raises(TypeError, match="jax.numpy"):
        vc.solve(vc.Problem(branchy, (0.0, 1.0), GOOD_BC), n=5)


def test_vector_problem_needs_components_when_both_ends_free():
    p = vc.Problem(lambda f, df, x: jnp.sum(df**2 + f**2), (0.0, 1.0), components=2)
    assert p.is_vector and p.components == 2
    with pytest.raises(ValueError, match="components"):
        vc.Problem(catenary, (0.0, 1.0), components=0)
    with pytest.raises(ValueError, match="components=3"):
        vc.Problem(catenary, (0.0, 1.0), {"left": [1.0, 2.0]}, components=3)


@pytest.mark.parametrize(
    "kwargs, match", [({"power": 0.5}, "power"), ({"end": "middle"}, "end"), ({"power": "x"}, "power")]
)
def test_bad_graded_grid(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        vc.graded_grid((0.0, 1.0), 11, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match", [({"max_iter": 0}, "max_iter"), ({"rtol": -1.0}, "rtol"), ({"atol": math.inf}, "atol")]
)
def test_bad_solver_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vc.Newton(**kwargs)


def test_bad_quadrature_and_solver_arguments():
    problem = vc.Problem(catenary, (0.0, 1.0), GOOD_BC)
    with pytest.raises(ValueError, match="quadrature"):
        vc.solve(problem, n=5, quadrature="simpson")
    with pytest.raises(ValueError, match="singular_ends"):
        vc.solve(problem, n=5, singular_ends=("middle",))
    with pytest.raises(TypeError, match="solver"):
        vc.solve(problem, n=5, solver={"max_iter": 3})
    with pytest.raises(TypeError, match="problem"):
        vc.solve(catenary, n=5)


def test_bc_of_a_problem_states_the_same_problem():
    """Problem.bc keeps the unknown's shape (floats for a scalar), so it can be passed on."""
    p = vc.Problem(catenary, (0.0, 1.0), {"left": 1.0, "right": 2.0})
    q = vc.Problem(catenary, (0.0, 1.0), bc=p.bc)
    assert not q.is_vector and q.bc == {"left": 1.0, "right": 2.0}
    v = vc.Problem(catenary, (0.0, 1.0), {"left": [[1.0, 0.0], [0.0, 1.0]]})
    assert v.shape == (2, 2) and v.bc["left"].shape == (2, 2) and v.bc_flat["left"].shape == (4,)
    assert vc.Problem(catenary, (0.0, 1.0), bc=v.bc).shape == (2, 2)
