"""Pseudo-arclength continuation around folds, branch points and branch switching (issue 17 item 2),
against closed forms: the Bratu fold λ* and both its branches, the catenoid's Goldschmidt fold
with the deep branch followed back, Euler buckling's pitchfork at P = π²/4; the catalog modules
bratu and elastica_buckling; the progress bar."""

import io

import numpy as np
import pytest
from conventions import check_module_convention
from varcalc.problems import bratu, catenoid
from varcalc.problems import elastica_buckling as eb
from varcalc.problems import parametric_catenoid as pc

import varcalc as vc
from varcalc import progress


@pytest.fixture(scope="module")
def bratu_diagrams():
    """λ from 1 to 4 on n and 2n - 1 nodes (h halves)."""
    return {n: vc.continuation(bratu.problem, {"lam": (1.0, 4.0)}, method="arclength", n=n) for n in (51, 101)}


def test_bratu_fold_and_both_branches_at_second_order(bratu_diagrams):
    fold_err, err_lower, err_upper = [], [], []
    for d in bratu_diagrams.values():
        assert len(d.branches) == 1 and len(d.folds) == 1 and d.branch_points == []  # the upper: by the fold
        b = d.branches[0]
        assert b.parameter[0] == 1.0 and b.parameter[-1] == 1.0 and b.t[-1] == 0.0  # there and back again
        assert b.negatives[0] == 0 and b.negatives[-1] == 1  # the minimum, then the saddle of index 1
        fold_err.append(d.folds[0].parameter - bratu.LAMBDA_STAR)
        err_lower.append(np.max(np.abs(b.f[0] - bratu.exact_for(1.0)(b.x))))
        err_upper.append(np.max(np.abs(b.f[-1] - bratu.exact_for(1.0, "upper")(b.x))))
        assert d.count_at(3.4) == 2 and d.count_at(3.6) == 0  # λ* bracketed
    for e in (fold_err, err_lower, err_upper):
        assert abs(e[1]) < 2e-3
        assert abs(np.log2(abs(e[0] / e[1])) - 2.0) < 0.15, e  # second order
    assert 0 < fold_err[1] < 1e-3  # the discrete fold lies just above λ* here (measured 5.2e-4)


def test_deflated_continuation_from_where_none_exists():
    """λ from 4 (past the fold: no solution, the start fails) to 1: deflation at the end of the
    path finds the two solutions there, and the branch is followed backwards round the fold."""
    d = vc.continuation(bratu.problem, {"lam": (4.0, 1.0)}, method="arclength", n=51)
    assert [b.origin for b in d.branches] == ["deflation at the end"] and len(d.folds) == 1
    assert abs(d.folds[0].parameter - bratu.LAMBDA_STAR) < 3e-3  # the n = 51 grid's fold (2.1e-3 above)
    assert d.branches[0].parameter.tolist()[:: len(d.branches[0].t) - 1] == [1.0, 1.0]


def test_bratu_diagram_plot(bratu_diagrams, tmp_path):
    d = bratu_diagrams[51]
    ax = d.plot(tmp_path / "bratu.png", measure=bratu.measure)
    styles = {line.get_linestyle() for line in ax.lines}
    assert "-" in styles and "--" in styles  # stable solid, unstable dashed
    assert (tmp_path / "bratu.png").stat().st_size > 0


def test_catenoid_fold_and_the_deep_branch_back():
    d = vc.continuation(pc.problem, {"R": (1.0, 0.7)}, method="arclength", n=81, deflate=False)
    R_star = 0.5 * 1.5088794749  # L times the Goldschmidt ratio
    assert len(d.folds) == 1 and abs(d.folds[0].parameter - R_star) < 1e-3
    b = d.branches[0]
    assert b.parameter[-1] == 1.0 and b.negatives[-1] == 1
    c_deep = catenoid.catenary_parameters(L=0.5, R=1.0)[1]
    deep = c_deep * np.cosh(0.5 * b.x / c_deep) - 1.0
    assert np.max(np.abs(b.f[-1] - deep)) < 5e-3  # O(h²) at n = 81


