"""Status messages fit the situation (issue 16, items 4 and 5).

One test per row of the advice table (:data:`varcalc.newton.ADVICE`), each on a small problem that
produces that situation, asserting on the status, on key phrases and on the absence of wrong
advice; the rules the table keeps are checked on the table itself.  Two rows that no small solve
was found to reach (NOT_FACTORIZABLE, a minimisation's LINE_SEARCH_FAILED with a finite guess) are
checked through the composed message.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc
from varcalc.newton import ADVICE, Status, advice, compose_message

MODES = ("minimize", "maximize", "stationary")
STATIONARY = 'mode="stationary"'
MAXIMIZE = 'mode="maximize"'
MINIMIZE = 'mode="minimize"'


def remedy(message):
    """The advice part of a message (what it tells the user to do)."""
    assert "Remedy: " in message, message
    return message.split("Remedy: ", 1)[1]


def no_guess_blamed(message):
    return "poor initial guess" not in message and "guess far" not in message


def catenary(f, df, x):
    return f * jnp.sqrt(1.0 + df**2)


def quadratic_max(f, df, x):
    """-(½f'² - f): its maximiser on (0, 1) with zero ends is x(1 - x)/2; -J is unbounded below."""
    return -(0.5 * df**2 - f)


def bratu(f, df, x):
    """½f'² - 5 eᶠ: no solution of f'' + 5 eᶠ = 0 with zero ends (past the fold at λ ≈ 3.51)."""
    return 0.5 * df**2 - 5.0 * jnp.exp(f)


ZERO_ENDS = {"left": 0.0, "right": 0.0}


# -- the table's rules -------------------------------------------------------------------------
def test_every_status_and_mode_has_advice():
    for status in Status:
        for mode in MODES:
            text = compose_message(status, mode)
            assert text and "{" not in text, (status, mode, text)  # every field filled
            if status != Status.SUCCESS:
                assert "Likely cause: " in text and "Remedy: " in text


def test_no_row_suggests_the_mode_it_applies_to():
    for row in ADVICE:
        for mode in MODES:
            if mode in row.when:
                assert f'mode="{mode}"' not in row.remedy, row
        if "stationary" in row.when:  # stationary rows speak of the residual, not of J's decrease
            assert "‖∇L‖" in row.cause or "residual" in row.cause, row
            assert "decrease of J" not in row.cause, row


def test_only_a_nonfinite_guess_is_blamed():
    for row in ADVICE:
        if "guess_nonfinite" not in row.when:
            assert no_guess_blamed(row.cause) and "the guess" not in row.cause, row


def test_a_stationary_solve_never_gets_mode_stationary_advice():
    # (SADDLE is not a stationary solve's outcome: a saddle is what mode="stationary" looks for.)
    for status in set(Status) - {Status.SUCCESS, Status.SADDLE}:
        for facts in ((), ("negative",), ("all_negative",), ("no_negative",)):
            assert STATIONARY not in remedy(compose_message(status, "stationary", facts)), (status, facts)


# -- one solve per row ------------------------------------------------------------------------
def test_catenoid_past_its_fold_is_unbounded():
    """Rings of radius 0.5 at x = ±1: R/L = 0.5 < 1.5089, no catenary exists; Newton runs f below
    0, where G = f √(1+f'²) < 0 (measured: f ≈ -6e3, J ≈ -8e7 after 100 steps)."""
    p = vc.Problem(catenary, (-1.0, 1.0), bc={"left": 0.5, "right": 0.5})
    s = vc.solve(p, n=101)
    assert s.status == Status.UNBOUNDED and not s.converged
    m = s.message
    assert "f < 0 makes G negative" in m and "unbounded below" in m
    assert "no minimiser exists for these data" in m
    assert "vc.continuation" in m and "fold" in m and "vc.Bound(lower=...)" in m
    assert no_guess_blamed(m) and STATIONARY not in m


def test_newtons_problem_without_slope_bound_is_unbounded():
    """J = ∫ x/(1+f'²): J → 0 only as f' → ∞ (measured: max |f| ~ 6e9); G > 0, so no sign is named."""
    p = vc.Problem(lambda f, df, x: x / (1.0 + df**2), (0.0, 1.0), bc={"left": 1.0, "right": 0.0})
    s = vc.solve(p, n=51)
    assert s.status == Status.UNBOUNDED
    assert "|f| grows without bound while J decreases" in s.message
    assert "makes G negative" not in s.message and no_guess_blamed(s.message)


def test_maximisation_without_mode_maximize_runs_off_and_says_so():
    s = vc.solve(vc.Problem(quadratic_max, (0.0, 1.0), bc=ZERO_ENDS), n=51)
    assert s.status == Status.UNBOUNDED
    assert s.negative == 49  # all directions negative (49 free nodes)
    assert "negative in every direction" in s.message and MAXIMIZE in remedy(s.message)
    assert STATIONARY not in s.message
    # -½f'² + ½f²: f itself does not make G negative, the slopes do (named as such).
    s = vc.solve(
        vc.Problem(lambda f, df, x: -0.5 * df**2 + 0.5 * f**2, (0.0, 1.0), bc=ZERO_ENDS),
        n=51,
        guess=lambda x: x * (1 - x),
    )
    assert s.status == Status.UNBOUNDED and "steep slopes make G negative (f alone does not)" in s.message
    assert MAXIMIZE in remedy(s.message)


def test_maximisation_without_mode_maximize_at_its_maximum_says_maximize():
    """Started at the discrete maximiser (gradient 0, Hessian negative definite) minimisation stays
    put until max_iter: all directions negative -> mode="maximize", not "stationary"."""
    p = vc.Problem(quadratic_max, (0.0, 1.0), bc=ZERO_ENDS)
    s = vc.solve(p, n=21, guess=lambda x: 0.5 * x * (1 - x), solver=vc.Newton(max_iter=5))
    assert s.status == Status.MAX_ITERATIONS and s.negative == 19
    assert MAXIMIZE in remedy(s.message) and STATIONARY not in s.message
    assert vc.solve(p, n=21, mode="maximize").converged  # the advice works


def test_minimisation_with_mode_maximize_says_minimize():
    p = vc.Problem(lambda f, df, x: 0.5 * df**2 - f, (0.0, 1.0), bc=ZERO_ENDS)
    s = vc.solve(p, n=21, mode="maximize", guess=lambda x: 0.5 * x * (1 - x), solver=vc.Newton(max_iter=5))
    assert s.status == Status.MAX_ITERATIONS
    assert MINIMIZE in remedy(s.message) and MAXIMIZE not in remedy(s.message)


def test_stationary_solve_running_off_speaks_of_the_residual():
    """G = f with free ends: ∇L = mass ≠ 0 everywhere; Newton's iterates run off (|f| ~ 1e10)."""
    s = vc.solve(vc.Problem(lambda f, df, x: f, (0.0, 1.0)), n=21, mode="stationary")
    assert s.status == Status.UNBOUNDED
    assert "no stationary point" in s.message and "‖∇L‖" in s.message
    assert STATIONARY not in s.message and "unbounded below" not in s.message


def test_nonfinite_derivative_at_the_guess_blames_the_guess():
    """√f with f ≡ 0 on whole cells of the guess: G is finite there, its derivative is not."""
    p = vc.Problem(lambda f, df, x: 0.5 * df**2 + jnp.sqrt(f), (0.0, 1.0), bc={"left": 1.0, "right": 1.0})
    s = vc.solve(p, n=21, guess=lambda x: np.maximum(0.0, np.abs(x - 0.5) - 0.2) * 10 / 3)
    assert s.status == Status.NONFINITE and s.iterations == 0
    assert "at the guess itself" in s.message and "guess=" in remedy(s.message)


def test_nonfinite_at_an_iterate_does_not_blame_the_guess():
    """½f'² + 4√f: the minimiser has a dead core (f = 0), where √f's derivative is infinite."""
    p = vc.Problem(lambda f, df, x: 0.5 * df**2 + 4.0 * jnp.sqrt(f), (0.0, 1.0), bc={"left": 0.1, "right": 0.1})
    s = vc.solve(p, n=21)
    assert s.status == Status.NONFINITE and s.iterations > 0
    assert "singular at the iterate" in s.message
    assert "guess itself" not in s.message and no_guess_blamed(s.message)


def test_not_factorizable_row():
    m = Status.NOT_FACTORIZABLE.message
    assert "degenerate" in m and "boundary condition" in remedy(m)


def test_degenerate_saddle_is_called_singular_not_negative():
    """G = f' (a null Lagrangian): J = f(1) - f(0) whatever f; the Hessian is zero, none negative."""
    s = vc.solve(vc.Problem(lambda f, df, x: df, (0.0, 1.0), bc={"left": 0.0, "right": 1.0}), n=21)
    assert s.status == Status.SADDLE and s.negative == 0
    assert "singular" in s.message and "null Lagrangian" in s.message
    assert STATIONARY not in s.message


def test_saddle_past_a_conjugate_point_suggests_stationary():
    """½f'² - ½f² on (0, 4) (past the conjugate point π): the stationary solution is a saddle."""
    p = vc.Problem(lambda f, df, x: 0.5 * df**2 - 0.5 * f**2, (0.0, 4.0), bc={"left": 0.0, "right": 1.0})
    saddle = vc.solve(p, n=41, mode="stationary")
    assert saddle.converged
    s = vc.solve(p, n=41, guess=saddle.f)
    assert s.status == Status.SADDLE and s.negative == 1
    assert STATIONARY in remedy(s.message) and "conjugate point" in s.message


def test_infeasible_names_the_constraint_and_does_not_blame_the_guess():
    arc = lambda f, df, x: jnp.sqrt(1.0 + df**2)
    chain = vc.Problem(
        catenary, (-1.0, 1.0), bc={"left": 0.0, "right": 0.5}, constraints=[vc.Integral(arc, 3.0, name="length")]
    )
    s = vc.solve(chain, n=21, solver=vc.Newton(max_iter=2))
    assert s.status == Status.INFEASIBLE
    assert "The constraint 'length' is violated" in s.message and no_guess_blamed(s.message)


def test_stationary_max_iterations_speaks_of_the_residual():
    cosh1 = float(np.cosh(1.0))
    p = vc.Problem(catenary, (-1.0, 1.0), bc={"left": cosh1, "right": cosh1})
    s = vc.solve(p, n=21, mode="stationary", solver=vc.Newton(max_iter=2))
    assert s.status == Status.MAX_ITERATIONS
    assert "‖∇L‖" in s.message and "max_iter = 2" in s.message
    assert STATIONARY not in s.message and no_guess_blamed(s.message)


def test_stationary_line_search_failure_speaks_of_the_residual():
    """Bratu past its fold (λ = 5 > 3.51): ‖∇L‖ stalls at a non-zero local minimum."""
    s = vc.solve(vc.Problem(bratu, (0.0, 1.0), bc=ZERO_ENDS), n=51, mode="stationary")
    assert s.status == Status.LINE_SEARCH_FAILED
    assert "decrease of the residual ‖∇L‖" in s.message and "decrease of J" not in s.message
    assert "fold" in s.message and STATIONARY not in s.message


def test_bratu_minimised_is_unbounded_below_for_f_positive():
    """As a minimisation Bratu's J is unbounded below (eᶠ beats f'²): J falls with growing steps
    while max |f| stays ~30 — the fall, not the escape, is the evidence."""
    s = vc.solve(vc.Problem(bratu, (0.0, 1.0), bc=ZERO_ENDS), n=51)
    assert s.status == Status.UNBOUNDED and np.max(np.abs(s.f)) < 1e3
    assert "f > 0 makes G negative" in s.message and "vc.Bound(upper=...)" in s.message


def test_some_negative_directions_suggest_stationary():
    """Allen–Cahn from near its maximum f = 0, stopped after one step: negative directions remain."""
    ac = vc.Problem(lambda f, df, x: 0.005 * df**2 + 0.25 * (1 - f**2) ** 2, (0.0, 1.0))
    s = vc.solve(ac, n=51, guess=lambda x: 0.05 + 0.01 * x, solver=vc.Newton(max_iter=1))
    assert s.status == Status.MAX_ITERATIONS and 0 < s.negative < 51
    assert f"{s.negative} negative direction(s)" in s.message and STATIONARY in remedy(s.message)
    assert MAXIMIZE not in s.message


def test_max_iterations_with_a_feasible_guess_does_not_blame_it():
    cosh1 = float(np.cosh(1.0))
    p = vc.Problem(catenary, (-1.0, 1.0), bc={"left": cosh1, "right": cosh1})
    s = vc.solve(p, n=21, solver=vc.Newton(max_iter=2))
    assert s.status == Status.MAX_ITERATIONS
    assert "max_iter = 2" in s.message and "Newton(max_iter=...)" in remedy(s.message)
    assert no_guess_blamed(s.message) and STATIONARY not in s.message and MAXIMIZE not in s.message


def test_line_search_failed_row():
    m = Status.LINE_SEARCH_FAILED.message
    assert "decrease of J" in m and "domain of definition" in m and no_guess_blamed(m)
    assert "increase of J" in compose_message(Status.LINE_SEARCH_FAILED, "maximize")
    assert "‖∇L‖" in compose_message(Status.LINE_SEARCH_FAILED, "stationary")


def test_rows_are_chosen_by_evidence():
    """The same status gets different advice from the mode and the evidence."""
    assert (
        advice(Status.MAX_ITERATIONS, {"minimize", "all_negative"}).remedy
        != advice(Status.MAX_ITERATIONS, {"minimize", "negative"}).remedy
    )
    assert advice(Status.UNBOUNDED, {"stationary"}) is not advice(Status.UNBOUNDED, {"minimize"})
    with pytest.raises(ValueError):
        compose_message(99, "minimize")


def test_continuation_over_the_ring_radius_finds_the_fold():
    """The remedy the catenoid's message gives: rings at ±1 (L = 1), R from 2 down to 1.3; the
    branch ends at R* = min_a a cosh(1/a) = cosh(u)/u at u tanh u = 1: 1.50888."""
    from varcalc.problems import parametric_catenoid as pc

    u = 1.19967864025773  # u tanh u = 1
    assert abs(u * np.tanh(u) - 1.0) < 1e-12
    r_star = np.cosh(u) / u
    problem = vc.Problem(pc.integrand, (-1.0, 1.0), bc={"left": 0.0, "right": 0.0}, params={"R": 2.0, "L": 1.0})
    res = vc.continuation(problem, {"R": (2.0, 1.3)}, n=41, steps=6, tol=1e-2, certificate=False)
    assert res.lost
    last, first_failed = res.fold
    assert first_failed < last and first_failed - 0.01 < r_star < last + 0.01, res.fold
