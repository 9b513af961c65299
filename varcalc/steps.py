"""One Newton iteration, split into generic pieces that never see the integrand.

An iteration of globalised Newton on a discrete Lagrangian ``L(V, z)`` needs the integrand in
exactly three places: the derivatives at the iterate (value, gradient, block-tridiagonal Hessian),
the merit at each line-search trial point, and (with bounds) ``L`` at the accepted point.  Everything
else — the bordered block-tridiagonal solve with its inertia correction, the barrier, the projected
step, the Armijo test, the convergence test and the histories — is the same for every functional.
The step objects below hold that generic part as pure functions of arrays::

    state = step.init(V0, ctx)                       # ctx: grid, aux, masks, bounds, tolerances
    while step.cond(state):
        D = <kernel: L's derivatives at state>        # the only per-integrand work
        P = step.plan(state, D, ctx)                  # Newton direction, tests, first trial
        a, n = first trial, 0
        repeat: a, n = next a, n + 1
                merit = step.merit(P, <kernel at step.trial(P, a)>, ctx)
        until not step.ls_continue(P, a, merit, n, ctx)
        state = step.finish(state, P, a, merit, n, [<kernel: L at step.next_point>], ctx)

:mod:`varcalc.drivers` runs that loop twice over: traced (``xp=jax.numpy``) in one fused
``lax.while_loop`` (for ``vmap``, batches, ``jax.grad`` through a solve, GPUs, large solves), and
in numpy (``xp=numpy``) as a Python loop around the integrand's compiled kernel, where nothing
generic is compiled at all.

The Hessian enters through a small operator interface (:class:`varcalc.newton.BlockTridiagonal`
describes it): ``add_diagonal``, ``restrict``, ``finite`` and the shifted solve that
:func:`varcalc.newton.shifted_solve` (the inertia correction, written once) drives.  In 1-D it is
the block-tridiagonal operator built from ``D["diag"]``/``D["upper"]``: traced inside ``jit``
(LDLᵀ by ``lax.scan``), or on the host in numpy (cyclic reduction); the
planar (2-D) solve hands a sparse operator in ``D["H"]`` (:class:`varcalc.planar.linear.SparseHessian`,
SciPy/pyamg on the host) and runs :class:`MinimizeStep` with ``xp=numpy`` under
:func:`varcalc.drivers.run_host`: the same line search, convergence test, statuses and histories,
evaluated in numpy on concrete arrays instead of traced.

The mathematics (barrier, projected Newton, SQP with an exact penalty, residual-norm merit for
saddles) is described in :mod:`varcalc.newton`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .newton import _ARMIJO_C1, _SHIFT_MIN, BlockTridiagonal, HostBlockTridiagonal, Status, shifted_solve

__all__ = ["MinimizeStep", "StationaryStep"]


def _histories(max_iter, dtype, xp=jnp):
    hist = lambda: xp.full(max_iter + 1, xp.nan, dtype)
    return dict(
        residual=hist(),
        value=hist(),
        step=hist(),
        alpha=hist(),
        shift=hist(),
        decrement=hist(),
        negative=xp.full(max_iter + 1, -1, xp.int32),
    )


def _set(a, k, v):
    """``a`` with entry ``k`` set to ``v``: a new array (jax), or a copy (numpy, on the host)."""
    if isinstance(a, np.ndarray):
        a = a.copy()
        a[int(k)] = v
        return a
    return a.at[k].set(v)


def _record(s, k, **values):
    return {name: _set(s[name], k, v) for name, v in values.items()}


# The barrier phase ends (μ = 0) when μ/μ0 falls below this: the barrier solution is then close
# enough to the constrained one for projected Newton to finish on its active set in a few steps.
_BARRIER_EXIT = 1e-6
# ... and once the barrier's contact unknowns are resolved on the mesh (_Barrier._resolved), or at
# the latest below this (then the projected phase sorts the rest out, one node at a time).
_BARRIER_EXIT_LAST = 1e-13
# Where there is no projected phase (slope bounds couple nodes; the SQP step's multipliers would have
# to follow a projection) the barrier ends the solve itself, at μ = μ0 times this.
_BARRIER_FLOOR = 1e-9


def _operator(xp):
    """The 1-D Hessian operator for the namespace: traced (``jnp``) or on the host (``np``)."""
    return BlockTridiagonal if xp is jnp else HostBlockTridiagonal


class _Barrier:
    """The bounds' pieces shared by both steps: gaps, the log barrier on values (and, for
    :class:`MinimizeStep`, on slopes), fraction to the boundary, μ's first value.  Needs
    ``self.xp`` and ``self.bounds``."""

    def _project(self, V, ctx):
        xp = self.xp
        return xp.clip(V, ctx["lower"], ctx["upper"]) if self.bounds else V

    def _safe_gaps(self, V, ctx):
        xp = self.xp
        lower, upper = ctx["lower"], ctx["upper"]
        lo_ok, hi_ok = xp.isfinite(lower), xp.isfinite(upper)
        return lo_ok, hi_ok, xp.where(lo_ok, V - lower, 1.0), xp.where(hi_ok, upper - V, 1.0)

    def barrier(self, V, mu, ctx):
        """``-μ Σ mass log(gap)`` over the free unknowns with a finite bound (NaN if infeasible)."""
        xp = self.xp
        if not self.bounds:
            return 0.0
        lo_ok, hi_ok, lo_gap, hi_gap = self._safe_gaps(V, ctx)
        logs = xp.where(lo_ok, xp.log(lo_gap), 0.0) + xp.where(hi_ok, xp.log(hi_gap), 0.0)
        total = xp.sum(xp.where(~ctx["fixed"], ctx["mass"] * logs, 0.0))
        if "slope_lower" in ctx:
            lo_ok, hi_ok, lo_gap, hi_gap = self._slope_gaps(V, ctx)
            logs = xp.where(lo_ok, xp.log(lo_gap), 0.0) + xp.where(hi_ok, xp.log(hi_gap), 0.0)
            total = total + xp.sum(ctx["h"][:, None] * ctx["slope_w"] * logs)
        return xp.where(mu > 0, -mu * total, 0.0)

    # -- slope bounds (Bound(derivative=1)): a barrier on f' at each cell's points ---------------
    # A cell's values w = [f_i, (interior GLL values,) f_{i+1}] (p + 1 of them: rows 0..p-1 of node
    # i, row 0 of node i + 1; scalar unknown) give its slopes s = D w / h at the rule's q points
    # (ctx["slope_D"] (q, p + 1), weights ctx["slope_w"]; P1: D = [[-1, 1]], one point).
    @staticmethod
    def _slope_p(ctx):
        return ctx["slope_D"].shape[1] - 1

    def _cells(self, V, ctx):
        """Each cell's values ``w`` (n - 1, p + 1) from ``V`` (d, n)."""
        p = self._slope_p(ctx)
        return self.xp.concatenate([V[:p, :-1].T, V[:1, 1:].T], axis=1)

    def _slope_gaps(self, V, ctx):
        """Per cell and point (n - 1, q): which slope bounds are finite, and the gaps to them."""
        xp = self.xp
        lower, upper = ctx["slope_lower"], ctx["slope_upper"]
        s = self._cells(V, ctx) @ ctx["slope_D"].T / ctx["h"][:, None]
        lo_ok, hi_ok = xp.isfinite(lower), xp.isfinite(upper)
        return lo_ok, hi_ok, xp.where(lo_ok, s - lower, 1.0), xp.where(hi_ok, upper - s, 1.0)

    def _slope_barrier_terms(self, U, mu, ctx):
        """Gradient (d, n) and the Hessian's diagonal (d, d, n) and upper (d, d, n - 1) parts of
        ``-μ Σ_cells h Σ_q w_q log(gap)`` over the slopes ``s = D w / h``."""
        xp = self.xp
        Dm, wq, h = ctx["slope_D"], ctx["slope_w"], ctx["h"]
        p, d = self._slope_p(ctx), U.shape[0]
        lo_ok, hi_ok, lo_gap, hi_gap = self._slope_gaps(U, ctx)
        c = -mu * wq * (xp.where(lo_ok, 1.0 / lo_gap, 0.0) - xp.where(hi_ok, 1.0 / hi_gap, 0.0))  # (n-1, q)
        k = mu * wq * (xp.where(lo_ok, 1.0 / lo_gap**2, 0.0) + xp.where(hi_ok, 1.0 / hi_gap**2, 0.0)) / h[:, None]
        gw = c @ Dm  # (n-1, p+1): ∂/∂w
        Hw = xp.einsum("iq,qa,qb->abi", k, Dm, Dm)  # (p+1, p+1, n-1)
        # Scatter: local 0..p-1 -> node i's rows 0..p-1, local p -> node i + 1's row 0.
        grad = xp.pad(gw[:, :p].T, ((0, d - p), (0, 1))) + xp.pad(gw[:, p:].T, ((0, d - 1), (1, 0)))
        diag = xp.pad(Hw[:p, :p], ((0, d - p), (0, d - p), (0, 1))) + xp.pad(
            Hw[p:, p:], ((0, d - 1), (0, d - 1), (1, 0))
        )
        upper = xp.pad(Hw[:p, p:], ((0, d - p), (0, d - 1), (0, 0)))
        return grad, diag, upper

    def _slope_reach(self, U, du, ctx):
        """The largest step length along ``du`` that keeps every slope inside its bounds."""
        xp = self.xp
        lo_ok, hi_ok, lo_gap, hi_gap = self._slope_gaps(U, ctx)
        ds = self._cells(du, ctx) @ ctx["slope_D"].T / ctx["h"][:, None]
        reach = xp.minimum(
            xp.where(lo_ok & (ds < 0), lo_gap / xp.maximum(-ds, 1e-300), xp.inf),
            xp.where(hi_ok & (ds > 0), hi_gap / xp.maximum(ds, 1e-300), xp.inf),
        )
        return xp.min(reach)

    def _room(self, U, ctx, keep):
        """The distance of each free unknown to its nearer finite bound (``1 + |U|`` where none)."""
        xp = self.xp
        lo_ok, hi_ok, lo_gap, hi_gap = self._safe_gaps(U, ctx)
        room = xp.minimum(xp.where(lo_ok & keep, lo_gap, xp.inf), xp.where(hi_ok & keep, hi_gap, xp.inf))
        return xp.where(xp.isfinite(room), room, 1.0 + xp.abs(U))

    def _mu0(self, scale, g_obj, U, ctx, keep, domain):
        """μ's first value: 1 % of the integrand's size per unit length — that of J's terms, or
        where G vanishes on the guess (f = 0 in ½f'² + f) that of the gradient times the room to the
        bounds."""
        xp = self.xp
        g_size = xp.sum(xp.where(keep, xp.abs(g_obj) * self._room(U, ctx, keep), 0.0))
        return 1e-2 * xp.maximum(scale, g_size) / domain + xp.finfo(U.dtype).tiny

    def _at_start(self, k, compute, current):
        """``compute()`` at the first iteration, else ``current`` (μ0 is computed once, not every
        iteration: a Python branch on the host, ``lax.cond`` when traced)."""
        if self.xp is not jnp:
            return self.xp.asarray(compute() if int(k) == 0 else current, dtype=current.dtype)
        return jax.lax.cond(k == 0, lambda: jnp.asarray(compute(), current.dtype), lambda: current)

    def _value_barrier_terms(self, U, mu, ctx, keep):
        """Gradient and Hessian diagonal (both of ``U``'s shape) of the value barrier on the free
        unknowns (a Dirichlet value may sit on its bound)."""
        xp = self.xp
        lo_ok, hi_ok, lo_gap, hi_gap = self._safe_gaps(U, ctx)
        lo_ok, hi_ok = lo_ok & keep, hi_ok & keep
        mass = ctx["mass"]
        grad = -mu * mass * (xp.where(lo_ok, 1.0 / lo_gap, 0.0) - xp.where(hi_ok, 1.0 / hi_gap, 0.0))
        hess = mu * mass * (xp.where(lo_ok, 1.0 / lo_gap**2, 0.0) + xp.where(hi_ok, 1.0 / hi_gap**2, 0.0))
        return grad, hess

    def _reach(self, U, du, ctx, keep):
        """The largest step length along ``du`` that keeps the free unknowns inside their bounds."""
        xp = self.xp
        lo_ok, hi_ok, lo_gap, hi_gap = self._safe_gaps(U, ctx)
        reach = xp.minimum(
            xp.where(lo_ok & (du < 0), lo_gap / xp.maximum(-du, 1e-300), xp.inf),
            xp.where(hi_ok & (du > 0), hi_gap / xp.maximum(du, 1e-300), xp.inf),
        )
        return xp.min(xp.where(keep, reach, xp.inf))

    def _mu_ladder(self, mu, mu0, solved, projected: bool, resolved=True):
        """``(μ_next, at_floor)``: once the barrier problem for μ is solved, μ falls superlinearly
        (``r = μ/μ0 -> min(r/10, r^1.5)``, as IPOPT's κ/θ rule).  ``projected``: down to
        ``r < _BARRIER_EXIT`` and the contact set ``resolved`` (:meth:`_resolved`; at the latest
        ``r < _BARRIER_EXIT_LAST``), then 0 (projected Newton on the active set the barrier found);
        else to the interior-point finish ``r = _BARRIER_FLOOR`` (``at_floor``: reached)."""
        xp = self.xp
        r = mu / mu0
        r_next = xp.minimum(r / 10, r**1.5)
        if projected:
            leave = (r_next < _BARRIER_EXIT) & (resolved | (r_next < _BARRIER_EXIT_LAST))
            return xp.where(solved & (mu > 0), xp.where(leave, 0.0, mu0 * r_next), mu), mu == 0
        at_floor = r <= _BARRIER_FLOOR * (1 + 1e-6)
        return xp.where(solved & ~at_floor, mu0 * xp.maximum(r_next, _BARRIER_FLOOR), mu), at_floor

    def _resolved(self, U, mu, mu0, ctx, keep, curvature):
        """Whether the projected finish will find the barrier iterate's contact set at once: every
        unknown the barrier holds with a force density ``λ/m`` (``λ = μ m/gap``) within a factor 10
        of the largest and above ``μ0/(1 + max|U|)`` (μ0 is 1 % of the integrand's size per unit
        length, so this is ~1 % of a typical force density: an inactive bound holds nothing) has a
        gap below its own Newton push ``λ/H_jj`` (the projected phase's active test), i.e.
        ``μ m H_jj <= λ²``.  The barrier's gaps are ~μ, the push ~h² (mesh
        and degree): with μ above that scale the first projected step frees the whole contact set,
        overshoots, and the contact set then shrinks by one node per iteration (degree 4 at
        N = 1e4: hundreds of iterations).  ``curvature``: the Hessian's diagonal ``H_jj``."""
        xp = self.xp
        lo_ok, hi_ok, lo_gap, hi_gap = self._safe_gaps(U, ctx)
        gap = xp.minimum(xp.where(lo_ok & keep, lo_gap, xp.inf), xp.where(hi_ok & keep, hi_gap, xp.inf))
        mass = ctx["mass"]
        lam = mu * mass / xp.maximum(gap, xp.finfo(U.dtype).tiny)  # 0 where no finite bound (gap inf)
        density = lam / mass
        held = density >= xp.maximum(0.1 * xp.max(density), mu0 / (1.0 + xp.max(xp.abs(U))))
        return xp.all(xp.where(held & (lam > 0), mu * mass * curvature <= lam**2, True))

    def _start_inside(self, V0, ctx):
        """``V0`` moved strictly inside the bounds (the barrier is infinite on them)."""
        xp = self.xp
        lower, upper = ctx["lower"], ctx["upper"]
        width = xp.where(xp.isfinite(upper - lower), upper - lower, xp.inf)
        room = xp.minimum(1e-2 * (1.0 + xp.max(xp.abs(V0))), 0.25 * width)
        keep = ctx["fixed"]
        if "slope_lower" in ctx:
            # With slope bounds a value already strictly inside stays where it is: lifting a run of
            # values (a solution on its height bound) onto one level would flatten their slopes onto
            # a bound of f' (f' <= 0), where the slope barrier is infinite.
            keep = keep | ((V0 > lower) & (V0 < upper))
        return xp.where(keep, V0, xp.clip(V0, lower + room, upper - room))


