"""The projected finish's active set (value bounds, issue-15/16 follow-up): its identification is
stable next to the free boundary, and the barrier is left only once its contact set is resolved on
the mesh.  Degree-p obstacles at N = 1e4 used to stop at MAX_ITERATIONS on both counts (the big
sizes are in benchmarks/bench_bounds.py); here the step's pieces are checked directly, in numpy
(nothing compiled)."""

import numpy as np
import pytest

from varcalc.drivers import context
from varcalc.steps import MinimizeStep

N = 7
H_DIAG = 2.0e4  # a stiff chain (½ K f'² on cells of 1e-4): pushes g/H_jj are ~1e-8 of g


def _chain(U, g, mu=0.0):
    """A projected-phase plan of one Newton step on a chain of N values, both ends fixed, lower bound 0."""
    step = MinimizeStep(max_iter=10, max_backtracks=5, bounds=True, xp=np)
    fixed = np.zeros((1, N), bool)
    fixed[0, [0, -1]] = True
    mass = np.full(N, 1e-4)
    ctx = context(
        {"mass": mass}, fixed, np.float64(1e-10), np.float64(1e-14), np.zeros((1, N)), np.full((1, N), np.inf)
    )
    s = step.init(np.asarray(U, float)[None], ctx)
    s = dict(s, U=np.asarray(U, float)[None], k=np.int32(3), mu=np.float64(mu), mu0=np.float64(1.0))
    D = dict(
        L=np.float64(0.0),
        g=np.asarray(g, float)[None],
        scale=np.float64(1.0),
        diag=np.full((1, 1, N), H_DIAG),
        upper=np.full((1, 1, N - 1), -0.5 * H_DIAG),
    )
    return step, ctx, step.plan(s, D, ctx)


pytestmark = pytest.mark.filterwarnings(
    "ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning"
)  # log(0) at μ = 0, as on the host


def test_a_free_value_a_rounding_gap_from_its_bound_is_not_snapped_onto_it():
    """Node 2's discrete gap (1e-9) is below the old fixed ε = 1e-8 and its gradient is rounding
    (1e-18, outward): it is free, and the step must leave it there (it was snapped onto the bound,
    pulled off by the next step, snapped again: the cycle that ran degree 2..4 at N = 1e4 to
    MAX_ITERATIONS).  Node 4 is on the bound, pushed outward: it stays on it.  Node 6's gradient is
    a residual still to be removed elsewhere (it made the old ε its full 1e-8)."""
    U = [0.0, 3e-3, 1e-9, 2e-3, 0.0, 2e-3, 0.0]
    g = [0.0, 0.0, 1e-18, 0.0, 1e-4, 1e-6, 0.0]
    step, ctx, P = _chain(U, g)
    nxt = step.trial(P, 1.0, ctx)[0]
    assert nxt[2] > 0.5e-9  # moved by its Newton step only (~1e-22), not onto the bound
    assert nxt[4] == 0.0 and P["du"][0, 4] == 0.0  # active: held on the bound
    np.testing.assert_allclose(nxt[[1, 3]], np.array(U)[[1, 3]], rtol=0, atol=1e-15)


def test_a_contact_value_above_the_old_epsilon_is_active_when_its_push_crosses_the_bound():
    """Gap 5e-8 (above the old fixed ε = 1e-8): with g = 1e-4 the push g/H_jj = 5e-9 is below the gap
    (free); with g = 2e-3 it is 1e-7 >= 5e-8: active and moved onto the bound (the projected step's ε
    scales with the mesh and the integrand)."""
    U = [0.0, 3e-3, 5e-8, 3e-3, 0.0, 0.0, 0.0]
    step, ctx, P = _chain(U, [0.0, 0.0, 1e-4, 0.0, 0.0, 0.0, 0.0])
    assert step.trial(P, 1.0, ctx)[0, 2] > 0.0  # push 5e-9 < gap: a free value, moved by Newton
    step, ctx, P = _chain(U, [0.0, 0.0, 2e-3, 0.0, 0.0, 0.0, 0.0])
    assert step.trial(P, 1.0, ctx)[0, 2] == 0.0  # push 1e-7 >= gap: active, on the bound ...
    assert P["du"][0, 2] == -5e-8 and P["du"][0, 1] == 0.0  # ... snapped and held (no pull on node 1)


