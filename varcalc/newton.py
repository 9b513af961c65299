"""Globalised Newton on the exact second variation: options, statuses, the bordered solve.

The iteration itself is written once as generic step pieces (:mod:`varcalc.steps`) and run by
two drivers (:mod:`varcalc.drivers`: one fused ``lax.while_loop``, or a Python loop around a
small per-integrand kernel).  Two kinds of iteration:

* ``minimize_loop`` — unconstrained minimisation (and :class:`~varcalc.Bound` obstacles),
  merit function ``J_h`` itself;
* ``stationary_loop`` — Newton on the KKT system ``∇L(V, z) = 0`` of a Lagrangian with global
  unknowns ``z`` (multipliers, a free end), bordered block-tridiagonal solve in O(n k): SQP with
  an exact-penalty merit and inertia correction for constrained minima, or the residual norm as
  merit for ``mode="stationary"`` (saddles).

Each iteration of ``minimize_loop``, at the iterate ``U_k``:

1. ``g = ∇J_h`` and the block-tridiagonal Hessian ``H`` on the free unknowns (Dirichlet values
   are fixed: their rows and columns become the identity, see :func:`restrict`).
2. Factor ``H`` (block LDLᵀ).  If a pivot is not positive the Hessian is indefinite and the
   Newton direction may point uphill or toward a saddle: retry with ``H + τ S``,
   ``S = diag(|H_jj|)`` (Levenberg–Marquardt scaling, invariant to the units of ``f``), with
   ``τ`` growing tenfold from ``max(τ_prev/10, 1e-8)`` until the factorisation is positive
   definite — a *modified* Newton step, always a descent direction.
3. Stop on the scaled residual: the unmodified Newton step ``du = -H⁻¹∇J_h`` is the residual
   measured in the metric of the second variation (invariant to the units of ``f`` and ``x``
   and to the grid size, unlike ``‖∇J_h‖``).  If ``‖du‖∞ <= atol + rtol ‖U‖∞`` with ``H``
   positive definite, the iterate is a non-degenerate local minimiser up to rounding: take the
   step and stop (converged).  The history records the pointwise residual ``∇J_h / (lumped
   mass)`` too, which approximates the strong Euler–Lagrange residual.
4. Backtracking line search on ``J_h`` (Armijo, ``c1 = 1e-4``, halving): a trial value that is
   NaN/inf is rejected like an increase, so Newton never steps to where ``G`` is undefined
   (e.g. the brachistochrone's ``sqrt`` of a negative depth).

Everything is a pure function of arrays, so the loop can be ``jit``-ed and later ``vmap``-ed
over batches of problems; the linear solver sits behind :func:`~varcalc.linalg.block_tridiag_solve`.

The Hessian is an operator (:class:`BlockTridiagonal` in 1-D; the planar sparse operator
:class:`varcalc.planar.linear.SparseHessian` in 2-D) behind one small interface, and the inertia
correction of step 2 — the shift ``τ S`` with its constants :data:`_SHIFT_MIN`, :data:`_SHIFT_MAX`
— is written once for both (:func:`shifted_solve`), as is the line search with :data:`_ARMIJO_C1`
(:mod:`varcalc.steps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import jax.numpy as jnp
import numpy as np
from jax import lax

from .linalg import host_solve_nodes_last, solve_nodes_last

__all__ = [
    "Newton",
    "Status",
    "Advice",
    "ADVICE",
    "advice",
    "compose_message",
    "runaway",
    "BlockTridiagonal",
    "HostBlockTridiagonal",
    "shifted_solve",
    "bordered_solve",
    "restrict",
    "lumped_mass",
]


class Status(IntEnum):
    """Outcome of a solve.  ``Status.message`` says the likely cause and what to try.

    ``UNBOUNDED`` is diagnosed after the iteration, on the host, from the recorded histories
    (:func:`runaway`): a plain solve or a batch lane reports it; inside ``jit``/``vmap`` the
    traced status stays the loop's own (e.g. ``MAX_ITERATIONS``).
    """

    SUCCESS = 0
    MAX_ITERATIONS = 1
    LINE_SEARCH_FAILED = 2
    NONFINITE = 3
    NOT_FACTORIZABLE = 4
    SADDLE = 5
    INFEASIBLE = 6
    UNBOUNDED = 7

    @property
    def message(self) -> str:
        """The message of this status for a minimisation, with no further evidence."""
        return compose_message(self, "minimize")


# -- messages: what happened, then one row of the advice table (likely cause, remedy) ------------

# What happened, by status; ``(status, mode)`` keys override for a mode.  Fields in braces are
# filled by compose_message's ``details`` (defaults in _DETAILS).
_WHAT = {
    Status.SUCCESS: "converged: the Newton step fell below the tolerance with a positive definite Hessian",
    Status.MAX_ITERATIONS: "did not converge within {iterations} Newton iterations.",
    Status.LINE_SEARCH_FAILED: "the line search found no decrease of J along the Newton direction.",
    (Status.LINE_SEARCH_FAILED, "maximize"): "the line search found no increase of J along the Newton direction.",
    (Status.LINE_SEARCH_FAILED, "stationary"): (
        "the line search found no decrease of the residual ‖∇L‖ along the Newton direction."
    ),
    Status.NONFINITE: "the gradient or Hessian of J became NaN/inf.",
    Status.NOT_FACTORIZABLE: "the Hessian could not be made positive definite (or invertible) by a diagonal shift.",
    Status.SADDLE: (
        "Newton converged to a stationary point that is NOT a {extremum}: the second variation (on "
        "the constraints' tangent space) is not positive definite there (see Solution.negative)."
    ),
    Status.INFEASIBLE: "a constraint could not be satisfied (see Solution.constraint_residuals).",
    Status.UNBOUNDED: "did not converge: the iterates run off to infinity ({runaway}).",
}

_DETAILS = dict(
    iterations="max_iter",
    runaway="|f| grows without bound",
    negative="some",
    directions="all",
    bound_hint="vc.Bound(lower=..., upper=...)",
)


@dataclass(frozen=True)
class Advice:
    """One row of the message table: for ``statuses`` when every fact in ``when`` holds, the
    likely ``cause`` and the ``remedy``.

    Facts: the mode (``"minimize"``, ``"maximize"``, ``"stationary"``) and the evidence that
    :meth:`varcalc.Solution` gathers from the run: ``"all_negative"`` (every direction of the
    second variation negative at the last iterate), ``"negative"`` (some), ``"no_negative"``
    (none), ``"guess_nonfinite"`` (J or its gradient NaN/inf at the guess itself).
    """

    statuses: tuple
    when: frozenset
    cause: str
    remedy: str


def _row(statuses, when, cause, remedy):
    statuses = statuses if isinstance(statuses, tuple) else (statuses,)
    return Advice(statuses, frozenset(when), cause, remedy)


_CONTINUATION = (
    "to find where the solution ceases to exist, make the data a parameter (G(f, f', x, p): e.g. a "
    "boundary value or a ring radius) and follow it with vc.continuation from data where the "
    "solve converges: the branch ends at a fold"
)

# Situations -> (cause, remedy).  The first row whose statuses contain the status and whose facts
# all hold is used, so the specific rows come first.  Rules the rows keep (tests/test_messages.py
# checks them): never suggest the mode in use; stationary rows speak of the residual ‖∇L‖, not of J;
# only a guess at which J is not finite is blamed for a failure.
ADVICE = (
    _row(
        (Status.MAX_ITERATIONS, Status.LINE_SEARCH_FAILED, Status.UNBOUNDED, Status.SADDLE),
        {"minimize", "all_negative"},
        "the second variation is negative in every direction at the last iterate ({negative} of "
        '{directions}): the functional looks like one to maximise, stated without mode="maximize".',
        'solve with mode="maximize".',
    ),
    _row(
        (Status.MAX_ITERATIONS, Status.LINE_SEARCH_FAILED, Status.UNBOUNDED, Status.SADDLE),
        {"maximize", "all_negative"},
        "the second variation of -J is negative in every direction at the last iterate ({negative} of "
        '{directions}): the functional looks like one to minimise, stated with mode="maximize".',
        'solve with mode="minimize" (the default).',
    ),
    _row(
        Status.UNBOUNDED,
        {"stationary"},
        "no stationary point near the iterates for these data: Newton on ∇L = 0 follows the residual "
        "‖∇L‖ off to infinity.",
        f"give a guess near a stationary point, or {_CONTINUATION}.",
    ),
    _row(
        Status.UNBOUNDED,
        set(),
        "no {extremizer} exists for these data: the {extreme_value} of J is not attained by a bounded f.",
        f"keep f in a bounded set with a bound ({{bound_hint}}); {_CONTINUATION}.",
    ),
    _row(
        Status.NONFINITE,
        {"guess_nonfinite"},
        "J or its derivatives are NaN/inf at the guess itself: it touches the edge of the integrand's "
        "domain of definition (e.g. the square root of 0, whose derivative is infinite).",
        "give a guess=... strictly inside the domain of G.",
    ),
    _row(
        Status.NONFINITE,
        set(),
        "the integrand or its derivatives are singular at the iterate (e.g. at an end where f makes G "
        "blow up with a derivative that is not integrable, or where f reaches the edge of G's domain).",
        "use a graded grid toward that end (vc.graded_grid), reformulate the integrand to be "
        "differentiable there, or keep f inside G's domain with vc.Bound.",
    ),
    _row(
        Status.NOT_FACTORIZABLE,
        set(),
        "the functional is unbounded below or degenerate (e.g. no boundary condition fixes f and G does "
        "not depend on f).",
        "add a boundary condition or check the integrand.",
    ),
    _row(
        Status.SADDLE,
        {"no_negative"},
        "the second variation is singular there (a zero direction, none negative): J is flat along some "
        "variation, e.g. a null Lagrangian such as G = f' or G = f f'.",
        "check that G depends on f' in a way that fixes f (and that boundary conditions are given); the "
        "point found is stationary but not a strict {extremum}.",
    ),
    _row(
        Status.SADDLE,
        set(),
        "a saddle of the functional, e.g. Hamilton's principle past a conjugate point.",
        'if a stationary point is what you want, solve with mode="stationary"; otherwise start from a different guess.',
    ),
    _row(
        Status.INFEASIBLE,
        set(),
        "the constraint values are incompatible with the boundary conditions (no admissible curve), or "
        "Newton had not reached the constraint surface.",
        "check the constraint's value, raise Newton(max_iter=...), or follow the constraint value from a "
        "feasible one with vc.continuation.",
    ),
    _row(
        Status.MAX_ITERATIONS,
        {"stationary"},
        "the residual ‖∇L‖ was still above the tolerance: Newton on ∇L = 0 converges fast only near a "
        "non-degenerate stationary point.",
        "raise Newton(max_iter=...), or start nearer the stationary point (a solve on a coarse grid "
        "passed as guess=..., or vc.continuation from data where it converges).",
    ),
    _row(
        Status.LINE_SEARCH_FAILED,
        {"stationary"},
        "the residual ‖∇L‖ has a local minimum that is not zero here: no stationary point nearby (e.g. "
        "past a fold of the branch), or ∇L is singular.",
        f"{_CONTINUATION}; or give a guess near a stationary point.",
    ),
    _row(
        (Status.MAX_ITERATIONS, Status.LINE_SEARCH_FAILED),
        {"negative"},
        "the second variation has {negative} negative direction(s) at the last iterate: J may have no "
        "{extremum} near the iterates (e.g. Hamilton's principle past a conjugate point).",
        'for a stationary point use mode="stationary"; for a {extremum}, raise Newton(max_iter=...) '
        "or follow the data from values where one exists with vc.continuation.",
    ),
    _row(
        Status.MAX_ITERATIONS,
        set(),
        "Newton was still on its way (damped steps, no negative direction) when the iteration budget "
        "ran out: a strongly nonlinear G can need many steps.",
        "raise Newton(max_iter=...), or solve on a coarse grid first and pass that solution as guess=...",
    ),
    _row(
        Status.LINE_SEARCH_FAILED,
        set(),
        "J is undefined (NaN/inf) just beyond the iterate along the Newton direction (e.g. a square root "
        "of a negative quantity), or its decrease there is below J's rounding.",
        "check the integrand's domain of definition; a bound (vc.Bound) keeps f inside it.",
    ),
)


def advice(status: Status, facts) -> Advice:
    """The first row of :data:`ADVICE` for ``status`` whose facts all hold."""
    facts = frozenset(facts)
    for row in ADVICE:
        if status in row.statuses and row.when <= facts:
            return row
    raise KeyError(f"no advice for {Status(status).name} with {sorted(facts)}")  # every status has a catch-all


def compose_message(status: Status, mode: str, facts=(), **details) -> str:
    """What happened, then ``Likely cause: ... Remedy: ...`` from the advice table.

    ``mode``: the solve's mode (a fact of its own); ``facts``: evidence (see :class:`Advice`);
    ``details``: the numbers the texts quote (``iterations``, ``negative``, ``directions``,
    ``runaway``; the mode's words ``extremum``, ``extremizer``, ``extreme_value`` by default)."""
    status = Status(status)
    up = mode == "maximize"
    fill = dict(
        _DETAILS,
        extremum="maximum" if up else "minimum",
        extremizer="maximiser" if up else "minimiser",
        extreme_value="supremum" if up else "infimum",
    )
    fill.update(details)
    what = _WHAT.get((status, mode), _WHAT[status]).format(**fill)
    if status == Status.SUCCESS:
        return what
    row = advice(status, set(facts) | {mode})
    return f"{what} Likely cause: {row.cause.format(**fill)} Remedy: {row.remedy.format(**fill)}"


# The failures after which runaway() is asked (a converged solve or a saddle never is).
RUNAWAY_CHECKED = (Status.MAX_ITERATIONS, Status.LINE_SEARCH_FAILED, Status.NONFINITE, Status.NOT_FACTORIZABLE)


def runaway(f, guess, merit=None, *, growth=1e3, window=5):
    """Evidence that a failed solve ran off to infinity, from what the iteration recorded; or None.

    ``f``: the last iterate's values; ``guess``: the initial ones (with the Dirichlet values);
    ``merit``: the minimised value per iterate (``J``, or ``-J`` for a maximisation), or None
    where it is not ``J`` (constraints, stationary mode).  Two signs, either suffices:

    * escape: ``max |f|`` exceeds ``growth · (1 + max |guess|)`` — the iterates leave every
      bounded set (Newton on a problem with no minimiser, e.g. J → 0 only as f → ∞);
    * fall: over the last ``window`` steps the merit decreased with non-shrinking decrements (a
      converging Newton's shrink) and in all by ``growth`` times its initial size.

    Returns a dict with ``size`` (max |f|), ``scale`` (1 + max |guess|), ``escaped``, ``falling``.
    """
    f = np.abs(np.asarray(f, dtype=np.float64))
    size = float(np.max(np.where(np.isfinite(f), f, 0.0), initial=0.0))
    scale = 1.0 + float(np.max(np.abs(np.asarray(guess, dtype=np.float64)), initial=0.0))
    escaped = size > growth * scale
    falling = False
    if merit is not None:
        m = np.asarray(merit, dtype=np.float64)
        if m.size > 2 * window and np.all(np.isfinite(m)):
            drops = -np.diff(m[-(window + 1) :])
            initial = max(abs(m[0]), abs(m[1] - m[0]), np.finfo(float).tiny)
            falling = bool(np.all(drops > 0) and np.all(np.diff(drops) >= 0) and m[0] - m[-1] > growth * initial)
    if not (escaped or falling):
        return None
    return dict(size=size, scale=scale, escaped=bool(escaped), falling=falling)


@dataclass(frozen=True)
class Newton:
    """Options of the Newton solver (an immutable config object).

    Parameters
    ----------
    max_iter : int
        Maximum number of Newton iterations.
    rtol, atol : float
        Converged when the unmodified Newton step satisfies ``‖du‖∞ <= atol + rtol ‖U‖∞``.
    max_backtracks : int
        Halvings of the step in the line search before giving up.

    Examples
    --------
    >>> Newton(max_iter=50).rtol
    1e-10
    """

    max_iter: int = 100
    rtol: float = 1e-10
    atol: float = 1e-12
    max_backtracks: int = 60

    def __post_init__(self):
        for name in ("max_iter", "max_backtracks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not (v >= 0) or v == float("inf"):
                raise ValueError(f"{name}: expected a finite number >= 0, got {v!r}")

    @classmethod
    def checked(cls, solver: Newton | None) -> Newton:
        """``solver`` (the ``solver=`` argument of the solve functions) validated; ``None``: defaults."""
        if solver is None:
            return cls()
        if not isinstance(solver, cls):
            raise TypeError(f"solver: expected a vc.Newton(...) options object, got {type(solver).__name__}")
        return solver


_ARMIJO_C1 = 1e-4  # sufficient decrease J(U + a du) <= J + c1 a gᵀdu (Nocedal & Wright §3.1)
_SHIFT_MIN = 1e-8  # first relative diagonal shift tried when H is indefinite
_SHIFT_MAX = 1e12  # beyond this the shifted step is negligibly short: give up


def lumped_mass(x):
    """Lumped mass of each node, shape (n,): turns a gradient into a pointwise residual.

    numpy in, numpy out (computed once per solve, in ``aux["mass"]``; no device op)."""
    h = np.diff(x)
    return (np.append(h, 0.0) + np.insert(h, 0, 0.0)) / 2


def restrict(diag, upper, frozen, xp=jnp):
    """The Hessian with the rows/columns of ``frozen`` unknowns (d, n) replaced by the identity.

    Fixed unknowns (Dirichlet values, active bounds) stay put: their Newton step is zero, and the
    matrix keeps its block-tridiagonal shape and O(n) solve.  ``xp``: ``jax.numpy`` or ``numpy``.
    """
    keep = ~frozen
    d = diag.shape[0]
    eye = xp.eye(d, dtype=diag.dtype)[:, :, None]
    diag = xp.where(keep[:, None, :] & keep[None, :, :], diag, 0.0) + eye * frozen[None, :, :].astype(diag.dtype)
    upper = xp.where(keep[:, None, :-1] & keep[None, :, 1:], upper, 0.0)
    return diag, upper


def host_while_loop(cond, body, state):
    """``lax.while_loop``'s meaning as a Python loop over concrete arrays (operators on the host)."""
    while bool(cond(state)):
        state = body(state)
    return state


class BlockTridiagonal:
    """The 1-D Hessian operator: ``H`` block tridiagonal over the nodes (``diag`` (d, d, n),
    ``upper`` (d, d, n - 1)), bordered by the global unknowns' columns ``B`` (d, n, k) and block
    ``C`` (k, k).  Traced JAX (runs inside ``jit``), solved by block LDLᵀ in O(n k).

    One of the two implementations of the Hessian-operator interface that the generic Newton step
    (:mod:`varcalc.steps`) and :func:`shifted_solve` use; the other is the planar CSR operator
    (:class:`varcalc.planar.linear.SparseHessian`).  The interface:

    * ``xp`` (the array namespace the step computes in: ``jax.numpy`` here) and ``while_loop``
      (``lax.while_loop`` here, :func:`host_while_loop` on the host);
    * ``add_diagonal(v)`` (v of the unknowns' shape), ``restrict(frozen)`` (frozen unknowns'
      rows and columns -> identity), ``finite(ok)`` (``ok`` and the operator's entries finite);
    * ``prepare(g, gz)`` -> what ``attempt`` needs for the right-hand side ``-[g; gz]`` (and the
      shift's scale ``S = diag(|H_jj|)``); ``attempt(prepared, tau)`` -> ``(dV, dz, negatives,
      min_pivot)``: the solve of the system with ``H + τ S``, the number of its negative
      eigenvalues and its smallest pivot (``> 0`` iff ``H + τ S`` is positive definite).
    """

    xp = jnp
    while_loop = staticmethod(lax.while_loop)
    solve = staticmethod(solve_nodes_last)

    def __init__(self, diag, upper, B=None, C=None):
        self.diag, self.upper, self.B, self.C = diag, upper, B, C  # B, C None: no global unknowns

    def add_diagonal(self, v):
        xp = self.xp
        d = self.diag.shape[0]
        return type(self)(
            self.diag + v[:, None, :] * xp.eye(d, dtype=self.diag.dtype)[:, :, None], self.upper, self.B, self.C
        )

    def restrict(self, frozen):
        return type(self)(*restrict(self.diag, self.upper, frozen, self.xp), self.B, self.C)

    def finite(self, ok=True):
        xp = self.xp
        return ok & xp.all(xp.isfinite(self.diag)) & xp.all(xp.isfinite(self.upper))

    def prepare(self, g, gz):
        xp = self.xp
        dtype = g.dtype
        B, C = self.B, self.C
        if B is None:
            B, C = xp.zeros(g.shape + (0,), dtype), xp.zeros((0, 0), dtype)
        d = self.diag.shape[0]
        eye = xp.eye(d, dtype=dtype)[:, :, None]
        scale = xp.abs(xp.einsum("iin->in", self.diag))
        scale = scale + 1e-14 * xp.mean(scale) + xp.finfo(dtype).tiny
        rhs = xp.concatenate([-g[..., None], B], axis=-1)
        return (eye, scale, B, C), rhs, gz

    def attempt(self, prepared, tau):
        xp = self.xp
        (eye, scale, B, C), rhs, gz = prepared
        dtype = rhs.dtype
        k = gz.shape[0]
        X, n_neg, min_pivot = self.solve(self.diag + tau * eye * scale[:, None, :], self.upper, rhs)
        y, W = X[..., 0], X[..., 1:]
        if k == 0:
            return y, xp.zeros(0, dtype), n_neg.astype(xp.int32), min_pivot
        S = C - xp.einsum("dnk,dnl->kl", B, W)
        S = 0.5 * (S + S.T)
        rhs_z = -gz - xp.einsum("dnk,dn->k", B, y)
        finite = xp.all(xp.isfinite(S))
        S_safe = xp.where(finite, S, 0.0)  # numpy's pinv/eigvalsh raise on NaN; jax's return NaN
        dz = xp.linalg.pinv(S_safe, rtol=1e-12, hermitian=True) @ rhs_z
        dz = xp.where(finite, dz, xp.nan)
        eig = xp.linalg.eigvalsh(S_safe)
        s_scale = xp.max(xp.abs(S_safe)) + xp.finfo(dtype).tiny
        n_neg = n_neg.astype(xp.int32) + xp.sum(eig < -1e-12 * s_scale).astype(xp.int32)
        return y - xp.einsum("dnk,k->dn", W, dz), dz, n_neg, min_pivot


class HostBlockTridiagonal(BlockTridiagonal):
    """:class:`BlockTridiagonal` on concrete numpy arrays, solved by block cyclic reduction
    (:func:`varcalc.linalg.host_solve_nodes_last`): the operator of the Python-loop driver's step,
    which therefore compiles nothing (only the integrand's kernel is compiled)."""

    xp = np
    while_loop = staticmethod(host_while_loop)
    solve = staticmethod(host_solve_nodes_last)


def shifted_solve(op, g, gz, tau_prev, n_expected=None):
    """Newton step ``-[g; gz]`` through the Hessian operator ``op``, with the inertia correction.

    Written once for every operator (:class:`BlockTridiagonal` in 1-D, traced; the planar CSR
    operator on the host, run by ``op.while_loop``).  ``n_expected`` (minimisation): the number
    of multipliers.  A (constrained) minimum has exactly that many negative eigenvalues; while
    there are more (without multipliers: while a pivot is not positive), ``H`` is shifted by
    ``τ S``, ``S = diag(|H_jj|)`` (Levenberg–Marquardt scaling, invariant to the units of ``f``),
    ``τ`` growing tenfold from ``max(τ_prev / 10, 1e-8)`` (:data:`_SHIFT_MIN`) up to
    :data:`_SHIFT_MAX`, as IPOPT's inertia correction: the step is a descent direction for the
    merit.  ``n_expected=None``: any finite solve is used (stationary points).
    Returns ``dV, dz, ok, τ, negatives of the unshifted operator``.
    """
    xp = op.xp
    dtype = g.dtype
    k = gz.shape[0]
    prepared = op.prepare(g, gz)
    tau_first = xp.maximum(tau_prev / 10.0, _SHIFT_MIN)

    def cond(state):
        *_, ok, tau, _ = state
        return (~ok) & (tau <= _SHIFT_MAX)

    def body(state):
        _, _, _, tau, neg0 = state
        dV, dz, n_neg, min_pivot = op.attempt(prepared, tau)
        ok = xp.all(xp.isfinite(dV)) & xp.all(xp.isfinite(dz))
        if n_expected is not None:
            # More negative eigenvalues than multipliers: negative curvature on the tangent space.
            # (Fewer happens only with a rank-deficient constraint Jacobian, handled by pinv.)
            # Without multipliers this is "H positive definite": every pivot > 0.
            ok = ok & (n_neg <= n_expected) & ((n_expected > 0) | (min_pivot > 0))
        neg0 = xp.where(tau == 0, n_neg, neg0)
        tau_next = xp.where(tau == 0, tau_first, 10.0 * tau)
        return dV, dz, ok, xp.where(ok, tau, tau_next), neg0

    init = (xp.zeros_like(g), xp.zeros(k, dtype), xp.zeros((), bool), xp.zeros((), dtype), xp.zeros((), xp.int32))
    return op.while_loop(cond, body, init)


def bordered_solve(diag, upper, g, B, gz, C, tau_prev, n_expected=None):
    """Newton step of the KKT system ``[[H, B], [Bᵀ, C]] [dV; dz] = -[g; gz]`` in O(n k).

    ``H`` (block tridiagonal) is factored once for the k + 1 right-hand sides ``[-g | B]``; the
    ``k × k`` Schur complement ``S = C - Bᵀ H⁻¹ B`` gives ``dz``.  A singular ``S`` (e.g. a
    constraint whose gradient vanishes at the guess, as the length of a straight chain) gets its
    pseudo-inverse: the minimum-norm ``dz``, and the next iterate is no longer degenerate.
    By Haynsworth's inertia formula the KKT matrix has ``neg(H) + neg(S)`` negative eigenvalues.

    ``n_expected``: see :func:`shifted_solve` (the inertia correction).  With ``k = 0`` and
    ``n_expected = 0`` this is the modified Newton step of unconstrained minimisation
    (``H + τ S`` positive definite).
    Returns ``dV, dz, ok, τ, negatives of the unshifted KKT matrix``.
    """
    return shifted_solve(BlockTridiagonal(diag, upper, B, C), g, gz, tau_prev, n_expected)