def test_euler_buckling_pitchfork():
    """The straight column θ = 0 loses stability at P_c = π²/4; two buckled branches ±θ bifurcate,
    stable, and reach the closed form θ = 2 arcsin(k sn(√P s)) at P = 4."""
    d = vc.continuation(eb.problem, {"P": (1.0, 4.0)}, method="arclength", n=101, guess=lambda s: 0 * s)
    assert len(d.branch_points) == 1 and d.folds == []
    assert abs(d.branch_points[0].parameter - eb.P_CRITICAL) < 5e-4  # discrete: O(h²) (measured 1.0e-4)
    straight, up, down = d.branches
    assert np.all(straight.f == 0) and straight.negatives[0] == 0 and straight.negatives[-1] == 1
    exact = eb.exact_for(4.0)(up.x)
    for b, sign in ((up, 1), (down, -1)):
        assert b.parameter[-1] == 4.0 and np.all(b.negatives == 0)
        assert np.max(np.abs(b.f[-1] - sign * exact)) < 1e-3


@pytest.mark.parametrize("mod, name", [(bratu, "bratu"), (eb, "elastica_buckling")])
def test_catalog_modules(mod, name):
    check_module_convention(mod, name)
    errors = []
    for n in (51, 101):
        sol = vc.solve(mod.problem, n=n, guess=getattr(mod, "guess", None))
        assert sol.converged and sol.certificate.verdict == "strict local minimum"
        errors.append((np.max(np.abs(sol.f - mod.exact(sol.x))), abs(sol.value - mod.problem.exact_value)))
    order = np.log2(np.array(errors[0]) / np.array(errors[1]))
    assert np.all(np.abs(order - 2.0) < 0.15), order


def test_arguments_and_the_natural_method_message():
    with pytest.raises(ValueError, match="method"):
        vc.continuation(pc.problem, {"R": (1.0, 0.9)}, n=41, method="pseudo")
    with pytest.raises(ValueError, match="ds"):
        vc.continuation(pc.problem, {"R": (1.0, 0.9)}, n=41, method="arclength", ds=2.0)


def test_progress_bar():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    with progress.bar(4, "sweep", enabled=True, stream=out) as b:
        b.update(2)
        b.note("J = 1")
    assert "sweep [" in out.getvalue() and "2/4" in out.getvalue()
    pipe = io.StringIO()  # not a terminal: nothing drawn
    with progress.bar(4, "sweep", enabled=True, stream=pipe) as b:
        b.update(4)
    assert pipe.getvalue() == ""
    with pytest.raises(TypeError, match="progress"):
        progress.bar(4, "sweep", enabled="yes")


def test_cli_continue_and_solve_all(tmp_path, capsys):
    from varcalc.cli import main

    out = tmp_path / "d.png"
    assert main(["continue", "bratu", "--param", "lam", "--values", "1:4:8", "--n", "41", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fold at lam = 3.51" in text and out.stat().st_size > 0
    assert main(["solve", "bratu", "--all", "--n", "41", "--no-plot"]) == 0
    text = capsys.readouterr().out
    assert "2 extremal(s)" in text and "saddle of index 1" in text
    for argv in (
        ["continue", "bratu", "--param", "mu", "--values", "1:4:8"],
        ["continue", "bratu", "--param", "lam", "--values", "1,2"],
        ["continue", "catenoid", "--param", "R", "--values", "1:2:3"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("varcalc: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_integral_constraint_chain_length():
    """A chain between (±1, 1) whose length L = ∫ √(1 + f'²) is the parameter (the constraint's
    integrand carries it): followed from L = 3 to 4 with its multiplier, a minimum throughout,
    the catenary f = c cosh(x/c) + 1 - c cosh(1/c), 2c sinh(1/c) = L, at both ends."""
    import jax.numpy as jnp
    import scipy.optimize

    chain = vc.Problem(
        lambda f, df, x, p: f * jnp.sqrt(1 + df**2),
        (-1.0, 1.0),
        bc={"left": 1.0, "right": 1.0},
        constraints=[vc.Integral(lambda f, df, x, p: jnp.sqrt(1 + df**2) - p["L"] / 2, 0.0)],
        params={"L": 3.0},
    )
    d = vc.continuation(chain, {"L": (3.0, 4.0)}, method="arclength", n=51, deflate=False)
    (b,) = d.branches
    assert b.parameter[0] == 3.0 and b.parameter[-1] == 4.0 and np.all(b.negatives == 0)
    for i in (0, -1):
        c = scipy.optimize.brentq(lambda c: 2 * c * np.sinh(1 / c) - b.parameter[i], 0.05, 50)
        exact = c * np.cosh(b.x / c) + 1 - c * np.cosh(1 / c)
        assert np.max(np.abs(b.f[i] - exact)) < 3e-4  # O(h²) at n = 51 (n = 101: 3.9e-5, 5.2e-5)