def test_the_barrier_is_left_only_once_its_contact_set_is_resolved_on_the_mesh():
    """A barrier iterate on the central path (gap = μ m/λ at the contact values, λ = m here): with
    μ above the mesh's push λ/H_jj the first projected step would free the contact set and
    overshoot; the ladder goes on down.  An inactive bound (large gaps) never holds the barrier."""
    step = MinimizeStep(max_iter=10, max_backtracks=5, bounds=True, xp=np)
    mass = np.full(N, 1e-4)
    ctx = context({"mass": mass}, np.zeros((1, N), bool), 1e-10, 1e-14, np.zeros((1, N)), np.full((1, N), np.inf))
    keep, curv = np.ones((1, N), bool), np.full((1, N), H_DIAG)
    contact = np.array([[0.1, 0.05, 1.0, 1.0, 1.0, 0.05, 0.1]])  # 1: in contact (gap = μ), else free

    def resolved(mu):
        U = np.where(contact == 1.0, mu, contact)
        return bool(step._resolved(U, mu, 1e-3, ctx, keep, curv))

    # push = λ/H = 1e-4/2e4 = 5e-9: gaps μ above it are not resolved, below it they are
    assert not resolved(1e-7)
    assert resolved(1e-9)
    assert bool(step._resolved(contact, 1e-7, 1e-3, ctx, keep, curv))  # inactive: nothing held
    mu_next, _ = step._mu_ladder(np.float64(1e-7), np.float64(1.0), True, projected=True, resolved=False)
    assert 0 < mu_next < 1e-7  # r < _BARRIER_EXIT but unresolved: μ falls on instead of leaving
    mu_next, _ = step._mu_ladder(np.float64(1e-7), np.float64(1.0), True, projected=True, resolved=True)
    assert mu_next == 0.0


def _slope_plan(value_before):
    """A slope-bounded plan at the barrier's floor whose unshifted Hessian has a pivot lost to
    rounding (the 2x2 block [[1e14, 1e7], [1e7, 1 - 1e-12]]: pivot -1e-12, positive after the
    smallest shift) and a small step; ``value_before``: J (with the barrier) at the previous iterate."""
    n = 3
    step = MinimizeStep(max_iter=50, max_backtracks=5, bounds=True, xp=np)
    aux = dict(
        mass=np.ones(n),
        slope_lower=np.full((n - 1, 1), -np.inf),
        slope_upper=np.full((n - 1, 1), np.inf),
        slope_D=np.array([[-1.0, 1.0]]),
        slope_w=np.ones(1),
    )
    fixed = np.array([[True, False, False]])
    ctx = context(
        aux,
        fixed,
        np.float64(1e-10),
        np.float64(1e-14),
        np.full((1, n), -np.inf),
        np.full((1, n), np.inf),
        np.linspace(0.0, 1.0, n),
    )
    s = step.init(np.ones((1, n)), ctx)  # (|U| = 1: the step tolerance is rtol)
    s = dict(s, k=np.int32(5), mu=np.float64(1e-9), mu0=np.float64(1.0))
    s["value"] = s["value"].copy()
    s["value"][4] = value_before
    diag = np.array([[[1.0, 1e14, 1.0 - 1e-12]]])
    upper = np.array([[[0.0, 1e7]]])
    D = dict(L=np.float64(1.0), g=np.array([[0.0, 1e-20, 1e-20]]), scale=np.float64(1.0), diag=diag, upper=upper)
    return step.plan(s, D, ctx)


def test_a_shifted_small_step_at_the_slope_floor_converges_only_once_J_has_stalled():
    """At the slope barrier's floor a step damped by the smallest shift can be small while J still
    falls (N = 1e4, f' <= 1: SUCCESS 1.4e-6 from the solution, J falling 3e-11 per iteration): it
    is not convergence until J stalls at its rounding level."""
    P = _slope_plan(1.0 + 1e-9)  # J fell by 1e-9 over the last iteration
    assert float(P["tau"]) == 1e-8 and float(P["step_norm"]) < 1e-12
    assert not bool(P["converged"])
    assert bool(_slope_plan(1.0)["converged"])  # stalled: converged