class MinimizeStep(_Barrier):
    """Generic pieces of one iteration of unconstrained minimisation (optionally with bounds).

    ``ctx`` is a dict of arrays: ``mass`` (n,), ``fixed`` (d, n) bool, ``lower``/``upper`` (d, n)
    (empty without bounds), ``rtol``, ``atol``.  The integrand enters only through ``D``
    (:meth:`varcalc.lagrangian.DiscreteLagrangian.derivatives` at the iterate) and the values of
    ``L`` handed to :meth:`merit` and :meth:`finish`.  ``D["H"]``, when given, is the Hessian
    operator (else the block-tridiagonal one from ``D["diag"]``, ``D["upper"]``).

    ``xp``: the array namespace, ``jax.numpy`` (traced, jitted by the drivers) or ``numpy`` (a
    host step around an operator solved outside JAX, without bounds: the planar Newton).
    """

    def __init__(self, *, max_iter: int, max_backtracks: int, bounds: bool = False, xp=jnp):
        self.max_iter, self.max_backtracks, self.bounds = int(max_iter), int(max_backtracks), bool(bounds)
        self.xp = xp

    def key(self):
        key = ("minimize", self.max_iter, self.max_backtracks, self.bounds)
        return key if self.xp is jnp else key + (self.xp.__name__,)

    # -- the iteration ---------------------------------------------------------------------------
    def init(self, V0, ctx):
        xp = self.xp
        dtype = V0.dtype
        if self.bounds:
            V0 = self._start_inside(V0, ctx)
        return dict(
            k=xp.zeros((), xp.int32),
            U=V0,
            J=xp.zeros((), dtype),
            g=xp.zeros_like(V0),
            tau=xp.zeros((), dtype),
            done=xp.zeros((), bool),
            mu=xp.full((), -1.0, dtype),
            mu0=xp.zeros((), dtype),
            status=xp.full((), int(Status.MAX_ITERATIONS), xp.int32),
            **_histories(self.max_iter, dtype, xp),
        )

    def cond(self, s):
        return (~s["done"]) & (s["k"] <= self.max_iter)

    def plan(self, s, D, ctx):
        """Everything of the iteration before the line search, as a dict of arrays."""
        xp = self.xp
        k, U = s["k"], s["U"]
        dtype = U.dtype
        mass, fixed = ctx["mass"], ctx["fixed"]
        keep_fixed = ~fixed
        J, g = D["L"], D["g"]
        g_obj = g  # the functional's gradient (its value at the contact nodes is the reaction)
        frozen = fixed
        mu, mu0 = s["mu"], s["mu0"]
        # The Hessian operator: block tridiagonal (1-D, from D's blocks) or the one D carries
        # (planar: sparse, on the host); see newton.BlockTridiagonal for the interface.
        H = D["H"] if "H" in D else _operator(xp)(D["diag"], D["upper"])
        # The domain's length (ctx["domain"] when the nodes are padded with unit masses).
        domain = ctx["domain"] if "domain" in ctx else xp.sum(mass)
        if self.bounds:
            lower, upper = ctx["lower"], ctx["upper"]
            # μ starts at 1% of the integrand's size (_mu0); it is 0 in the projected-Newton phase.
            mu0 = self._at_start(k, lambda: self._mu0(D["scale"], g_obj, U, ctx, keep_fixed, domain), mu0)
            mu = xp.where(k == 0, mu0, mu)
            in_barrier = mu > 0
            barrier_g, barrier_h = self._value_barrier_terms(U, mu, ctx, keep_fixed)
            g = xp.where(in_barrier, g + barrier_g, g)
            J = J + self.barrier(U, mu, ctx)
            if "slope_lower" in ctx:  # 1-D, scalar: the slope barrier couples neighbouring nodes
                slope_g, slope_diag, slope_upper = self._slope_barrier_terms(U, mu, ctx)
                g = g + slope_g
                H = _operator(xp)(D["diag"] + slope_diag, D["upper"] + slope_upper)
            H = H.add_diagonal(xp.where(in_barrier, barrier_h, 0.0))
            lo_gap, hi_gap = U - lower, upper - U
            if "diag" in D:
                # Active: pushed outward hard enough that the unknown's own Newton step g/H_jj
                # crosses its bound (on the bound: any outward push).  The ε of this test scales
                # with the mesh and the integrand, and it is stable: a free unknown next to the
                # free boundary, a discrete gap ~1e-9 from its bound with a gradient of rounding
                # size, stays free (a fixed ε = 1e-8 snapped it onto the bound, the next step
                # pulled it off, and so on to MAX_ITERATIONS: degree p at N = 1e4); and leaving
                # the barrier, the contact unknowns (gap μ m/λ, push λ/H_jj) are identified at
                # once rather than released one node per iteration from an overshooting step.
                push = xp.abs(g) / xp.maximum(xp.abs(xp.einsum("iin->in", D["diag"])), xp.finfo(dtype).tiny)
                active = ((lo_gap <= push) & (g > 0)) | ((hi_gap <= push) & (g < 0))
            else:  # (planar: no Hessian diagonal at hand) ε-active: within ε of a bound, pushed outward
                w = xp.max(xp.where(keep_fixed, xp.abs(U - self._project(U - g / mass, ctx)), 0.0))
                eps = xp.minimum(1e-8 * (1.0 + xp.max(xp.abs(U))), w)
                active = ((lo_gap <= eps) & (g > 0)) | ((hi_gap <= eps) & (g < 0))
            frozen = fixed | (active & ~in_barrier)
        keep = ~frozen
        # Armijo cannot see decreases below the rounding of J; allow that much (else Newton
        # stalls with halved steps once it is within rounding of the minimiser).
        J_noise = 64 * xp.finfo(dtype).eps * D["scale"]
        g_free = xp.where(keep, g, 0.0)
        H = H.restrict(frozen)
        finite = H.finite(xp.all(xp.isfinite(g_free)))
        residual = xp.max(xp.abs(g_free) / mass)
        if self.bounds:
            # With bounds: the functional's residual off contact; at a node (nearly) on a bound only
            # a gradient pulling it off the bound is a residual (the rest is the contact force).
            r = g_obj / mass
            near = xp.sqrt(xp.finfo(dtype).eps) * (1.0 + xp.abs(U))
            r = xp.where(U - lower <= near, xp.minimum(r, 0.0), r)
            r = xp.where(upper - U <= near, xp.maximum(r, 0.0), r)
            residual = xp.max(xp.where(keep_fixed, xp.abs(r), 0.0))
        du, _, factor_ok, tau, n_negative = shifted_solve(H, g_free, xp.zeros(0, dtype), s["tau"], 0)
        if self.bounds:
            # An ε-active unknown is held by the Newton system but moved onto its bound (else it
            # would stay frozen a rounding-sized gap away from its contact for good).
            snap = active & ~in_barrier & keep_fixed
            du = xp.where(snap, xp.where(g > 0, lower, upper) - U, du)
        decrement = -xp.sum(g_free * du)  # λ² = gᵀ H⁻¹ g: the predicted decrease is λ²/2
        # The value bounds' contact forces: -∇(value barrier), the barrier's multiplier estimate
        # μ mass (1/gap_lo - 1/gap_hi).  Reported (as g) where slopes are bounded too: there the
        # functional's gradient at a node also carries the slope constraints' forces.
        g_contact = -barrier_g if self.bounds else g
        P = dict(
            k=k,
            U=U,
            J=J,
            g=g,
            g_obj=g_obj,
            g_contact=g_contact,
            du=du,
            mu=mu,
            mu0=mu0,
            tau=tau,
            finite=finite,
            factor_ok=factor_ok,
            n_negative=n_negative,
            residual=residual,
            decrement=decrement,
            J_noise=J_noise,
        )
        full_step = self.trial(P, 1.0, ctx) - U
        step_norm = xp.max(xp.abs(full_step))
        small = step_norm <= ctx["atol"] + ctx["rtol"] * xp.max(xp.where(keep_fixed, xp.abs(U), 0.0))
        converged = finite & factor_ok & (tau == 0) & small
        # A vanishing step that needed a moderate shift: the gradient is zero where the Hessian is
        # indefinite — a saddle (or maximum), which a minimiser must not report as converged.
        saddle = finite & factor_ok & (tau > 0) & (tau <= 1.0) & small
        a_first = xp.ones((), dtype)
        mu_next = mu
        if self.bounds:
            converged = converged & (mu == 0)
            saddle = saddle & (mu == 0)
            # The barrier problem for this μ is solved (decrement ~ μ): decrease μ (_mu_ladder).
            # Slope constraints couple nodes: no projection, so the barrier itself ends the solve
            # (an interior-point finish): the constraints are then met to ~1e-9.
            solved = finite & factor_ok & (tau == 0) & (decrement <= mu * domain)
            slopes = "slope_lower" in ctx
            resolved = True
            if "diag" in D and not slopes:
                resolved = self._resolved(U, mu, mu0, ctx, keep_fixed, xp.abs(xp.einsum("iin->in", D["diag"])))
            mu_next, at_floor = self._mu_ladder(mu, mu0, solved, projected=not slopes, resolved=resolved)
            if slopes:
                # At the floor the slope barrier's curvature μ/gap² on the active cells dwarfs the
                # rest; a pivot lost to rounding there takes the smallest shift (_SHIFT_MIN), which
                # changes the step by ~1e-8 of itself: that is rounding, not a negative direction.
                rounding = tau <= _SHIFT_MIN
                # But that shift (τ |H_jj|) is large on the free nodes next to active cells, and can
                # damp a step that still has work to do below the tolerance: a shifted small step
                # counts as converged only once J (with the barrier) has stalled at its rounding
                # level over the last iteration (N = 1e4: SUCCESS was reported 1.4e-6 from the
                # solution while J still fell by 3e-11 per iteration).
                prev = s["value"][xp.maximum(k - 1, 0)]
                stalled = (k > 0) & (prev - J <= 16 * J_noise)
                converged = finite & factor_ok & ((tau == 0) | (rounding & stalled)) & small & at_floor
                saddle = finite & factor_ok & ~rounding & (tau <= 1.0) & small & at_floor
            # Fraction to the boundary: the first trial keeps 0.5% of each gap (barrier phase).
            reach = self._reach(U, du, ctx, keep_fixed)
            if "slope_lower" in ctx:
                reach = xp.minimum(reach, self._slope_reach(U, du, ctx))
            a_first = xp.where(mu > 0, xp.minimum(1.0, 0.995 * reach), 1.0).astype(dtype)
        return dict(P, step_norm=step_norm, converged=converged, saddle=saddle, mu_next=mu_next, a_first=a_first)

    def trial(self, P, a, ctx):
        """The trial point at step length ``a`` (projected onto the bounds after the barrier phase)."""
        xp = self.xp
        U, du = P["U"], P["du"]
        if self.bounds:
            return xp.where(P["mu"] > 0, U + a * du, self._project(U + a * du, ctx))
        return U + a * du

    def merit(self, P, V, L_at_V, ctx):
        """The line search's merit at a trial point ``V`` where ``L = L_at_V``."""
        return L_at_V + self.barrier(V, P["mu"], ctx)

    def accept(self, P, a, J_new, n, ctx):
        xp = self.xp
        # A converged step is taken whole if J stays finite there: it changes U only at the
        # rounding level, where J cannot resolve a decrease.
        slope = xp.sum(P["g"] * (self.trial(P, a, ctx) - P["U"]))
        return xp.isfinite(J_new) & (
            (J_new <= P["J"] + _ARMIJO_C1 * slope + P["J_noise"]) | (P["converged"] & (n == 1))
        )

    def ls_continue(self, P, a, J_new, n, ctx):
        """Backtracking (halving) goes on while this is true; ``n`` trials made so far."""
        return (n == 0) | (~self.accept(P, a, J_new, n, ctx) & (n <= self.max_backtracks))

    def _take(self, P, alpha, J_new, n_ls, ctx):
        ls_ok = self.accept(P, alpha, J_new, n_ls, ctx)
        take = P["finite"] & P["factor_ok"] & ls_ok
        return take & (P["converged"] | (P["k"] < self.max_iter)), ls_ok  # no step past the budget

    def taken(self, P, alpha, J_new, n_ls, ctx):
        """``(take, alpha, ls_ok)``: is the step taken, at which length, and did the line search succeed."""
        take, ls_ok = self._take(P, alpha, J_new, n_ls, ctx)
        return take, alpha, ls_ok

    def next_point(self, P, alpha, J_new, n_ls, ctx):
        """The next iterate (``U`` when the step is not taken)."""
        xp = self.xp
        take, _ = self._take(P, alpha, J_new, n_ls, ctx)
        return xp.where(take, self.trial(P, alpha, ctx), P["U"])

    def finish(self, s, P, alpha, J_new, n_ls, L_next, ctx):
        """The next state; ``L_next`` is ``L`` at :meth:`next_point` (used with bounds only)."""
        xp = self.xp
        k, U, mu = P["k"], P["U"], P["mu"]
        take, ls_ok = self._take(P, alpha, J_new, n_ls, ctx)
        U_next = xp.where(take, self.trial(P, alpha, ctx), U)
        J_next = xp.where(take, J_new, P["J"])
        finite, factor_ok = P["finite"], P["factor_ok"]
        status = xp.select(
            [P["converged"], P["saddle"], ~finite, ~factor_ok, ~ls_ok],
            [
                int(Status.SUCCESS),
                int(Status.SADDLE),
                int(Status.NONFINITE),
                int(Status.NOT_FACTORIZABLE),
                int(Status.LINE_SEARCH_FAILED),
            ],
            int(Status.MAX_ITERATIONS),
        ).astype(xp.int32)
        stop = (status != int(Status.MAX_ITERATIONS)) | (k >= self.max_iter)
        extra = {}
        g = P["g"]
        if self.bounds:
            # The state's J is the functional's alone (L at the next iterate), never the barrier's.
            mu_next = P["mu_next"]
            J_next = L_next
            extra = dict(mu=mu_next, mu0=P["mu0"])
            g = xp.where(mu > 0, g, P["g_obj"])
            if "slope_lower" in ctx:
                g = P["g_contact"]
        return dict(
            s,
            **extra,
            k=xp.where(stop, k, k + 1),
            U=U_next,
            J=J_next,
            g=g,
            tau=P["tau"],
            done=stop,
            status=status,
            **_record(
                s,
                k,
                residual=P["residual"],
                value=P["J"],
                step=P["step_norm"],
                alpha=xp.where(take, alpha, 0.0),
                shift=P["tau"],
                decrement=P["decrement"],
                negative=P["n_negative"].astype(xp.int32),
            ),
        )


