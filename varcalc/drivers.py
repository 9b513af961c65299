"""Drivers of the same Newton step (:mod:`varcalc.steps`), and the per-integrand kernel.

* **Fused** (:func:`minimize_loop`, :func:`stationary_loop`): the whole iteration in one
  ``lax.while_loop`` — one compiled program per integrand, what ``vmap``, batches, ``jax.grad``
  through a solve and GPUs need.
* **Python loop** (:func:`run_python`): a few device calls per iteration.  Only the
  :class:`Kernel` — the discrete Lagrangian's derivatives, value and merit terms, compiled with
  ``jax.jit`` — depends on the integrand; the generic pieces (:class:`GenericStep`) are compiled
  once per step options and array shapes and shared by every functional (and kept across
  processes by JAX's persistent compilation cache where it is on).  A new functional therefore
  costs about as much compile time as its own derivatives.

Both drivers run the same functions in the same order, so they return the same iterates (a test
checks this to rounding).  :func:`run_host` runs the same step (in numpy, ``xp=np``) as a plain
Python loop on the host, around an operator whose solve is not JAX: the planar sparse Newton
(:mod:`varcalc.planar.solve`, SciPy/pyamg linear solves).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import cache
from .steps import MinimizeStep, StationaryStep

__all__ = ["Kernel", "GenericStep", "bucket", "minimize_loop", "stationary_loop", "run_python", "run_host"]


# -- fused: one lax.while_loop ---------------------------------------------------------------------
def _context(aux, fixed, rtol, atol, lower=None, upper=None):
    ctx = dict(mass=aux["mass"], fixed=fixed, rtol=rtol, atol=atol)
    if lower is not None:
        ctx.update(lower=lower, upper=upper)
    return ctx


def minimize_loop(lag, V0, x, aux, fixed, lower, upper, rtol, atol, *, max_iter, max_backtracks,
                  bounds=False):
    """Minimise ``L(V)`` (no global unknowns) by globalised Newton in one ``lax.while_loop``.

    ``V0`` (d, n); ``fixed`` (d, n) marks Dirichlet unknowns; ``lower``/``upper`` (d, n) bounds
    (with ``bounds``; see :mod:`varcalc.newton` for the barrier and projected-Newton phases).
    Returns a dict of arrays: final ``U``, ``J``, ``g``, ``status``, ``k`` (iterations) and
    per-iteration histories of length ``max_iter + 1``.
    """
    step = MinimizeStep(max_iter=max_iter, max_backtracks=max_backtracks, bounds=bounds)
    ctx = _context(aux, fixed, rtol, atol, lower, upper)
    z = jnp.zeros(0, V0.dtype)
    value = lambda V: lag.value(V, z, x, aux)

    def body(s):
        P = step.plan(s, lag.derivatives(s["U"], z, x, aux), ctx)

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, P["a_first"], 0.5 * a)
            V = step.trial(P, a, ctx)
            return a, step.merit(P, V, value(V), ctx), n + 1

        alpha, J_new, n_ls = lax.while_loop(lambda ls: step.ls_continue(P, *ls, ctx), ls_body,
                                            (jnp.ones((), V0.dtype), P["J"], 0))
        L_next = value(step.next_point(P, alpha, J_new, n_ls, ctx)) if bounds else None
        return step.finish(s, P, alpha, J_new, n_ls, L_next, ctx)

    return lax.while_loop(step.cond, body, step.init(V0, ctx))


def stationary_loop(lag, V0, z0, x, aux, fixed, rtol, atol, *, max_iter, max_backtracks,
                    multipliers=None, multiplier_rows=None, minimize=False):
    """Find a stationary point of ``L(V, z)`` (KKT for constraints) in one ``lax.while_loop``.

    ``minimize``: SQP with inertia correction and an exact-penalty merit (constrained minima);
    else Newton on ``∇L = 0`` with the residual norm as merit (saddles too).  ``multipliers``
    (bool (k,)) marks the global multipliers in ``z`` (least-squares estimate first when all are
    zero); ``multiplier_rows`` (bool (d,)) the rows of ``V`` that are pointwise multipliers.
    """
    step = StationaryStep(max_iter=max_iter, max_backtracks=max_backtracks, multipliers=multipliers,
                          multiplier_rows=multiplier_rows, minimize=minimize)
    ctx = dict(_context(aux, fixed, rtol, atol), **step.mask_context(V0.shape[0], z0.shape[0]))
    rows, mult_z = ctx["rows"], ctx["mult_z"]

    def body(s):
        U, z = s["U"], s["z"]
        objective = _objective(lag, U, z, x, aux, rows, mult_z) if minimize else None
        P = step.plan(s, lag.derivatives(U, z, x, aux), objective, ctx)

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, P["a_first"], 0.5 * a)
            V, zz = step.trial(P, a, ctx)
            return a, step.merit(P, _merit_parts(lag, V, zz, x, aux, rows, mult_z, minimize), ctx), n + 1

        alpha, phi_new, n_ls = lax.while_loop(lambda ls: step.ls_continue(P, *ls, ctx), ls_body,
                                              (jnp.ones((), V0.dtype), P["phi"], 0))
        return step.finish(s, P, alpha, phi_new, n_ls, None, ctx)

    return lax.while_loop(step.cond, body, step.init(V0, z0, ctx))


# -- the kernel: everything that depends on the integrand --------------------------------------
def _without_multipliers(V, z, rows, mult_z):
    """``(V, z)`` with the pointwise (``rows``) and global (``mult_z``) multipliers set to 0:
    ``L`` there is the objective ``J`` alone."""
    return jnp.where(rows[:, None], 0.0, V), jnp.where(mult_z, 0.0, z)


def _objective(lag, V, z, x, aux, rows, mult_z):
    """``(J, (∂J/∂V, ∂J/∂z))`` of ``J(V, z) = L(V, z)`` with every multiplier zeroed."""
    def J(V, z):
        return lag.value(*_without_multipliers(V, z, rows, mult_z), x, aux)
    return jax.value_and_grad(J, argnums=(0, 1))(V, z)


def _merit_parts(lag, V, z, x, aux, rows, mult_z, with_objective):
    """``(J with multipliers zeroed (0 unless with_objective), ∂L/∂V, ∂L/∂z, admissible(z))``."""
    g, gz = lag.gradient(V, z, x, aux)
    J = 0.0
    if with_objective:
        J = lag.value(*_without_multipliers(V, z, rows, mult_z), x, aux)
    return J, g, gz, lag.admissible(z)


# Up to this many nodes the size buckets are powers of two: small solves are latency-bound, and
# fewer buckets mean fewer compiles.
POW2_BUCKETS_MAX_NODES = 1024

# Up to BASELINE_MAX_NODES nodes the generic step is compiled with XLA's backend optimisation off
# ("baseline"): ~35 % less compile (the bordered solve 0.28 -> 0.18 s) for slower code (a 1024-node
# brachistochrone: 29 ms a solve instead of 19.5 ms).  Kernels, where the integrand's arithmetic is,
# are always optimised (baseline kernels too: 68 ms; and moving a kernel to the optimised build
# after a few solves would compile again, where users expect one compiled solver per functional).
# Only top-level calls can carry compiler options (JAX refuses them on a nested jit), so the fused
# loop is always optimised.
BASELINE_MAX_NODES = 1024
_BASELINE_OPTIONS = {"xla_backend_optimization_level": 0}


def _jit_for(baseline: bool):
    """``jax.jit`` with the baseline tier's compiler options, or plain."""
    if baseline:
        return lambda f, **kw: jax.jit(f, compiler_options=_BASELINE_OPTIONS, **kw)
    return jax.jit


