"""Globalised Newton on the exact second variation, written as one ``lax.while_loop``.

Each iteration, at the iterate ``U_k``:

1. ``g = ∇J_h`` and the block-tridiagonal Hessian ``H`` on the free nodes (Dirichlet nodes are
   fixed and drop out).
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

import jax.numpy as jnp
from jax import lax

from .linalg import solve_nodes_last

__all__ = ["Newton", "Status"]


class Status(IntEnum):
    """Outcome of a solve.  ``Status.message`` says the likely cause and what to try."""

    SUCCESS = 0
    MAX_ITERATIONS = 1
    LINE_SEARCH_FAILED = 2
    NONFINITE = 3
    NOT_FACTORIZABLE = 4

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


_ARMIJO_C1 = 1e-4  # sufficient decrease J(U + a du) <= J + c1 a gᵀdu (Nocedal & Wright §3.1)
_SHIFT_MIN = 1e-8  # first relative diagonal shift tried when H is indefinite
_SHIFT_MAX = 1e12  # beyond this the shifted step is negligibly short: give up


def newton_loop(functional, U0, x, free, rtol, atol, *, max_iter, max_backtracks):
    """Run the Newton iteration; pure JAX.  ``free = (i0, i1)``: free nodes ``U[i0:i1]``.

    ``U0`` has shape ``(m, n)`` (components first, as :class:`DiscreteFunctional` takes it).
    Returns a dict of arrays: final ``U`` (m, n), ``J``, ``status``, ``iterations``, and
    per-iteration histories of length ``max_iter + 1`` (entries past ``iterations`` are NaN).
    """
    i0, i1 = free
    dtype = U0.dtype
    h = jnp.diff(x)
    # Lumped mass of each node: turns the gradient into a pointwise Euler–Lagrange residual.
    mass = (jnp.concatenate([h, jnp.zeros(1, dtype)]) + jnp.concatenate([jnp.zeros(1, dtype), h]))[i0:i1] / 2
    m = U0.shape[0]
    eye = jnp.eye(m, dtype=dtype)[:, :, None]

    def value(U):
        return functional.value(U, x)

    def free_part(U):
        return U[:, i0:i1]

    def with_free(U, V):
        return U.at[:, i0:i1].set(V)

    def factor_with_shift(diag, upper, g, tau_prev):
        """Newton direction from ``H + τ S``: τ = 0 first, then growing until positive definite."""
        scale = jnp.abs(jnp.einsum("iin->in", diag))  # (m, n): diagonal entries
        scale = scale + 1e-14 * jnp.mean(scale) + jnp.finfo(dtype).tiny
        tau_first = jnp.maximum(tau_prev / 10.0, _SHIFT_MIN)

        def cond(state):
            _, ok, tau, _ = state
            return (~ok) & (tau <= _SHIFT_MAX)

        def body(state):
            _, _, tau, n_neg = state
            shifted = diag + tau * eye * scale[:, None, :]
            du, n_negative, min_pivot = solve_nodes_last(shifted, upper, -g)
            ok = (min_pivot > 0) & jnp.all(jnp.isfinite(du))
            # Inertia of the unshifted Hessian: recorded from the first (τ = 0) factorisation.
            n_neg = jnp.where(tau == 0, n_negative.astype(jnp.int32), n_neg)
            tau_next = jnp.where(tau == 0, tau_first, 10.0 * tau)
            return du, ok, jnp.where(ok, tau, tau_next), n_neg

        init = (jnp.zeros_like(g), jnp.zeros((), bool), jnp.zeros((), dtype), jnp.zeros((), jnp.int32))
        du, ok, tau, n_negative = lax.while_loop(cond, body, init)
        return du, ok, tau, n_negative

    hist = lambda: jnp.full(max_iter + 1, jnp.nan, dtype)
    state = dict(
        k=jnp.zeros((), jnp.int32),
        U=U0,
        J=jnp.zeros((), dtype),
        tau=jnp.zeros((), dtype),
        done=jnp.zeros((), bool),
        status=jnp.full((), int(Status.MAX_ITERATIONS), jnp.int32),
        residual=hist(), value=hist(), step=hist(), alpha=hist(), shift=hist(),
        decrement=hist(), negative=jnp.full(max_iter + 1, -1, jnp.int32),
    )

    def cond(s):
        return (~s["done"]) & (s["k"] <= max_iter)

    def body(s):
        k, U = s["k"], s["U"]
        J, J_scale, g, diag, upper = functional.derivatives(U, x)
        g = free_part(g)
        # Armijo cannot see decreases below the rounding of J; allow that much (else Newton
        # stalls with halved steps once it is within rounding of the minimiser).
        J_noise = 64 * jnp.finfo(dtype).eps * J_scale
        diag, upper = diag[..., i0:i1], upper[..., i0:i1 - 1]
        finite = jnp.all(jnp.isfinite(g)) & jnp.all(jnp.isfinite(diag)) & jnp.all(jnp.isfinite(upper))
        residual = jnp.max(jnp.abs(g) / mass)
        du, factor_ok, tau, n_negative = factor_with_shift(diag, upper, g, s["tau"])
        decrement = -jnp.sum(g * du)  # λ² = gᵀ H⁻¹ g: the predicted decrease is λ²/2
        step_norm = jnp.max(jnp.abs(du))
        small = step_norm <= atol + rtol * jnp.max(jnp.abs(free_part(U)))
        converged = finite & factor_ok & (tau == 0) & small

        # Backtracking line search (Armijo).  A converged step is taken whole if J stays finite
        # there: it changes U only at the rounding level, where J cannot resolve a decrease.
        slope = -decrement

        def ls_cond(ls):
            a, J_new, n = ls
            accept = jnp.isfinite(J_new) & ((J_new <= J + _ARMIJO_C1 * a * slope + J_noise) | (converged & (n == 1)))
            return (n == 0) | (~accept & (n <= max_backtracks))

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, 1.0, 0.5 * a)
            return a, value(with_free(U, free_part(U) + a * du)), n + 1

        alpha, J_new, n_ls = lax.while_loop(ls_cond, ls_body, (jnp.ones((), dtype), J, 0))
        ls_ok = jnp.isfinite(J_new) & ((J_new <= J + _ARMIJO_C1 * alpha * slope + J_noise) | (converged & (n_ls == 1)))
        take = finite & factor_ok & ls_ok
        take = take & (converged | (k < max_iter))  # no step past the iteration budget
        U_next = jnp.where(take, with_free(U, free_part(U) + alpha * du), U)
        J_next = jnp.where(take, J_new, J)

        status = jnp.select(
            [converged, ~finite, ~factor_ok, ~ls_ok],
            [int(Status.SUCCESS), int(Status.NONFINITE), int(Status.NOT_FACTORIZABLE),
             int(Status.LINE_SEARCH_FAILED)],
            int(Status.MAX_ITERATIONS),
        ).astype(jnp.int32)
        stop = (status != int(Status.MAX_ITERATIONS)) | (k >= max_iter)
        return dict(
            k=jnp.where(stop, k, k + 1),
            U=U_next,
            J=J_next,
            tau=tau,
            done=stop,
            status=status,
            residual=s["residual"].at[k].set(residual),
            value=s["value"].at[k].set(J),
            step=s["step"].at[k].set(step_norm),
            alpha=s["alpha"].at[k].set(jnp.where(take, alpha, 0.0)),
            shift=s["shift"].at[k].set(tau),
            decrement=s["decrement"].at[k].set(decrement),
            negative=s["negative"].at[k].set(n_negative.astype(jnp.int32)),
        )

    return lax.while_loop(cond, body, state)
