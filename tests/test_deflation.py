"""All the extremals by deflation (issue 17 item 1): ``vc.solve_all`` against closed forms."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import varcalc as vc


def _solve_all(problem, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "found k extremal(s) ... more may exist"
        return vc.solve_all(problem, n=n)


def _bratu(lam):
    return vc.Problem(lambda f, df, x: 0.5 * df**2 - lam * jnp.exp(f), (0.0, 1.0), bc={"left": 0.0, "right": 0.0})


def test_both_bratu_solutions_at_second_order():
    """G = f'²/2 - λ eᶠ, λ = 2: f = -2 ln(cosh((x - ½)θ/2) / cosh(θ/4)), θ = √(2λ) cosh(θ/4) has two
    roots; the lower solution is a minimum, the upper a saddle of index 1."""
    lam = 2.0
    thetas = [
        scipy.optimize.brentq(lambda t: t - np.sqrt(2 * lam) * np.cosh(t / 4), a, b) for a, b in ((0.1, 3), (3, 20))
    ]
    exact = [lambda x, t=t: -2 * np.log(np.cosh((x - 0.5) * t / 2) / np.cosh(t / 4)) for t in thetas]
    errors = []
    for n in (101, 201):
        sols = _solve_all(_bratu(lam), n)
        assert len(sols) == 2 and all(s.converged for s in sols)
        assert sols[0].value < sols[1].value  # sorted by J
        errors.append([np.max(np.abs(s.f - e(s.x))) for s, e in zip(sols, exact)])
    errors = np.array(errors)
    assert np.all(errors[1] < 1e-3)
    np.testing.assert_allclose(np.log2(errors[0] / errors[1]), 2.0, atol=0.1)  # second order, both
    assert [s.certificate.verdict for s in sols] == ["strict local minimum", "saddle of index 1"]


def test_bratu_fold_is_bracketed():
    """Two solutions below λ* ≈ 3.5138, none above."""
    assert len(_solve_all(_bratu(3.4), 101)) == 2
    assert len(_solve_all(_bratu(3.6), 101)) == 0


def test_catenoid_branches_and_none_past_the_fold():
    """Rings of radius R at x = ±1: catenaries a cosh(x/a) with a cosh(1/a) = R.  R = 1.6: two (the
    shallow one a minimum, the deep one a saddle of index 1); R = 1.4 (past R* = 1.5089): none."""
    R = 1.6
    a = sorted(scipy.optimize.brentq(lambda a: a * np.cosh(1 / a) - R, lo, hi) for lo, hi in ((0.3, 0.8), (0.8, 1.6)))
    cat = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": R, "right": R})
    sols = _solve_all(cat, 101)
    assert len(sols) == 2
    shallow, deep = sols
    assert abs(shallow.f.min() - a[1]) < 1e-3 and abs(deep.f.min() - a[0]) < 2e-3  # O(h²) at n = 101
    assert shallow.certificate.verdict == "strict local minimum"
    assert deep.certificate.verdict == "saddle of index 1"
    past = vc.Problem(cat.integrand, cat.domain, bc={"left": 1.4, "right": 1.4})
    assert _solve_all(past, 101) == []


def test_integral_constraint_chain_and_arch():
    """A chain of length 3 between (±1, 1): the hanging catenary (the minimum) and its mirror image,
    the arch 2 - f (a saddle), both with the multiplier of the length constraint (the deflated
    Newton steps on the bordered KKT system).  Closed form f = c cosh(x/c) + 1 - c cosh(1/c),
    2c sinh(1/c) = 3.  From the default guess only the chain is reached; the guess bulging up
    reaches the arch."""
    chain = vc.Problem(
        lambda f, df, x: f * jnp.sqrt(1 + df**2),
        (-1.0, 1.0),
        bc={"left": 1.0, "right": 1.0},
        constraints=[vc.Integral(lambda f, df, x: jnp.sqrt(1 + df**2), 3.0)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sols = vc.solve_all(chain, n=101, guesses=[lambda x: 1 + 0.1 * np.cos(np.pi * x / 2)])
    c = scipy.optimize.brentq(lambda c: 2 * c * np.sinh(1 / c) - 3, 0.1, 5)
    hang = lambda x: c * np.cosh(x / c) + 1 - c * np.cosh(1 / c)
    assert len(sols) == 2
    for s, exact in zip(sols, (hang, lambda x: 2 - hang(x))):
        assert np.max(np.abs(s.f - exact(s.x))) < 1e-4  # O(h²) at n = 101 (measured 3.9e-5)
    assert sols[0].certificate.verdict == "strict local minimum" and sols[1].certificate.negative > 0


def test_refusals():
    free = vc.Problem(
        lambda f, df, x: jnp.sqrt(1 + df**2),
        (0.0, 1.0),
        bc={"left": 0.0},
        right_end=vc.OnCurve(lambda x, f: x + f - 2.0),
    )
    with pytest.raises(ValueError, match="pointwise constraints and free ends"):
        vc.solve_all(free, n=21)
    with pytest.raises(ValueError, match="max_solutions"):
        vc.solve_all(_bratu(1.0), n=21, max_solutions=0)


def test_modes_past_two_conjugate_points_and_none_past_the_fold():
    """The oscillator over [0, 7] (past 2π): its one extremal is a saddle of index 2, returned with
    mode="stationary" and filtered out with mode="minimize"; past the catenoid's fold the warning
    says that no extremal was found and none may exist."""
    from varcalc.problems import harmonic_oscillator_long as ho

    p = ho.make_problem(7.0)
    with pytest.warns(UserWarning, match="found 1 extremal"):
        sols = vc.solve_all(p, n=81)
    assert [s.certificate.verdict for s in sols] == ["saddle of index 2"]
    assert np.max(np.abs(sols[0].f - p.exact(sols[0].x))) < 1e-2
    with pytest.warns(UserWarning, match="0 of them local minima"):
        assert vc.solve_all(p, n=81, mode="minimize") == []
    with pytest.raises(ValueError, match="mode"):
        vc.solve_all(p, n=81, mode="saddle")
    past = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": 1.4, "right": 1.4})
    with pytest.warns(UserWarning, match="no extremal found.*none may exist"):
        assert vc.solve_all(past, n=101) == []