class StationaryStep(_Barrier):
    """Generic pieces of one iteration of Newton on ``∇L(V, z) = 0`` (KKT with multipliers).

    Options: ``multipliers`` (bool (k,) mask of the global multipliers in ``z``, or None),
    ``multiplier_rows`` (bool (d,): rows of ``V`` that are pointwise multipliers), ``minimize``
    (SQP with the exact penalty) or the residual-norm merit (saddles).  The masks' values travel
    in ``ctx`` (``rows``, ``mult_z``: :meth:`mask_context`), so one compiled step serves every
    problem with the same shapes; ``ctx`` otherwise as for :class:`MinimizeStep`.  ``bounds``
    (constrained minimisation only): a log barrier on the values' bounds with an interior-point
    finish at ``μ = μ0 · 1e-9`` (no projected phase: the multipliers would have to follow it).  The integrand enters through ``D``, the gradient of
    the objective ``gJ`` (minimize only) and the merit parts at trial points
    (:meth:`merit`): ``(J at the point with multipliers zeroed, ∂L/∂V, ∂L/∂z, admissible)``.
    The objective ``J`` is ``L`` at :meth:`objective_point`.
    """

    def __init__(
        self,
        *,
        max_iter: int,
        max_backtracks: int,
        multipliers=None,
        multiplier_rows=None,
        minimize: bool = False,
        bounds: bool = False,
        xp=jnp,
    ):
        self.max_iter, self.max_backtracks = int(max_iter), int(max_backtracks)
        self.xp = xp
        self.bounds = bool(bounds)
        if self.bounds and not minimize:
            raise ValueError("bounds: only with constrained minimisation (minimize=True)")
        self.multipliers = None if multipliers is None else np.asarray(multipliers, bool)
        self.multiplier_rows = None if multiplier_rows is None else np.asarray(multiplier_rows, bool)
        self.has_multipliers = multipliers is not None  # global ones: estimated at the start
        self.minimize = bool(minimize)

    def key(self):
        key = ("stationary", self.max_iter, self.max_backtracks, self.has_multipliers, self.minimize, self.bounds)
        return key if self.xp is jnp else key + (self.xp.__name__,)

    # -- masks -------------------------------------------------------------------------------
    def mask_context(self, d, k):
        """``{"rows": (d,), "mult_z": (k,)}`` (numpy bool; zeros where not given), for ``ctx``."""
        rows = np.zeros(d, bool) if self.multiplier_rows is None else self.multiplier_rows
        mult_z = np.zeros(k, bool) if self.multipliers is None else self.multipliers
        return {"rows": rows, "mult_z": mult_z}

    @staticmethod
    def _mult_V(V, ctx):
        return ctx["rows"][:, None] & ~ctx["fixed"]  # free pointwise multipliers

    def _merit_residual(self, g, gz, ctx):
        xp = self.xp
        keep = ~ctx["fixed"]
        return 0.5 * xp.sum(xp.where(keep, g, 0.0) ** 2 / ctx["mass"]) + 0.5 * xp.sum(gz**2)

    # -- the iteration ---------------------------------------------------------------------------
    def init(self, V0, z0, ctx):
        xp = self.xp
        dtype = V0.dtype
        # Estimate the multipliers first only when none were given (all zero), e.g. not after a warm start.
        estimate = xp.all(xp.where(ctx["mult_z"], z0 == 0, True)) if self.has_multipliers else xp.zeros((), bool)
        if self.bounds:
            V0 = self._start_inside(V0, ctx)
        return dict(
            k=xp.zeros((), xp.int32),
            U=V0,
            z=z0,
            J=xp.zeros((), dtype),
            g=xp.zeros_like(V0),
            gz=xp.zeros_like(z0),
            tau=xp.zeros((), dtype),
            done=xp.zeros((), bool),
            estimate=estimate,
            nu=xp.zeros((), dtype),
            mu=xp.full((), -1.0, dtype),
            mu0=xp.zeros((), dtype),
            status=xp.full((), int(Status.MAX_ITERATIONS), xp.int32),
            **_histories(self.max_iter, dtype, xp),
        )

    def cond(self, s):
        return (~s["done"]) & (s["k"] <= self.max_iter)

    def plan(self, s, D, objective, ctx):
        """Everything before the line search.  ``objective``: ``(J, (∂J/∂V, ∂J/∂z))`` of the
        objective alone (``L`` with the multipliers zeroed, differentiated in the original
        unknowns) at the iterate when ``minimize``, else None."""
        xp = self.xp
        k, U, z = s["k"], s["U"], s["z"]
        dtype = U.dtype
        mass, fixed = ctx["mass"], ctx["fixed"]
        keep = ~fixed
        k_glob = z.shape[0]
        mult_z = ctx["mult_z"]
        mult_V = self._mult_V(U, ctx)
        n_mult = xp.sum(mult_z).astype(xp.int32) + xp.sum(mult_V).astype(xp.int32)
        g = xp.where(keep, D["g"], 0.0)
        gz = D.get("gz", xp.zeros(0, dtype))
        B = xp.where(keep[..., None], D["B"], 0.0) if k_glob else xp.zeros(U.shape + (0,), dtype)
        C = D.get("C", xp.zeros((0, 0), dtype))
        H = _operator(xp)(D["diag"], D["upper"], B, C)
        mu, mu0 = s["mu"], s["mu0"]
        barrier_g = xp.zeros_like(g)
        g_contact = g
        if self.bounds:  # the log barrier on the values' free rows (multiplier rows are unbounded)
            values = keep & ~ctx["rows"][:, None]
            domain = ctx["domain"] if "domain" in ctx else xp.sum(mass)
            mu0 = self._at_start(k, lambda: self._mu0(D["scale"], objective[1][0], U, ctx, values, domain), mu0)
            mu = xp.where(k == 0, mu0, mu)
            barrier_g, barrier_h = self._value_barrier_terms(U, mu, ctx, values)
            g_contact = -barrier_g  # (as in MinimizeStep.plan)
            if "slope_lower" in ctx:  # slope bounds: their barrier couples a cell's values
                slope_g, slope_diag, slope_upper = self._slope_barrier_terms(U, mu, ctx)
                barrier_g = barrier_g + xp.where(keep, slope_g, 0.0)
                H = _operator(xp)(D["diag"] + slope_diag, D["upper"] + slope_upper, B, C)
            H = H.add_diagonal(barrier_h)
        H = H.restrict(fixed)
        finite = H.finite(
            xp.all(xp.isfinite(g)) & xp.all(xp.isfinite(gz)) & xp.all(xp.isfinite(B)) & xp.all(xp.isfinite(C))
        )
        # Rounding level of the residual: the gradient is a sum of terms of size |H| |V|.
        Hd = xp.abs(xp.einsum("iin->in", D["diag"]))
        g_round = 64 * xp.finfo(dtype).eps * (Hd * xp.abs(U) + xp.abs(D["g"]))
        residual = xp.max(xp.abs(g) / mass)
        if k_glob:
            residual = xp.maximum(residual, xp.max(xp.abs(gz)))
        dU, dz, factor_ok, tau, n_negative = shifted_solve(
            H, g + barrier_g, gz, s["tau"], n_mult if self.minimize else None
        )
        nu = s["nu"]
        if self.minimize:
            # Exact penalty: ν above the new multipliers (so the SQP step is a descent direction).
            new_mult = xp.concatenate(
                [xp.where(mult_V, xp.abs(U + dU), 0.0).ravel(), xp.where(mult_z, xp.abs(z + dz), 0.0)]
            )
            viol = xp.sum(xp.where(mult_V, xp.abs(g), 0.0)) + xp.sum(xp.where(mult_z, xp.abs(gz), 0.0))
            J_obj, (gJ_V, gJ_z) = objective
            slope_J = xp.sum(xp.where(keep, gJ_V + barrier_g, 0.0) * dU) + xp.sum(gJ_z * dz)
            J_obj = J_obj + self.barrier(U, mu, ctx)
            need = xp.where(viol > 0, 2.0 * slope_J / xp.maximum(viol, xp.finfo(dtype).tiny), 0.0)
            nu = xp.maximum(nu, xp.maximum(1.1 * xp.max(new_mult, initial=0.0) + 1e-12, need))
            phi = J_obj + nu * viol
            slope = slope_J - nu * viol
            phi_noise = (
                64
                * xp.finfo(dtype).eps
                * (D["scale"] + nu * (xp.sum(xp.where(mult_V, g_round, 0.0)) + xp.sum(xp.abs(gz))))
            )
        else:
            phi = self._merit_residual(g, gz, ctx)
            slope = -2.0 * phi
            phi_noise = self._merit_residual(g_round, 64 * xp.finfo(dtype).eps * (1 + xp.abs(gz)), ctx)
        first = xp.zeros((), bool)
        if self.has_multipliers:
            # Least-squares multipliers at k = 0: min_δ ‖g + B δ‖² / mass over the multiplier columns.
            multipliers = mult_z
            Bm = xp.where(multipliers, B, 0.0)
            normal = xp.einsum("dnk,dnl->kl", Bm / mass[:, None], Bm)
            normal = xp.where(xp.isfinite(normal), normal, 0.0)  # (not finite: not taken; numpy's pinv raises)
            delta = -xp.linalg.pinv(normal, rtol=1e-12, hermitian=True) @ xp.einsum("dnk,dn->k", Bm / mass[:, None], g)
            first = (k == 0) & s["estimate"]
            factor_ok = factor_ok | first
            dU = xp.where(first, 0.0, dU)
            dz = xp.where(first, xp.where(multipliers, delta, 0.0), dz)
        step_norm = xp.max(xp.abs(dU))
        size = xp.max(xp.where(keep, xp.abs(U), 0.0))
        if k_glob:
            step_norm = xp.maximum(step_norm, xp.max(xp.abs(dz)))
            size = xp.maximum(size, xp.max(xp.abs(z)))
        small = step_norm <= ctx["atol"] + ctx["rtol"] * size
        converged = finite & factor_ok & (tau == 0) & small
        if self.has_multipliers:
            converged = converged & ~first
        a_first, mu_next = xp.ones((), dtype), mu
        if self.bounds:
            # μ falls as in MinimizeStep once the barrier problem is solved (its predicted change
            # of the merit below μ per unit length), down to an interior-point finish at μ0 · 1e-9.
            decrement = xp.abs(xp.sum((g + barrier_g) * dU)) + xp.abs(xp.sum(gz * dz))
            solved = finite & factor_ok & (tau == 0) & ~first & (decrement <= mu * domain)
            mu_next, at_floor = self._mu_ladder(mu, mu0, solved, projected=False)
            converged = converged & at_floor
            reach = self._reach(U, dU, ctx, values)
            if "slope_lower" in ctx:
                reach = xp.minimum(reach, self._slope_reach(U, dU, ctx))
            a_first = xp.where(first, 1.0, xp.minimum(1.0, 0.995 * reach)).astype(dtype)
        if self.bounds and "slope_lower" in ctx:
            g_contact = xp.where(ctx["rows"][:, None], g, g_contact)  # (multiplier rows: ∂L/∂μ as before)
        else:
            g_contact = g
        return dict(
            k=k,
            U=U,
            z=z,
            dU=dU,
            dz=dz,
            L=D["L"],
            g=g,
            g_contact=g_contact,
            gz=gz,
            tau=tau,
            nu=nu,
            phi=phi,
            slope=slope,
            phi_noise=phi_noise,
            first=first,
            finite=finite,
            factor_ok=factor_ok,
            converged=converged,
            residual=residual,
            step_norm=step_norm,
            n_negative=n_negative,
            a_first=a_first,
            mu=mu,
            mu0=mu0,
            mu_next=mu_next,
        )

    def trial(self, P, a, ctx):
        """``(V, z)`` at step length ``a``."""
        return P["U"] + a * P["dU"], P["z"] + a * P["dz"]

    def merit(self, P, parts, ctx):
        """The merit from ``parts = (J with multipliers zeroed, ∂L/∂V, ∂L/∂z, admissible, V)`` at
        a trial point ``V`` (exact penalty for SQP, with the barrier when bounded, else the residual
        norm); inf where inadmissible."""
        xp = self.xp
        J_obj, g, gz, admissible, V = parts
        if self.minimize:
            mult_V, mult_z = self._mult_V(g, ctx), ctx["mult_z"]
            viol = xp.sum(xp.where(mult_V, xp.abs(g), 0.0)) + xp.sum(xp.where(mult_z, xp.abs(gz), 0.0))
            value = J_obj + P["nu"] * viol
            if self.bounds:
                value = value + self.barrier(V, P["mu"], ctx)
        else:
            value = self._merit_residual(g, gz, ctx)
        return xp.where(admissible, value, xp.inf)

    def accept(self, P, a, phi_new, n, ctx):
        xp = self.xp
        ok = phi_new <= P["phi"] + _ARMIJO_C1 * a * xp.minimum(P["slope"], 0.0) + P["phi_noise"]
        return xp.isfinite(phi_new) & (ok | (P["converged"] & (n == 1)))

    def ls_continue(self, P, a, phi_new, n, ctx):
        return (n == 0) | (~self.accept(P, a, phi_new, n, ctx) & (n <= self.max_backtracks))

    def taken(self, P, alpha, phi_new, n_ls, ctx):
        """``(take, alpha, ls_ok)``: is the step taken, at which length (a multiplier estimate is
        taken whole), and did the line search succeed."""
        xp = self.xp
        ls_ok = self.accept(P, alpha, phi_new, n_ls, ctx)
        if self.has_multipliers:
            ls_ok = ls_ok | P["first"]
            alpha = xp.where(P["first"], 1.0, alpha)
        take = P["finite"] & P["factor_ok"] & ls_ok & (P["converged"] | (P["k"] < self.max_iter))
        return take, alpha, ls_ok

    def finish(self, s, P, alpha, phi_new, n_ls, L_next, ctx):
        xp = self.xp
        k = P["k"]
        take, alpha, ls_ok = self.taken(P, alpha, phi_new, n_ls, ctx)
        finite, factor_ok = P["finite"], P["factor_ok"]
        status = xp.select(
            [P["converged"], ~finite, ~factor_ok, ~ls_ok],
            [int(Status.SUCCESS), int(Status.NONFINITE), int(Status.NOT_FACTORIZABLE), int(Status.LINE_SEARCH_FAILED)],
            int(Status.MAX_ITERATIONS),
        ).astype(xp.int32)
        stop = (status != int(Status.MAX_ITERATIONS)) | (k >= self.max_iter)
        U, z = P["U"], P["z"]
        return dict(
            k=xp.where(stop, k, k + 1),
            U=xp.where(take, U + alpha * P["dU"], U),
            z=xp.where(take, z + alpha * P["dz"], z),
            J=P["L"],
            g=P["g_contact"],
            gz=P["gz"],
            tau=P["tau"],
            done=stop,
            status=status,
            estimate=s["estimate"],
            nu=P["nu"],
            mu=P["mu_next"],
            mu0=P["mu0"],
            **_record(
                s,
                k,
                residual=P["residual"],
                value=P["L"],
                step=P["step_norm"],
                alpha=xp.where(take, alpha, 0.0),
                shift=P["tau"],
                decrement=P["phi"],
                negative=P["n_negative"].astype(xp.int32),
            ),
        )
