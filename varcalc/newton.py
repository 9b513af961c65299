"""Globalised Newton on the exact second variation, written as one ``lax.while_loop``.

Two loops share the pieces below:

* :func:`minimize_loop` — unconstrained minimisation (and :class:`~varcalc.Bound` obstacles),
  merit function ``J_h`` itself;
* :func:`stationary_loop` — Newton on the KKT system ``∇L(V, z) = 0`` of a Lagrangian with global
  unknowns ``z`` (multipliers, a free end), bordered block-tridiagonal solve in O(n k): SQP with
  an exact-penalty merit and inertia correction for constrained minima, or the residual norm as
  merit for ``mode="stationary"`` (saddles).

Each iteration of :func:`minimize_loop`, at the iterate ``U_k``:

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
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .linalg import solve_nodes_last

__all__ = ["Newton", "Status", "minimize_loop", "stationary_loop"]


class Status(IntEnum):
    """Outcome of a solve.  ``Status.message`` says the likely cause and what to try."""

    SUCCESS = 0
    MAX_ITERATIONS = 1
    LINE_SEARCH_FAILED = 2
    NONFINITE = 3
    NOT_FACTORIZABLE = 4
    SADDLE = 5
    INFEASIBLE = 6

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.SUCCESS: "converged: the Newton step fell below the tolerance with a positive definite Hessian",
    Status.MAX_ITERATIONS: (
        "did not converge within max_iter Newton iterations. Likely cause: a poor initial guess far "
        "from the extremal, or no minimum nearby. Remedy: raise Newton(max_iter=...), give a better "
        "guess=..., or solve on a coarse grid first and pass that solution as the guess."
    ),
    Status.LINE_SEARCH_FAILED: (
        "the line search found no decrease of J along the Newton direction. Likely cause: J is "
        "undefined (NaN/inf) next to the current iterate, e.g. a square root of a negative quantity, "
        "or J is unbounded below. Remedy: check the integrand's domain of definition, start from a "
        "guess inside it, or check that the functional has a minimum with these boundary conditions."
    ),
    Status.NONFINITE: (
        "the gradient or Hessian of J became NaN/inf. Likely cause: the integrand or its derivatives "
        "are singular at the iterate (e.g. at an end where f makes G blow up with a derivative that "
        "is not integrable). Remedy: use a graded grid toward that end (vc.graded_grid), or "
        "reformulate the integrand to be differentiable there."
    ),
    Status.NOT_FACTORIZABLE: (
        "the Hessian could not be made positive definite by a diagonal shift. Likely cause: the "
        "functional is unbounded below or degenerate (e.g. no boundary condition fixes f and G does "
        "not depend on f). Remedy: add a boundary condition or check the integrand."
    ),
    Status.SADDLE: (
        "Newton converged to a stationary point that is NOT a minimum: the second variation (on the "
        "constraints' tangent space) has negative directions (see Solution.negative). Likely cause: "
        "a saddle of the functional, e.g. Hamilton's principle past a conjugate point, or a poor "
        "guess. Remedy: if a stationary point is what you want, solve with mode='stationary'; "
        "otherwise start from a different guess."
    ),
    Status.INFEASIBLE: (
        "a constraint could not be satisfied (see Solution.constraint_residuals). Likely cause: "
        "the constraint values are incompatible with the boundary conditions, or the guess is far "
        "from feasible. Remedy: check the constraint's value, or give a guess that nearly satisfies it."
    ),
}


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
    def checked(cls, solver) -> "Newton":
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


def restrict(diag, upper, frozen):
    """The Hessian with the rows/columns of ``frozen`` unknowns (d, n) replaced by the identity.

    Fixed unknowns (Dirichlet values, active bounds) stay put: their Newton step is zero, and the
    matrix keeps its block-tridiagonal shape and O(n) solve.
    """
    keep = ~frozen
    d = diag.shape[0]
    eye = jnp.eye(d, dtype=diag.dtype)[:, :, None]
    diag = jnp.where(keep[:, None, :] & keep[None, :, :], diag, 0.0) + eye * frozen[None, :, :].astype(diag.dtype)
    upper = jnp.where(keep[:, None, :-1] & keep[None, :, 1:], upper, 0.0)
    return diag, upper


def _histories(max_iter, dtype):
    hist = lambda: jnp.full(max_iter + 1, jnp.nan, dtype)
    return dict(residual=hist(), value=hist(), step=hist(), alpha=hist(), shift=hist(),
                decrement=hist(), negative=jnp.full(max_iter + 1, -1, jnp.int32))


def _record(s, k, **values):
    return {name: s[name].at[k].set(v) for name, v in values.items()}


def minimize_loop(lag, V0, x, aux, fixed, lower, upper, rtol, atol, *, max_iter, max_backtracks,
                  bounds=False):
    """Minimise ``L(V)`` (no global unknowns) by globalised Newton; pure JAX.

    ``V0`` (d, n); ``fixed`` (d, n) marks Dirichlet unknowns.  With ``bounds``, ``lower <= V <=
    upper`` is kept in two phases:

    1. interior point: minimise ``J - μ Σ mass_i log(gap_i)`` by the same Newton iteration (the
       barrier adds to the diagonal only), dividing μ by 10 each time the Newton decrement drops
       below ``μ (b - a)``.  This finds the contact set in a mesh-independent number of steps;
       an active-set method from a too-large contact set releases about one node per iteration.
    2. once μ is negligible (1e-12 of its start): projected Newton (Bertsekas 1982) makes the
       contact exact — unknowns at a bound whose gradient pushes outward are frozen for the
       step, the others take the Newton step, and the trial point is projected onto the bounds.
    Returns a dict of arrays: final ``V``, ``J``, ``g`` (gradient at the last linearisation),
    ``status``, ``k`` (iterations) and per-iteration histories of length ``max_iter + 1``.
    """
    dtype = V0.dtype
    mass = aux["mass"]  # lumped_mass of the grid
    z = jnp.zeros(0, dtype)
    keep_fixed = ~fixed
    project = (lambda V: jnp.clip(V, lower, upper)) if bounds else (lambda V: V)

    def safe_gaps(V):
        lo_ok, hi_ok = jnp.isfinite(lower), jnp.isfinite(upper)
        return lo_ok, hi_ok, jnp.where(lo_ok, V - lower, 1.0), jnp.where(hi_ok, upper - V, 1.0)

    def barrier(V, mu):
        """``-μ Σ mass log(gap)`` over the free unknowns with a finite bound (NaN if infeasible)."""
        if not bounds:
            return 0.0
        lo_ok, hi_ok, lo_gap, hi_gap = safe_gaps(V)
        logs = jnp.where(lo_ok, jnp.log(lo_gap), 0.0) + jnp.where(hi_ok, jnp.log(hi_gap), 0.0)
        return jnp.where(mu > 0, -mu * jnp.sum(jnp.where(keep_fixed, mass * logs, 0.0)), 0.0)

    def value(V, mu=0.0):
        return lag.value(V, z, x, aux) + barrier(V, mu)

    if bounds:
        # Start strictly inside the bounds (the barrier is infinite on them).
        width = jnp.where(jnp.isfinite(upper - lower), upper - lower, jnp.inf)
        room = jnp.minimum(1e-2 * (1.0 + jnp.max(jnp.abs(V0))), 0.25 * width)
        V0 = jnp.where(fixed, V0, jnp.clip(V0, lower + room, upper - room))
    domain = jnp.sum(mass)

    state = dict(k=jnp.zeros((), jnp.int32), U=V0, J=jnp.zeros((), dtype), g=jnp.zeros_like(V0),
                 tau=jnp.zeros((), dtype), done=jnp.zeros((), bool), mu=jnp.full((), -1.0, dtype),
                 mu0=jnp.zeros((), dtype),
                 status=jnp.full((), int(Status.MAX_ITERATIONS), jnp.int32), **_histories(max_iter, dtype))

    def cond(s):
        return (~s["done"]) & (s["k"] <= max_iter)

    def body(s):
        k, U = s["k"], s["U"]
        D = lag.derivatives(U, z, x, aux)
        J, g = D["L"], D["g"]
        frozen = fixed
        mu, mu0 = s["mu"], s["mu0"]
        if bounds:
            # μ starts at 1% of J's size per unit length; it is 0 in the projected-Newton phase.
            mu0 = jnp.where(k == 0, 1e-2 * D["scale"] / domain + jnp.finfo(dtype).tiny, mu0)
            mu = jnp.where(k == 0, mu0, mu)
            lo_ok, hi_ok, lo_gap, hi_gap = safe_gaps(U)
            in_barrier = mu > 0
            barrier_g = -mu * mass * (jnp.where(lo_ok, 1.0 / lo_gap, 0.0) - jnp.where(hi_ok, 1.0 / hi_gap, 0.0))
            barrier_h = mu * mass * (jnp.where(lo_ok, 1.0 / lo_gap**2, 0.0) + jnp.where(hi_ok, 1.0 / hi_gap**2, 0.0))
            g_obj = g  # the functional's gradient (its value at the contact nodes is the reaction)
            g = jnp.where(in_barrier, g + barrier_g, g)
            J = J + barrier(U, mu)
            d = D["diag"].shape[0]
            D = dict(D, diag=D["diag"] + jnp.where(in_barrier, barrier_h, 0.0)[:, None, :] * jnp.eye(d, dtype=dtype)[:, :, None])
            # ε-active set: at (or within ε of) a bound with the gradient pushing outward.
            w = jnp.max(jnp.where(keep_fixed, jnp.abs(U - project(U - g / mass)), 0.0))
            eps = jnp.minimum(1e-8 * (1.0 + jnp.max(jnp.abs(U))), w)
            active = ((U - lower <= eps) & (g > 0)) | ((upper - U <= eps) & (g < 0))
            frozen = fixed | (active & ~in_barrier)
        keep = ~frozen
        # Armijo cannot see decreases below the rounding of J; allow that much (else Newton
        # stalls with halved steps once it is within rounding of the minimiser).
        J_noise = 64 * jnp.finfo(dtype).eps * D["scale"]
        g_free = jnp.where(keep, g, 0.0)
        diag, upper_ = restrict(D["diag"], D["upper"], frozen)
        finite = jnp.all(jnp.isfinite(g_free)) & jnp.all(jnp.isfinite(diag)) & jnp.all(jnp.isfinite(upper_))
        residual = jnp.max(jnp.abs(g_free) / mass)
        if bounds:
            # With bounds: the functional's residual off contact; at a node (nearly) on a bound only
            # a gradient pulling it off the bound is a residual (the rest is the contact force).
            r = g_obj / mass
            near = jnp.sqrt(jnp.finfo(dtype).eps) * (1.0 + jnp.abs(U))
            r = jnp.where(U - lower <= near, jnp.minimum(r, 0.0), r)
            r = jnp.where(upper - U <= near, jnp.maximum(r, 0.0), r)
            residual = jnp.max(jnp.where(keep_fixed, jnp.abs(r), 0.0))
        du, _, factor_ok, tau, n_negative = bordered_solve(
            diag, upper_, g_free, jnp.zeros(U.shape + (0,), dtype), z, jnp.zeros((0, 0), dtype), s["tau"], 0)
        decrement = -jnp.sum(g_free * du)  # λ² = gᵀ H⁻¹ g: the predicted decrease is λ²/2
        if bounds:
            def trial(a):
                return jnp.where(mu > 0, U + a * du, project(U + a * du))
        else:
            def trial(a):
                return U + a * du
        full_step = trial(1.0) - U
        step_norm = jnp.max(jnp.abs(full_step))
        small = step_norm <= atol + rtol * jnp.max(jnp.where(keep_fixed, jnp.abs(U), 0.0))
        converged = finite & factor_ok & (tau == 0) & small
        if bounds:
            converged = converged & (mu == 0)
            # The barrier problem for this μ is solved (decrement ~ μ): decrease μ, or leave the
            # barrier (μ = 0) once it is negligible.
            solved = finite & factor_ok & (tau == 0) & (decrement <= mu * domain)
            mu_next = jnp.where(solved & (mu > 0), jnp.where(mu / 10 < 1e-12 * mu0, 0.0, mu / 10), mu)
        # Backtracking line search (Armijo).  A converged step is taken whole if J stays finite
        # there: it changes U only at the rounding level, where J cannot resolve a decrease.

        def accept(a, J_new, n):
            slope = jnp.sum(g * (trial(a) - U))
            return jnp.isfinite(J_new) & ((J_new <= J + _ARMIJO_C1 * slope + J_noise) | (converged & (n == 1)))

        def ls_cond(ls):
            a, J_new, n = ls
            return (n == 0) | (~accept(a, J_new, n) & (n <= max_backtracks))

        a_first = 1.0
        if bounds:
            # Fraction to the boundary: the first trial keeps 0.5% of each gap (barrier phase).
            lo_ok, hi_ok, lo_gap, hi_gap = safe_gaps(U)
            reach = jnp.minimum(jnp.where(lo_ok & (du < 0), lo_gap / jnp.maximum(-du, 1e-300), jnp.inf),
                                jnp.where(hi_ok & (du > 0), hi_gap / jnp.maximum(du, 1e-300), jnp.inf))
            reach = jnp.min(jnp.where(keep_fixed, reach, jnp.inf))
            a_first = jnp.where(mu > 0, jnp.minimum(1.0, 0.995 * reach), 1.0)

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, a_first, 0.5 * a)
            return a, value(trial(a), mu), n + 1

        alpha, J_new, n_ls = lax.while_loop(ls_cond, ls_body, (jnp.ones((), dtype), J, 0))
        ls_ok = accept(alpha, J_new, n_ls)
        take = finite & factor_ok & ls_ok
        take = take & (converged | (k < max_iter))  # no step past the iteration budget
        U_next = jnp.where(take, trial(alpha), U)
        J_next = jnp.where(take, J_new, J)

        # A vanishing step that needed a moderate shift: the gradient is zero where the Hessian is
        # indefinite — a saddle (or maximum), which a minimiser must not report as converged.
        saddle = finite & factor_ok & (tau > 0) & (tau <= 1.0) & small
        if bounds:
            saddle = saddle & (mu == 0)
        status = jnp.select(
            [converged, saddle, ~finite, ~factor_ok, ~ls_ok],
            [int(Status.SUCCESS), int(Status.SADDLE), int(Status.NONFINITE), int(Status.NOT_FACTORIZABLE),
             int(Status.LINE_SEARCH_FAILED)],
            int(Status.MAX_ITERATIONS),
        ).astype(jnp.int32)
        stop = (status != int(Status.MAX_ITERATIONS)) | (k >= max_iter)
        extra = {}
        if bounds:
            # The barrier's J is not the functional's: re-evaluate at a change of μ; report J alone.
            J_next = jnp.where(mu_next != mu, value(U_next, mu_next), J_next)
            extra = dict(mu=mu_next, mu0=mu0)
            g = jnp.where(mu > 0, g, g_obj)
        return dict(
            s, **extra,
            k=jnp.where(stop, k, k + 1), U=U_next, J=J_next, g=g, tau=tau, done=stop, status=status,
            **_record(s, k, residual=residual, value=J, step=step_norm, alpha=jnp.where(take, alpha, 0.0),
                      shift=tau, decrement=decrement, negative=n_negative.astype(jnp.int32)),
        )

    return lax.while_loop(cond, body, state)


def bordered_solve(diag, upper, g, B, gz, C, tau_prev, n_expected=None):
    """Newton step of the KKT system ``[[H, B], [Bᵀ, C]] [dV; dz] = -[g; gz]`` in O(n k).

    ``H`` (block tridiagonal) is factored once for the k + 1 right-hand sides ``[-g | B]``; the
    ``k × k`` Schur complement ``S = C - Bᵀ H⁻¹ B`` gives ``dz``.  A singular ``S`` (e.g. a
    constraint whose gradient vanishes at the guess, as the length of a straight chain) gets its
    pseudo-inverse: the minimum-norm ``dz``, and the next iterate is no longer degenerate.
    By Haynsworth's inertia formula the KKT matrix has ``neg(H) + neg(S)`` negative eigenvalues.

    ``n_expected`` (minimisation): the number of multipliers.  A constrained minimum has exactly
    that many negative eigenvalues; while there are more, ``H`` is shifted by ``τ S``,
    ``S = diag(|H_jj|)`` (Levenberg–Marquardt scaling, invariant to the units of ``f``; τ growing
    tenfold from ``max(τ_prev/10, 1e-8)``, as IPOPT's inertia correction) so the step is a
    descent direction for the merit function.  With ``k = 0`` and ``n_expected = 0`` this is the
    modified Newton step of unconstrained minimisation (``H + τ S`` positive definite); with
    ``n_expected=None`` any finite factorisation is used (stationary points).
    Returns ``dV, dz, ok, τ, negatives of the unshifted KKT matrix``.
    """
    dtype = g.dtype
    k = gz.shape[0]
    d = diag.shape[0]
    eye = jnp.eye(d, dtype=dtype)[:, :, None]
    scale = jnp.abs(jnp.einsum("iin->in", diag))
    scale = scale + 1e-14 * jnp.mean(scale) + jnp.finfo(dtype).tiny
    rhs = jnp.concatenate([-g[..., None], B], axis=-1)
    tau_first = jnp.maximum(tau_prev / 10.0, _SHIFT_MIN)

    def attempt(tau):
        X, n_neg, min_pivot = solve_nodes_last(diag + tau * eye * scale[:, None, :], upper, rhs)
        y, W = X[..., 0], X[..., 1:]
        if k == 0:
            return y, jnp.zeros(0, dtype), n_neg.astype(jnp.int32), min_pivot
        S = C - jnp.einsum("dnk,dnl->kl", B, W)
        S = 0.5 * (S + S.T)
        rhs_z = -gz - jnp.einsum("dnk,dn->k", B, y)
        dz = jnp.linalg.pinv(S, rtol=1e-12, hermitian=True) @ rhs_z
        eig = jnp.linalg.eigvalsh(S)
        s_scale = jnp.max(jnp.abs(S)) + jnp.finfo(dtype).tiny
        n_neg = n_neg.astype(jnp.int32) + jnp.sum(eig < -1e-12 * s_scale).astype(jnp.int32)
        return y - jnp.einsum("dnk,k->dn", W, dz), dz, n_neg, min_pivot

    def cond(state):
        *_, ok, tau, _ = state
        return (~ok) & (tau <= _SHIFT_MAX)

    def body(state):
        _, _, _, tau, neg0 = state
        dV, dz, n_neg, min_pivot = attempt(tau)
        ok = jnp.all(jnp.isfinite(dV)) & jnp.all(jnp.isfinite(dz))
        if n_expected is not None:
            # More negative eigenvalues than multipliers: negative curvature on the tangent space.
            # (Fewer happens only with a rank-deficient constraint Jacobian, handled by pinv.)
            # Without multipliers this is "H positive definite": every pivot > 0.
            ok = ok & (n_neg <= n_expected) & ((n_expected > 0) | (min_pivot > 0))
        neg0 = jnp.where(tau == 0, n_neg, neg0)
        tau_next = jnp.where(tau == 0, tau_first, 10.0 * tau)
        return dV, dz, ok, jnp.where(ok, tau, tau_next), neg0

    init = (jnp.zeros_like(g), jnp.zeros(k, dtype), jnp.zeros((), bool), jnp.zeros((), dtype),
            jnp.zeros((), jnp.int32))
    dV, dz, ok, tau, neg0 = lax.while_loop(cond, body, init)
    return dV, dz, ok, tau, neg0


def stationary_loop(lag, V0, z0, x, aux, fixed, rtol, atol, *, max_iter, max_backtracks,
                    multipliers=None, multiplier_rows=None, minimize=False):
    """Find a stationary point of ``L(V, z)``: Newton on ``∇L = 0`` (KKT for constraints).

    ``minimize=False``: the merit function is the residual norm ``φ = ½ Σ g_i² / mass_i +
    ½ |∂L/∂z|²`` (``g`` at the free unknowns): the Newton direction is a descent direction for it
    whatever the inertia of the Hessian, so saddles (Hamilton's principle) are found too.  The
    inertia of the KKT matrix at the end tells which it is (``negative`` history).

    ``minimize=True`` (constrained minimisation, SQP): the inertia is corrected (``H`` shifted)
    until the KKT matrix has one negative eigenvalue per multiplier — the second variation is
    positive on the constraints' tangent space — and the line search uses the exact penalty
    ``φ = J + ν Σ |c_j|`` (Nocedal & Wright §18.3), ``ν`` above the largest multiplier: unlike the
    residual norm it cannot be decreased by moving toward a saddle or a maximum.
    ``multiplier_rows`` (bool (d,)) marks the rows of ``V`` that are pointwise multipliers.

    ``multipliers`` (bool mask over ``z``) marks the global Lagrange multipliers.  The first
    iteration then only sets them to their least-squares estimate ``argmin_λ ‖∇_V L‖_{M⁻¹}``
    (the usual initialisation): from ``λ = 0`` the Hessian of the Lagrangian can be singular,
    as for Dido's problem, where ``J = ∫ f`` is linear.
    """
    dtype = V0.dtype
    mass = aux["mass"]  # lumped_mass of the grid
    keep = ~fixed
    k_glob = z0.shape[0]
    mult_z = jnp.zeros(k_glob, bool) if multipliers is None else jnp.asarray(multipliers)
    rows = jnp.zeros(V0.shape[0], bool) if multiplier_rows is None else jnp.asarray(multiplier_rows)
    mult_V = rows[:, None] & keep  # free pointwise multipliers
    n_mult = jnp.sum(mult_z).astype(jnp.int32) + jnp.sum(mult_V).astype(jnp.int32)

    def merit(g, gz):
        return 0.5 * jnp.sum(jnp.where(keep, g, 0.0) ** 2 / mass) + 0.5 * jnp.sum(gz**2)

    def objective(V, z):
        """``J`` alone: the Lagrangian with every multiplier set to zero."""
        return lag.value(jnp.where(rows[:, None], 0.0, V), jnp.where(mult_z, 0.0, z), x, aux)

    def violation(V, z):
        """``Σ |c_j|``: constraint values are the Lagrangian's derivatives in the multipliers."""
        g, gz = lag.gradient(V, z, x, aux)
        return jnp.sum(jnp.where(mult_V, jnp.abs(g), 0.0)) + jnp.sum(jnp.where(mult_z, jnp.abs(gz), 0.0))

    def merit_at(V, z, nu):
        return jnp.where(lag.admissible(z), _merit_at(V, z, nu), jnp.inf)

    def _merit_at(V, z, nu):
        if minimize:
            return objective(V, z) + nu * violation(V, z)
        g, gz = lag.gradient(V, z, x, aux)
        return merit(g, gz)

    # Estimate the multipliers first only when none were given (all zero), e.g. not after a warm start.
    estimate = jnp.all(jnp.where(multipliers, z0 == 0, True)) if multipliers is not None else jnp.zeros((), bool)
    state = dict(k=jnp.zeros((), jnp.int32), U=V0, z=z0, J=jnp.zeros((), dtype), g=jnp.zeros_like(V0),
                 gz=jnp.zeros_like(z0), tau=jnp.zeros((), dtype), done=jnp.zeros((), bool), estimate=estimate,
                 nu=jnp.zeros((), dtype),
                 status=jnp.full((), int(Status.MAX_ITERATIONS), jnp.int32), **_histories(max_iter, dtype))

    def cond(s):
        return (~s["done"]) & (s["k"] <= max_iter)

    def body(s):
        k, U, z = s["k"], s["U"], s["z"]
        D = lag.derivatives(U, z, x, aux)
        g = jnp.where(keep, D["g"], 0.0)
        gz = D.get("gz", jnp.zeros(0, dtype))
        B = jnp.where(keep[..., None], D["B"], 0.0) if k_glob else jnp.zeros(U.shape + (0,), dtype)
        C = D.get("C", jnp.zeros((0, 0), dtype))
        diag, upper_ = restrict(D["diag"], D["upper"], fixed)
        finite = (jnp.all(jnp.isfinite(g)) & jnp.all(jnp.isfinite(diag)) & jnp.all(jnp.isfinite(upper_))
                  & jnp.all(jnp.isfinite(gz)) & jnp.all(jnp.isfinite(B)) & jnp.all(jnp.isfinite(C)))
        # Rounding level of the residual: the gradient is a sum of terms of size |H| |V|.
        Hd = jnp.abs(jnp.einsum("iin->in", D["diag"]))
        g_round = 64 * jnp.finfo(dtype).eps * (Hd * jnp.abs(U) + jnp.abs(D["g"]))
        residual = jnp.max(jnp.abs(g) / mass)
        if k_glob:
            residual = jnp.maximum(residual, jnp.max(jnp.abs(gz)))
        dU, dz, factor_ok, tau, n_negative = bordered_solve(
            diag, upper_, g, B, gz, C, s["tau"], n_mult if minimize else None)
        nu = s["nu"]
        if minimize:
            # Exact penalty: ν above the new multipliers (so the SQP step is a descent direction).
            new_mult = jnp.concatenate([jnp.where(mult_V, jnp.abs(U + dU), 0.0).ravel(),
                                        jnp.where(mult_z, jnp.abs(z + dz), 0.0)])
            viol = jnp.sum(jnp.where(mult_V, jnp.abs(g), 0.0)) + jnp.sum(jnp.where(mult_z, jnp.abs(gz), 0.0))
            gJ_V, gJ_z = jax.grad(objective, argnums=(0, 1))(U, z)
            slope_J = jnp.sum(jnp.where(keep, gJ_V, 0.0) * dU) + jnp.sum(gJ_z * dz)
            need = jnp.where(viol > 0, 2.0 * slope_J / jnp.maximum(viol, jnp.finfo(dtype).tiny), 0.0)
            nu = jnp.maximum(nu, jnp.maximum(1.1 * jnp.max(new_mult, initial=0.0) + 1e-12, need))
            phi = objective(U, z) + nu * viol
            slope = slope_J - nu * viol
            phi_noise = 64 * jnp.finfo(dtype).eps * (D["scale"] + nu * (jnp.sum(jnp.where(mult_V, g_round, 0.0)) + jnp.sum(jnp.abs(gz))))
        else:
            phi = merit(g, gz)
            slope = -2.0 * phi
            phi_noise = merit(g_round, 64 * jnp.finfo(dtype).eps * (1 + jnp.abs(gz)))
        if multipliers is not None:
            # Least-squares multipliers at k = 0: min_δ ‖g + B δ‖² / mass over the multiplier columns.
            Bm = jnp.where(multipliers, B, 0.0)
            normal = jnp.einsum("dnk,dnl->kl", Bm / mass[:, None], Bm)
            delta = -jnp.linalg.pinv(normal, rtol=1e-12, hermitian=True) @ jnp.einsum("dnk,dn->k", Bm / mass[:, None], g)
            first = (k == 0) & s["estimate"]
            factor_ok = factor_ok | first
            dU = jnp.where(first, 0.0, dU)
            dz = jnp.where(first, jnp.where(multipliers, delta, 0.0), dz)
        step_norm = jnp.max(jnp.abs(dU))
        size = jnp.max(jnp.where(keep, jnp.abs(U), 0.0))
        if k_glob:
            step_norm = jnp.maximum(step_norm, jnp.max(jnp.abs(dz)))
            size = jnp.maximum(size, jnp.max(jnp.abs(z)))
        small = step_norm <= atol + rtol * size
        converged = finite & factor_ok & (tau == 0) & small
        if multipliers is not None:
            converged = converged & ~((k == 0) & s["estimate"])

        def accept(phi_new, a, n):
            ok = phi_new <= phi + _ARMIJO_C1 * a * jnp.minimum(slope, 0.0) + phi_noise
            return jnp.isfinite(phi_new) & (ok | (converged & (n == 1)))

        def ls_cond(ls):
            a, phi_new, n = ls
            return (n == 0) | (~accept(phi_new, a, n) & (n <= max_backtracks))

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, 1.0, 0.5 * a)
            return a, merit_at(U + a * dU, z + a * dz, nu), n + 1

        alpha, phi_new, n_ls = lax.while_loop(ls_cond, ls_body, (jnp.ones((), dtype), phi, 0))
        ls_ok = accept(phi_new, alpha, n_ls)
        if multipliers is not None:  # the multiplier estimate is taken whole
            ls_ok = ls_ok | first
            alpha = jnp.where(first, 1.0, alpha)
        take = finite & factor_ok & ls_ok & (converged | (k < max_iter))
        status = jnp.select(
            [converged, ~finite, ~factor_ok, ~ls_ok],
            [int(Status.SUCCESS), int(Status.NONFINITE), int(Status.NOT_FACTORIZABLE),
             int(Status.LINE_SEARCH_FAILED)],
            int(Status.MAX_ITERATIONS),
        ).astype(jnp.int32)
        stop = (status != int(Status.MAX_ITERATIONS)) | (k >= max_iter)
        return dict(
            k=jnp.where(stop, k, k + 1), U=jnp.where(take, U + alpha * dU, U),
            z=jnp.where(take, z + alpha * dz, z), J=D["L"], g=g, gz=gz, tau=tau, done=stop, status=status,
            estimate=s["estimate"], nu=nu,
            **_record(s, k, residual=residual, value=D["L"], step=step_norm,
                      alpha=jnp.where(take, alpha, 0.0), shift=tau, decrement=phi,
                      negative=n_negative.astype(jnp.int32)),
        )

    return lax.while_loop(cond, body, state)