def bucket(n: int) -> int:
    """The padded node count for ``n`` nodes.

    Up to :data:`POW2_BUCKETS_MAX_NODES` (latency-bound sizes, where a compile costs more than the
    padded work) the next power of two >= 8: few buckets, few compiles.  Above, the next of four
    sizes per doubling (``5/8, 3/4, 7/8, 1`` of the next power of two: at most 25 % padding,
    since there the work counts).  The generic step compiles once per bucket, so a new ``n`` in a
    known bucket compiles nothing generic.

    >>> [bucket(n) for n in (5, 101, 1001, 1500, 2049, 100001)]
    [8, 128, 1024, 1536, 2560, 114688]
    """
    if n <= 8:
        return 8
    top = 1 << (n - 1).bit_length()  # next power of two >= n
    if top <= POW2_BUCKETS_MAX_NODES:
        return top
    for size in (top * 5 // 8, top * 3 // 4, top * 7 // 8, top):
        if size >= n:
            return size
    return top


def _pad_nodes(a, N, axis, value=0.0):
    """``a`` padded along ``axis`` (the node or cell axis) to length ``N`` with ``value`` (traced)."""
    width = [(0, 0)] * a.ndim
    width[axis] = (0, N - a.shape[axis])
    return jnp.pad(a, width, constant_values=value)


class Kernel:
    """The compiled per-integrand pieces of a :class:`~varcalc.lagrangian.DiscreteLagrangian`.

    Each takes the unknowns padded to a bucket, ``V`` (d, N), with the grid ``x`` (N,) and ``aux``
    padded alike (``aux["cells"]``: the real cell count; see ``varcalc.solve.kernel_inputs``):

    * ``derivatives(V, z, x, aux)``: dict as :meth:`DiscreteLagrangian.derivatives` (``L``
      included: what minimisation needs at the iterate and at each line-search trial point);
    * ``kkt(V, z, x, aux, rows, mult_z, with_objective)``: ``derivatives`` with ``admissible``
      and (``with_objective``) the objective's ``J_obj``, ``gJ_V``, ``gJ_z`` (``L`` with the
      multipliers zeroed, and its gradient): all a KKT Newton iteration and its merit need.

    Each is ``jax.jit``-ed, compiled on first use for each bucket; a solve uses one of them,
    so one program is compiled per integrand (and bucket).  Evaluating the derivatives at trial
    points costs little: a taken step's derivatives are the next iteration's.
    """

    def __init__(self, lag):
        self.lag = lag

        def kkt(V, z, x, aux, rows, mult_z, with_objective):
            D = lag.derivatives(V, z, x, aux)
            D["admissible"] = lag.admissible(z)
            if with_objective:
                J, (gJ_V, gJ_z) = _objective(lag, V, z, x, aux, rows, mult_z)
                D.update(J_obj=J, gJ_V=gJ_V, gJ_z=gJ_z)
            return D

        self.derivatives = jax.jit(lag.derivatives)
        self.kkt = jax.jit(kkt, static_argnames="with_objective")

    def compiled(self) -> int:
        """Compiled derivative programs held (one per shape)."""
        return self.derivatives._cache_size() + self.kkt._cache_size()


# -- Python loop: generic pieces compiled once, the kernel per integrand -----------------------
class GenericStep:
    """``jax.jit`` of a step's generic pieces, shared by all integrands (see :func:`generic_step`);
    ``baseline``: the baseline compile tier (small sizes, :data:`BASELINE_MAX_NODES`)."""

    def __init__(self, step, baseline: bool = False):
        self.step = step
        jit = _jit_for(baseline)
        self.init = jit(step.init)
        self.plan = jit(step.plan)
        self.trial = jit(step.trial)
        self.finish = jit(step.finish)
        # check: the merit at a trial point, whether to go on backtracking, and whether (and at
        # which length) the step would be taken if the search stopped here.
        if isinstance(step, MinimizeStep):
            def check(P, a, V, L_at_V, n, ctx):
                value = step.merit(P, V, L_at_V, ctx)
                take, alpha, _ = step.taken(P, a, value, n, ctx)
                return value, step.ls_continue(P, a, value, n, ctx), take, alpha
        else:
            def check(P, a, parts, n, ctx):
                value = step.merit(P, parts, ctx)
                take, alpha, _ = step.taken(P, a, value, n, ctx)
                return value, step.ls_continue(P, a, value, n, ctx), take, alpha
        self.check = jit(check)


def generic_step(step, N: int) -> GenericStep:
    """The compiled generic pieces for a step's options at bucket ``N`` (cached per options and tier)."""
    baseline = N <= BASELINE_MAX_NODES
    return cache.get(("generic-step", baseline) + step.key(), lambda: GenericStep(step, baseline))


def pad_grid(x, N):
    """Grid ``x`` (n,) continued past its end with its last spacing to ``N`` nodes (numpy)."""
    x = np.asarray(x, dtype=np.float64)
    return np.concatenate([x, x[-1] + (x[-1] - x[-2]) * np.arange(1, N - x.size + 1)])


def pad_numpy(a, N, axis, value=0.0):
    """numpy ``a`` padded along ``axis`` to length ``N`` with ``value`` (no device op)."""
    a = np.asarray(a)
    width = [(0, 0)] * a.ndim
    width[axis] = (0, N - a.shape[axis])
    return np.pad(a, width, constant_values=value)


def padded_context(ctx, n, N):
    """``ctx`` (numpy) of the real ``n`` nodes padded to ``N``: padded nodes fixed, of unit mass (so
    the pointwise residual there is 0/1), unbounded; ``domain`` keeps the real length."""
    out = dict(ctx, mass=pad_numpy(ctx["mass"], N, 0, 1.0), fixed=pad_numpy(ctx["fixed"], N, 1, True),
               domain=np.float64(np.sum(ctx["mass"])))
    if "lower" in ctx:
        out.update(lower=pad_numpy(ctx["lower"], N, 1, -np.inf), upper=pad_numpy(ctx["upper"], N, 1, np.inf))
    return out


def run_python(step, kernel: Kernel, V0, z0, x, aux, ctx):
    """Run the Newton iteration of ``step`` as a Python loop; returns the final state (numpy).

    ``V0`` (d, N), ``x``, ``aux`` and ``ctx`` are padded to a size bucket ``N`` (:func:`bucket`;
    ``varcalc.solve.kernel_inputs``, :func:`padded_context`: the padded nodes are fixed and never
    move, the padded cells are masked in the kernel).

    The integrand is evaluated by one compiled program, the kernel's derivatives (``kkt`` with
    multipliers), at the iterate and at each line-search trial point: the derivatives at the
    accepted trial point are the next iteration's, so a full Newton step costs one evaluation, as
    it would with a separate value program, and only one program per integrand is compiled.
    Per iteration: the generic plan, then per trial the generic trial point, the kernel and the
    generic Armijo test (one host sync), then the generic finish.
    """
    G = generic_step(step, V0.shape[1])
    stationary = isinstance(step, StationaryStep)
    f64 = np.float64
    if stationary:
        ctx = dict(ctx, **step.mask_context(V0.shape[0], z0.shape[0]))
    V0, z0, x, aux, ctx = jax.device_put((V0, z0, x, aux, ctx))
    no_z = jax.device_put(np.zeros(0, V0.dtype))  # device_put: no compile (jnp.zeros compiles)
    if stationary:
        rows, mult_z = ctx["rows"], ctx["mult_z"]
        derivatives = lambda V, z: kernel.kkt(V, z, x, aux, rows, mult_z, with_objective=step.minimize)
        s = G.init(V0, z0, ctx)
    else:
        z0 = no_z
        derivatives = lambda V, z: kernel.derivatives(V, z, x, aux)
        s = G.init(V0, ctx)
    D = derivatives(s["U"], s["z"] if stationary else z0)
    while True:
        k, done = (int(v) for v in jax.device_get((s["k"], s["done"])))
        if done or k > step.max_iter:
            break
        if stationary:
            objective = (D["J_obj"], (D["gJ_V"], D["gJ_z"])) if step.minimize else None
            P = G.plan(s, D, objective, ctx)
        else:
            P = G.plan(s, D, ctx)
        a = float(P["a_first"]) if getattr(step, "bounds", False) else 1.0
        m = 0  # trials made
        while True:
            if m:
                a = 0.5 * a
            m += 1
            if stationary:
                V, zz = G.trial(P, f64(a), ctx)
                D_trial = derivatives(V, zz)
                parts = (D_trial["J_obj"] if step.minimize else 0.0, D_trial["g"],
                         D_trial.get("gz", no_z), D_trial["admissible"])
                merit, more, take, alpha = G.check(P, f64(a), parts, np.int32(m), ctx)
            else:
                V, zz = G.trial(P, f64(a), ctx), z0
                D_trial = derivatives(V, zz)
                merit, more, take, alpha = G.check(P, f64(a), V, D_trial["L"], np.int32(m), ctx)
            if not bool(more):
                break
        take, alpha = jax.device_get((take, alpha))
        moved_to_trial = bool(take) and float(alpha) == a  # else: not taken, or taken whole (SQP's first)
        L_next = None
        if not stationary and step.bounds:
            L_next = (D_trial if moved_to_trial else D)["L"]
        s = G.finish(s, P, f64(a), merit, np.int32(m), L_next, ctx)
        if moved_to_trial:
            # The new iterate is the trial point: keep its derivatives (and the very arrays they
            # were evaluated at, which the finish recomputes identically up to rounding).
            D = D_trial
            s = dict(s, U=V, **({"z": zz} if stationary else {}))
        elif bool(take):
            D = derivatives(s["U"], s.get("z", z0))
    return jax.device_get(s)


# -- host loop: the same step in numpy, around an operator solved outside JAX ----------------------
def run_host(step, derivatives, value, V0, ctx, monitor=None):
    """Run the Newton iteration of a host step (``MinimizeStep(..., xp=np)``) as a Python loop.

    ``derivatives(U) -> D`` gives ``L``, ``scale``, ``g`` and the Hessian operator ``D["H"]`` (e.g.
    :class:`varcalc.planar.linear.SparseHessian`); ``value(V) -> L`` at a trial point.  The
    sequence of step calls is :func:`run_python`'s, except that no trial is evaluated when the
    step cannot be taken whatever the line search finds (derivatives not finite, or no positive
    definite shift): :meth:`~varcalc.steps.MinimizeStep.finish` reports the same status.
    ``monitor(s, P, alpha, trials, t_line_search)`` is called after each iteration.
    Returns the final state (numpy).
    """
    s = step.init(V0, ctx)
    while step.cond(s):
        P = step.plan(s, derivatives(s["U"]), ctx)
        t0 = time.perf_counter()
        a, m, merit = float(P["a_first"]), 1, np.nan
        if P["finite"] and P["factor_ok"]:
            m = 0  # trials made
            while True:
                if m:
                    a = 0.5 * a
                m += 1
                V = step.trial(P, a, ctx)
                merit = step.merit(P, V, value(V), ctx)
                if not step.ls_continue(P, a, merit, m, ctx):
                    break
        L_next = value(step.next_point(P, a, merit, m, ctx)) if step.bounds else None
        s = step.finish(s, P, a, merit, m, L_next, ctx)
        if monitor is not None:
            monitor(s, P, a, m, time.perf_counter() - t0)
    return s
