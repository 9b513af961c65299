"""Drivers of the same Newton step (:mod:`varcalc.steps`), and the per-integrand kernel.

* **Fused** (:func:`minimize_loop`, :func:`stationary_loop`): the whole iteration in one
  ``lax.while_loop`` — one compiled program per integrand, what ``vmap``, batches, ``jax.grad``
  through a solve, GPUs and large single solves use.
* **Python loop** (:func:`run_python`): the same step in numpy on the host (``xp=numpy``; the
  block-tridiagonal solve by cyclic reduction, :class:`varcalc.newton.HostBlockTridiagonal`)
  around one compiled program per integrand and size bucket, the :class:`Kernel` — the discrete
  Lagrangian's derivatives.  Nothing generic is compiled, so a new functional costs about as much
  compile time as its own derivatives.

Both drivers run the same functions in the same order, so they return the same iterates (a test
checks this to rounding).  :func:`run_host` runs the same numpy step around an operator whose
solve is not JAX: the planar sparse Newton (:mod:`varcalc.planar.solve`, SciPy/pyamg solves).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .steps import MinimizeStep, StationaryStep

__all__ = [
    "Kernel",
    "ChunkedKernel",
    "chunked_nodes",
    "bucket",
    "minimize_loop",
    "stationary_loop",
    "run_python",
    "run_host",
]


# -- fused: one lax.while_loop ---------------------------------------------------------------------
def context(aux, fixed, rtol, atol, lower=None, upper=None, x=None):
    """The step's ``ctx`` (numpy or traced alike): masses, fixed unknowns, tolerances, and with
    ``lower``/``upper`` the bounds, with the slope bounds of ``aux`` and the cell widths of ``x``."""
    ctx = dict(mass=aux["mass"], fixed=fixed, rtol=rtol, atol=atol)
    if lower is not None:
        ctx.update(lower=lower, upper=upper)
        if "slope_lower" in aux:
            ctx.update(
                slope_lower=aux["slope_lower"],
                slope_upper=aux["slope_upper"],
                h=x[1:] - x[:-1],
                slope_D=aux["slope_D"],
                slope_w=aux["slope_w"],
            )
    return ctx


def minimize_loop(lag, V0, x, aux, fixed, lower, upper, rtol, atol, *, max_iter, max_backtracks, bounds=False):
    """Minimise ``L(V)`` (no global unknowns) by globalised Newton in one ``lax.while_loop``.

    ``V0`` (d, n); ``fixed`` (d, n) marks Dirichlet unknowns; ``lower``/``upper`` (d, n) bounds
    (with ``bounds``; see :mod:`varcalc.newton` for the barrier and projected-Newton phases).
    Returns a dict of arrays: final ``U``, ``J``, ``g``, ``status``, ``k`` (iterations) and
    per-iteration histories of length ``max_iter + 1``.
    """
    step = MinimizeStep(max_iter=max_iter, max_backtracks=max_backtracks, bounds=bounds)
    ctx = context(aux, fixed, rtol, atol, lower, upper, x) if bounds else context(aux, fixed, rtol, atol)
    z = jnp.zeros(0, V0.dtype)
    value = lambda V: lag.value(V, z, x, aux)

    def body(s):
        P = step.plan(s, lag.derivatives(s["U"], z, x, aux), ctx)

        def ls_body(ls):
            a, _, n = ls
            a = jnp.where(n == 0, P["a_first"], 0.5 * a)
            V = step.trial(P, a, ctx)
            return a, step.merit(P, V, value(V), ctx), n + 1

        alpha, J_new, n_ls = lax.while_loop(
            lambda ls: step.ls_continue(P, *ls, ctx), ls_body, (jnp.ones((), V0.dtype), P["J"], 0)
        )
        L_next = value(step.next_point(P, alpha, J_new, n_ls, ctx)) if bounds else None
        return step.finish(s, P, alpha, J_new, n_ls, L_next, ctx)

    return lax.while_loop(step.cond, body, step.init(V0, ctx))


def stationary_loop(
    lag,
    V0,
    z0,
    x,
    aux,
    fixed,
    rtol,
    atol,
    *,
    max_iter,
    max_backtracks,
    multipliers=None,
    multiplier_rows=None,
    minimize=False,
    lower=None,
    upper=None,
):
    """Find a stationary point of ``L(V, z)`` (KKT for constraints) in one ``lax.while_loop``.

    ``minimize``: SQP with inertia correction and an exact-penalty merit (constrained minima);
    else Newton on ``∇L = 0`` with the residual norm as merit (saddles too).  ``multipliers``
    (bool (k,)) marks the global multipliers in ``z`` (least-squares estimate first when all are
    zero); ``multiplier_rows`` (bool (d,)) the rows of ``V`` that are pointwise multipliers.
    """
    step = StationaryStep(
        max_iter=max_iter,
        max_backtracks=max_backtracks,
        multipliers=multipliers,
        multiplier_rows=multiplier_rows,
        minimize=minimize,
        bounds=lower is not None,
    )
    ctx = dict(context(aux, fixed, rtol, atol, lower, upper, x), **step.mask_context(V0.shape[0], z0.shape[0]))
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

        alpha, phi_new, n_ls = lax.while_loop(
            lambda ls: step.ls_continue(P, *ls, ctx), ls_body, (jnp.ones((), V0.dtype), P["phi"], 0)
        )
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
    """``(J with multipliers zeroed (0 unless with_objective), ∂L/∂V, ∂L/∂z, admissible(z), V)``."""
    g, gz = lag.gradient(V, z, x, aux)
    J = 0.0
    if with_objective:
        J = lag.value(*_without_multipliers(V, z, rows, mult_z), x, aux)
    return J, g, gz, lag.admissible(z), V


# Up to this many nodes the size buckets are powers of two: small solves are latency-bound, and
# fewer buckets mean fewer compiles.
POW2_BUCKETS_MAX_NODES = 1024

# Up to BASELINE_MAX_NODES nodes compiled code is built with XLA's backend optimisation off
# ("baseline"): the kernel of a new functional compiles ~35 % faster (0.22 against 0.33 s for a
# whole first solve of a catenary-like integrand at 1001 nodes) and runs ~1.3-2x slower (6.0 ->
# 7.9 ms a solve; the brachistochrone with its tanh-sinh cells 15 -> 31 ms), where latency counts.
# Larger buckets, where the work counts, are optimised; the tier is chosen by the bucket, so a
# functional never compiles twice for one size.  Only top-level calls can carry compiler options
# (JAX refuses them on a nested jit), so the fused loop is always optimised.
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
    since there the work counts).  The kernel compiles once per bucket, so a new ``n`` in a known
    bucket compiles nothing.

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

    Each is ``jax.jit``-ed, compiled on first use for each bucket (on the baseline tier up to
    :data:`BASELINE_MAX_NODES` nodes); a solve uses one of them, so one program is compiled per
    integrand (and bucket).  Evaluating the derivatives at trial points costs little: a taken
    step's derivatives are the next iteration's.
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

        # (tier: baseline?) -> jitted function
        self._derivatives = {tier: _jit_for(tier)(lag.derivatives) for tier in (True, False)}
        self._kkt = {tier: _jit_for(tier)(kkt, static_argnames="with_objective") for tier in (True, False)}

    def derivatives(self, V, z, x, aux):
        return self._derivatives[V.shape[-1] <= BASELINE_MAX_NODES](V, z, x, aux)

    def kkt(self, V, z, x, aux, rows, mult_z, with_objective):
        return self._kkt[V.shape[-1] <= BASELINE_MAX_NODES](V, z, x, aux, rows, mult_z, with_objective=with_objective)

    def compiled(self) -> int:
        """Compiled derivative programs held (one per shape)."""
        return sum(f._cache_size() for f in (*self._derivatives.values(), *self._kkt.values()))


# The chunked kernel's program covers this many nodes (CHUNK_NODES - 1 cells); see ChunkedKernel.
CHUNK_NODES = 1024


def chunked_nodes(n: int) -> int:
    """The padded node count of ``n`` nodes evaluated by a :class:`ChunkedKernel`: whole chunks,
    ``1 + (CHUNK_NODES - 1) k``.

    >>> [chunked_nodes(n) for n in (11, 1024, 1025, 1500, 8193)]
    [1024, 1024, 2047, 2047, 9208]
    """
    cells = CHUNK_NODES - 1
    return 1 + cells * max(1, -(-(n - 1) // cells))


class ChunkedKernel:
    """A :class:`Kernel` compiled once for one chunk of ``CHUNK_NODES`` nodes and applied chunk by
    chunk, so that no grid size compiles anything new: the cells are split into consecutive chunks
    (each with its own real-cell count, the last one's padded cells masked), and their outputs are
    summed — a node shared by two chunks gets both chunks' cell terms, each cell belongs to one.

    Only for Lagrangians made of cell terms alone (P1 elements, one quadrature rule, no global
    unknowns, no node or end terms: ``varcalc.solve`` decides); ``derivatives`` takes the unknowns
    padded to :func:`chunked_nodes` and returns numpy arrays.  One host-to-device call per chunk.
    """

    chunked = True
    _NODE_KEYS, _CELL_KEYS = ("mass", "w", "y"), ("slope_lower", "slope_upper")

    def __init__(self, kernel: Kernel):
        self.kernel = kernel

    def derivatives(self, V, z, x, aux):
        V, x = np.asarray(V), np.asarray(x)
        d, N = V.shape
        C = CHUNK_NODES - 1
        cells = int(aux["cells"])
        g, diag, upper = np.zeros((d, N)), np.zeros((d, d, N)), np.zeros((d, d, N - 1))
        L = scale = 0.0
        for a in range(0, N - 1, C):
            b = a + C + 1  # the chunk's nodes [a, b)
            part = {k: np.asarray(aux[k])[a:b] for k in self._NODE_KEYS}
            part.update({k: np.asarray(aux[k])[a : b - 1] for k in self._CELL_KEYS if k in aux})
            D = jax.device_get(
                self.kernel.derivatives(
                    V[:, a:b], z, x[a:b], dict(aux, **part, cells=np.int64(min(max(cells - a, 0), C)))
                )
            )
            L, scale = L + D["L"], scale + D["scale"]
            g[:, a:b] += D["g"]
            diag[..., a:b] += D["diag"]
            upper[..., a : b - 1] = D["upper"]
        return dict(L=np.float64(L), scale=np.float64(scale), g=g, diag=diag, upper=upper)

    def compiled(self) -> int:
        return self.kernel.compiled()


# -- Python loop: the step in numpy on the host, the kernel compiled per integrand ----------------
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
    out = dict(
        ctx,
        mass=pad_numpy(ctx["mass"], N, 0, 1.0),
        fixed=pad_numpy(ctx["fixed"], N, 1, True),
        domain=np.float64(np.sum(ctx["mass"])),
    )
    if "lower" in ctx:
        out.update(lower=pad_numpy(ctx["lower"], N, 1, -np.inf), upper=pad_numpy(ctx["upper"], N, 1, np.inf))
    if "slope_lower" in ctx:  # per cell: the padded cells are unbounded
        out.update(
            slope_lower=pad_numpy(ctx["slope_lower"], N - 1, 0, -np.inf),
            slope_upper=pad_numpy(ctx["slope_upper"], N - 1, 0, np.inf),
            h=pad_numpy(ctx["h"], N - 1, 0, 1.0),
        )
    return out


def run_python(step, kernel: Kernel, V0, z0, x, aux, ctx):
    """Run the Newton iteration of a host step (``xp=numpy``) around the integrand's compiled
    kernel, as a Python loop; returns the final state (numpy).

    ``V0`` (d, N), ``x``, ``aux`` and ``ctx`` are padded to a size bucket ``N`` (:func:`bucket`;
    ``varcalc.solve.kernel_inputs``, :func:`padded_context`: the padded nodes are fixed and never
    move, the padded cells are masked in the kernel), so a new ``n`` in a known bucket compiles
    nothing.  The step's own work (the block-tridiagonal solve by cyclic reduction, the inertia
    correction, the line search's tests) runs in numpy: nothing generic is compiled, and a new
    functional costs the compile of its kernel alone.

    The integrand is evaluated by one compiled program, the kernel's derivatives (``kkt`` with
    multipliers), at the iterate and at each line-search trial point: the derivatives at the
    accepted trial point are the next iteration's, so a full Newton step costs one evaluation.
    """
    stationary = isinstance(step, StationaryStep)
    if stationary:
        ctx = dict(ctx, **step.mask_context(V0.shape[0], z0.shape[0]))
    if not getattr(kernel, "chunked", False):  # (a chunked kernel slices them on the host)
        x, aux = jax.device_put((x, aux))  # once: the kernel is called with them at every point
    if stationary:
        rows, mult_z = jax.device_put((ctx["rows"], ctx["mult_z"]))
        kkt = lambda V, z: kernel.kkt(V, z, x, aux, rows, mult_z, with_objective=step.minimize)
        s = step.init(V0, z0, ctx)
    else:
        z0 = np.zeros(0, V0.dtype)
        kkt = lambda V, z: kernel.derivatives(V, z, x, aux)
        s = step.init(V0, ctx)
    derivatives = lambda V, z: jax.device_get(kkt(V, z))
    z_of = (lambda state: state["z"]) if stationary else (lambda state: z0)
    # numpy warns where traced code does not (log 0 at a bound, a zero pivot): the step's tests
    # handle those values, as in the fused loop.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _python_loop(step, stationary, derivatives, z_of, z0, s, ctx)


def _python_loop(step, stationary, derivatives, z_of, z0, s, ctx):
    """The loop of :func:`run_python` from its first state ``s``."""
    D = derivatives(s["U"], z_of(s))
    while step.cond(s):
        if stationary:
            P = step.plan(s, D, (D["J_obj"], (D["gJ_V"], D["gJ_z"])) if step.minimize else None, ctx)
        else:
            P = step.plan(s, D, ctx)
        a, m = float(P["a_first"]), 0  # trial step length, trials made
        while True:
            if m:
                a = 0.5 * a
            m += 1
            V, zz = step.trial(P, a, ctx) if stationary else (step.trial(P, a, ctx), z0)
            D_trial = derivatives(V, zz)
            if stationary:
                parts = (
                    D_trial["J_obj"] if step.minimize else 0.0,
                    D_trial["g"],
                    D_trial.get("gz", z0),
                    D_trial["admissible"],
                    V,
                )
                merit = step.merit(P, parts, ctx)
            else:
                merit = step.merit(P, V, D_trial["L"], ctx)
            if not step.ls_continue(P, a, merit, m, ctx):
                break
        take, alpha, _ = step.taken(P, a, merit, m, ctx)
        moved_to_trial = bool(take) and float(alpha) == a  # else: not taken, or taken whole (SQP's first)
        L_next = None
        if not stationary and step.bounds:
            L_next = (D_trial if moved_to_trial else D)["L"]
        s = step.finish(s, P, a, merit, m, L_next, ctx)
        if moved_to_trial:
            D = D_trial  # the new iterate is the trial point: its derivatives are the next iteration's
        elif bool(take):
            D = derivatives(s["U"], z_of(s))
    return s


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
