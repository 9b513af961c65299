"""The planar (2-D) Newton is the generic step (``varcalc.steps.MinimizeStep``) on a sparse
Hessian operator: one inertia correction, one line search, one set of constants, for 1-D and 2-D.

The double well in the slope, ``G = (u_x² - 1)² + 0.3 u_x``, is nonconvex (its Hessian is
indefinite where ``|u_x| < 1/√3``), so Newton needs the inertia correction for most of its path.
On a rectangle with Dirichlet data on the left and right sides only, it does not depend on ``y``:
every P1 triangle of the structured mesh has one horizontal edge, ``u_x`` is the slope along it, so
the 2-D problem is one weighted copy of the 1-D problem per row of nodes, and the two solvers must
take the same iterates (same shifts, same step lengths, the same values up to rounding) to the
same minimiser.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import varcalc as vc
import varcalc.planar.solve as planar_solve
from varcalc import newton, steps
from varcalc.planar import PlanarProblem, Rectangle, solve_planar
from varcalc.planar.linear import SparseHessian

N, NY, HEIGHT = 9, 3, 0.5


def well(p):
    return (p**2 - 1.0) ** 2 + 0.3 * p


def well_1d(f, df, x):
    return well(df)


def well_2d(u, du, x):
    return well(du[0])


def start(x):
    return 0.2 * x + 0.05 * np.sin(3 * np.pi * x)


_SOLVES = {}


def one_d():
    if "1d" not in _SOLVES:
        prob = vc.Problem(well_1d, (0.0, 1.0), bc={"left": 0.0, "right": 0.2})
        _SOLVES["1d"] = vc.solve(prob, n=N, guess=start)
    return _SOLVES["1d"]


def planar_problem():
    return PlanarProblem(
        well_2d,
        Rectangle((0, 1), (0, HEIGHT)),
        bc={"left": lambda p: 0.0 * p[:, 0], "right": lambda p: 0.2 + 0.0 * p[:, 0]},
    )


def two_d(**kw):
    key = ("2d",) + tuple(sorted(kw.items()))
    if key not in _SOLVES:
        _SOLVES[key] = solve_planar(planar_problem(), n=(N, NY), guess=lambda p: start(p[:, 0]), **kw)
    return _SOLVES[key]


def test_1d_and_2d_newton_take_the_same_iterates():
    a, b = one_d(), two_d()
    assert a.converged and b.converged
    k = a.iterations
    shift_1d, alpha_1d = a.stats["shift"][: k + 1], a.stats["alpha"][: k + 1]
    assert shift_1d[0] > 0 and np.sum(shift_1d > 0) > 5  # the inertia correction is used throughout
    # planar counts the converged step as an iteration and records the final iterate's row
    assert b.iterations == k + 1
    np.testing.assert_array_equal(b.history["shift"][: k + 1], shift_1d)
    np.testing.assert_array_equal(b.history["alpha"][: k + 1], alpha_1d)
    # the two factorisations (block LDLᵀ, SuperLU) round differently, and the shifted phase of a
    # nonconvex problem amplifies that (to ~1e-7 relative here): the path agrees, not every digit
    np.testing.assert_allclose(b.history["value"][: k + 1], HEIGHT * np.asarray(a.stats["value"])[: k + 1], rtol=1e-5)
    np.testing.assert_allclose(b.u, np.interp(b.nodes[:, 0], a.x, a.f), atol=1e-12)
    assert abs(b.value - HEIGHT * a.value) < 1e-12


def test_the_cg_path_takes_the_shifted_steps_too():
    """AMG-CG cannot see the pivots: the curvature along the step of the shifted matrix decides.
    (Its inexact steps may end in another of the well's many local minima: compare properties.)"""
    c = two_d(linear_solver="cg")
    assert c.converged and c.stats["linear_solver"] == "cg"
    k = c.iterations - 1
    assert c.history["shift"][0] > 0 and c.history["shift"][k] == 0  # positive definite at the end
    assert c.history["residual"][-1] < 1e-9 * c.history["residual"][0]
    rows = c.u.reshape(NY, N)  # y-independent, as the problem
    np.testing.assert_allclose(rows, np.broadcast_to(rows[0], rows.shape), atol=1e-9)


def test_planar_solve_runs_through_the_shared_step(monkeypatch):
    # no loop constants of its own
    for name in ("_ARMIJO_C1", "_SHIFT_MIN", "_SHIFT_MAX", "_ROUNDING"):
        assert not hasattr(planar_solve, name)
    calls = []
    plan = steps.MinimizeStep.plan

    def spy_plan(self, s, D, ctx):
        calls.append(type(D["H"]).__name__)
        return plan(self, s, D, ctx)

    monkeypatch.setattr(steps.MinimizeStep, "plan", spy_plan)
    # the inertia correction's constant is newton's: a first shift of 3e-8 gives the schedule 3e-8 · 10^j
    monkeypatch.setattr(newton, "_SHIFT_MIN", 3e-8)
    s = solve_planar(planar_problem(), n=(N, NY), guess=lambda p: start(p[:, 0]))
    assert calls and set(calls) == {"SparseHessian"} and len(calls) == s.iterations
    j = np.log10(s.history["shift"][0] / 3e-8)
    assert s.history["shift"][0] > 0 and abs(j - round(j)) < 1e-9


def test_one_inertia_correction_for_both_operators():
    """``newton.shifted_solve`` on the same indefinite tridiagonal matrix, as the 1-D block operator
    (traced JAX) and as the sparse operator (SciPy on the host): same shift, step and inertia."""
    import jax.numpy as jnp

    n = 12
    rng = np.random.default_rng(0)
    main = 2.0 + rng.uniform(0, 1, n)
    main[3] = main[7] = -1.5  # two negative pivots
    off = -0.5 * np.ones(n - 1)
    g = rng.normal(size=n)
    dense = np.diag(main) + np.diag(off, 1) + np.diag(off, -1)

    op1 = newton.BlockTridiagonal(jnp.asarray(main)[None, None, :], jnp.asarray(off)[None, None, :])
    d1, _, ok1, tau1, neg1 = newton.shifted_solve(op1, jnp.asarray(g)[None, :], jnp.zeros(0), 0.0, 0)

    csr = sp.csr_matrix(dense)

    class Pattern:  # what SparseHessian needs of planar.assemble.Pattern
        diag = np.array(
            [csr.indptr[i] + np.flatnonzero(csr.indices[csr.indptr[i] : csr.indptr[i + 1]] == i)[0] for i in range(n)]
        )

        @staticmethod
        def assemble(_):
            return csr.copy()

    op2 = SparseHessian(Pattern(), None, np.arange(n), n, "direct")
    d2, _, ok2, tau2, neg2 = newton.shifted_solve(op2, g[None, :], np.zeros(0), 0.0, 0)

    assert bool(ok1) and bool(ok2) and float(tau1) == float(tau2) > 0
    assert int(neg1) == int(neg2) == np.sum(np.linalg.eigvalsh(dense) < 0) == 2
    np.testing.assert_allclose(np.asarray(d1), d2, rtol=1e-12, atol=1e-14)
    # the step is the modified Newton step (H + τ S) d = -g, S = diag(|H_jj|)
    np.testing.assert_allclose((dense + float(tau2) * np.diag(np.abs(main))) @ d2[0], -g, atol=1e-12)


def test_failure_statuses_come_from_the_shared_step():
    """A nonfinite start is NONFINITE (no line search on NaN), as in 1-D."""
    prob = PlanarProblem(
        lambda u, du, x: du @ du + jnp_sqrt(u), Rectangle((0, 1), (0, 1)), bc=lambda p: np.zeros(len(p))
    )
    s = solve_planar(prob, n=5, guess=lambda p: -1.0 - 0.0 * p[:, 0])
    assert not s.converged and s.status == vc.Status.NONFINITE and s.iterations == 0
    assert len(s.history["value"]) == 1


def jnp_sqrt(u):
    import jax.numpy as jnp

    return jnp.sqrt(u)


@pytest.mark.parametrize("max_iter", [1, 2])
def test_max_iterations_counts_like_before(max_iter):
    s = solve_planar(planar_problem(), n=(N, NY), guess=lambda p: start(p[:, 0]), solver=vc.Newton(max_iter=max_iter))
    assert s.status == vc.Status.MAX_ITERATIONS and s.iterations == max_iter
    assert all(len(v) == max_iter + 1 for v in s.history.values())
