"""``solve_planar``: globalised Newton on the exact sparse Hessian of ``J_h``.

The iteration is the 1-D one, written once: :class:`varcalc.steps.MinimizeStep` (in numpy,
``xp=np``) on the sparse Hessian operator :class:`~varcalc.planar.linear.SparseHessian`, run by
:func:`varcalc.drivers.run_host`.  Each iteration at the iterate ``U_k`` (Dirichlet values stay put):

1. ``J, g = value_and_grad(J_h)`` (with ``Σ_T |J_T|``, the rounding scale of ``J``); element
   Hessians ``vmap(jax.hessian)`` scattered into CSR (:class:`~varcalc.planar.assemble.Pattern`,
   pattern computed once).  This kernel is the only per-integrand part.
2. Solve ``H du = -g`` (:mod:`~varcalc.planar.linear`: SuperLU or AMG-preconditioned CG).  If
   a pivot of the symmetric factorisation is not positive (direct), or ``du`` is not a descent
   direction of positive curvature (``gᵀdu < 0`` and ``duᵀ H du > 0``), ``H`` is not positive
   definite: the generic inertia correction (:func:`varcalc.newton.shifted_solve`) retries with
   ``H + τ S``, ``S = diag(|H_jj|)``, ``τ`` growing tenfold from ``max(τ_prev / 10, 1e-8)`` —
   a modified Newton step, always downhill.
3. Converged when the unmodified step satisfies ``‖du‖∞ <= atol + rtol ‖U‖∞`` (``U`` over the
   free unknowns; the residual in the metric of the second variation): take the step and stop.
4. Backtracking line search on ``J_h`` (Armijo ``c1 = 1e-4``, halving); NaN/inf trial values count
   as an increase, and decreases within rounding of ``J`` (``64 ε Σ_T |J_T|``) are accepted: the
   energy cannot resolve them once the iterate is in Newton's quadratic region.

The loop runs in Python around jitted JAX kernels (energy, gradient, element Hessians) because
the sparse factorisation and AMG live in SciPy/pyamg; every array op inside is vectorised numpy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Literal

import jax
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..drivers import run_host
from ..newton import Newton, Status
from ..steps import MinimizeStep
from .assemble import Discretization, Kernels
from .domain import Rectangle, TriMesh
from .elements import rule
from .linear import SparseHessian, choose, solve_linear
from .problem import PlanarProblem
from .solution import PlanarSolution

__all__ = ["solve_planar"]

ETA_MIN = 1e-4  # floor of the inexact-Newton forcing term (CG's relative tolerance)
SEQUENCE_MIN = 20_000  # free unknowns above which "auto" grid sequencing starts from a coarser solve
# Newton's rtol on the coarse levels of grid sequencing.  Near the solution a step of size s
# leaves an error ~s², so stopping at the first step below 1e-7 (and taking it) gives the coarse
# solution to the same accuracy as rtol=1e-10 would; the latter only adds a step that certifies
# (on Scherk: 66k-node level 4 -> 3 Newton steps, each a Hessian and a linear solve).
SEQUENCE_RTOL = 1e-7


def solve_planar(
    problem: PlanarProblem,
    n: int | tuple[int, int] | None = None,
    *,
    mesh: TriMesh | None = None,
    element: Literal["P1", "P2"] = "P1",
    guess: Callable[..., Any] | ArrayLike | None = None,
    linear_solver: Literal["auto", "direct", "cg"] = "auto",
    solver: Newton | None = None,
    verbose: bool = False,
    params: Any = None,
    sequence: Literal["auto"] | bool = "auto",
    tol: float | None = None,
) -> PlanarSolution:
    """Minimise a :class:`PlanarProblem` by Newton's method on P1 or P2 triangles.

    Parameters
    ----------
    problem : PlanarProblem
    n : int or (int, int), optional
        Mesh resolution for the problem's domain (nodes per side of a :class:`Rectangle`; nodes
        across the bounding box of a :class:`Polygon`); default 33.
    mesh : TriMesh, optional
        Use this triangulation instead (its boundary must be the domain's).
    element : {"P1", "P2"}
    guess : callable or array_like, optional
        ``guess(points (k, 2)) -> (k,) + shape`` or node values (N,) + shape (a previous
        :class:`PlanarSolution` is callable, so it serves as a guess).  Default: the harmonic
        extension of the Dirichlet data (natural condition on free edges), the 2-D analogue of
        the straight line in 1-D.
    linear_solver : {"auto", "direct", "cg"}
        SuperLU, or CG preconditioned by classical (Ruge–Stüben) AMG; ``"auto"`` picks direct up to
        ``varcalc.planar.linear.AUTO_DIRECT_MAX`` free unknowns.
    solver : varcalc.Newton, optional
        ``max_iter``, ``rtol``, ``atol``, ``max_backtracks``.
    verbose : bool
        Print one line per iteration.
    params : pytree, optional
        Parameters ``p`` of ``G(u, grad_u, x, p)`` (default ``problem.params``).
    sequence : {"auto", True, False}
        Grid sequencing (nested iteration): without a ``guess``, first solve on the domain's mesh
        with ``(n + 1) // 2`` (recursively) and start from that solution interpolated; the fine
        mesh then needs few Newton iterations.  ``"auto"``: when the mesh comes from ``n`` and
        has more than ``SEQUENCE_MIN`` free unknowns.  ``stats["sequence"]`` lists the levels.
    tol : float, optional
        Adaptive P1 refinement from the mesh of ``n`` (default 9) until the residual estimate of
        the energy-norm error is below ``tol``: :func:`varcalc.planar.adapt.solve_adaptive`.

    Returns
    -------
    PlanarSolution

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.planar import PlanarProblem, Rectangle, solve_planar
    >>> area = lambda u, du, x: jnp.sqrt(1 + du @ du)
    >>> p = PlanarProblem(area, Rectangle((0, 1), (0, 1)), bc=lambda x: x[:, 0] * x[:, 1])
    >>> sol = solve_planar(p, n=9, element="P2")
    >>> sol.converged, sol.iterations < 10
    (True, True)
    """
    if tol is not None:  # adaptive refinement: its own loop over meshes (varcalc/planar/adapt.py)
        from .adapt import solve_adaptive

        if mesh is not None or guess is not None or element != "P1":
            raise ValueError("tol: adaptive refinement starts from the domain's mesh of n, with P1 and no guess")
        return solve_adaptive(
            problem, tol, n=n, solver=solver, params=params, linear_solver=linear_solver, verbose=verbose
        )
    t_start = time.perf_counter()
    if not isinstance(problem, PlanarProblem):
        raise TypeError(f"problem: expected a varcalc.planar.PlanarProblem, got {type(problem).__name__}")
    if element not in ("P1", "P2"):
        raise ValueError(f"element: expected 'P1' or 'P2', got {element!r}")
    solver = Newton.checked(solver)
    if not jax.config.jax_enable_x64:
        raise RuntimeError("varcalc needs float64: jax_enable_x64 was switched off after importing varcalc")
    if mesh is None:
        mesh = problem.domain.triangulate(n)
    elif not isinstance(mesh, TriMesh):
        raise TypeError(f"mesh: expected a varcalc.planar.TriMesh, got {type(mesh).__name__}")
    params = problem.params if params is None else params
    if problem.with_params and params is None:
        raise ValueError("params: the integrand takes a parameter p; pass params=...")
    if sequence not in ("auto", True, False):
        raise ValueError(f"sequence: expected 'auto', True or False, got {sequence!r}")
    t0 = time.perf_counter()
    disc = Discretization(problem, mesh, element)
    t_setup = time.perf_counter() - t0
    levels = []
    if (
        guess is None
        and sequence
        and n is not None
        and np.ndim(n) == 0
        and int(n) >= 5
        and not isinstance(problem.domain, TriMesh)
        and (sequence is True or len(disc.free) > SEQUENCE_MIN)
    ):
        coarse = solve_planar(
            problem,
            (int(n) + 1) // 2,
            element=element,
            linear_solver=linear_solver,
            solver=dataclasses.replace(solver, rtol=max(solver.rtol, SEQUENCE_RTOL)),
            verbose=verbose,
            params=params,
            sequence="auto",
        )
        levels = coarse.stats.get("sequence", []) + [
            dict(
                nodes=len(coarse.nodes),
                iterations=coarse.iterations,
                time=coarse.stats["time"],
                converged=coarse.converged,
            )
        ]
        if coarse.converged:
            guess = _rectangle_prolong(problem.domain, (int(n) + 1) // 2, n, coarse, element)
            if guess is None:
                guess = lambda pts: coarse._evaluate(pts, clamp=True)  # noqa: E731 - outside a coarse polygon mesh: clamped
        if verbose:
            print(f"-- grid sequencing: start from the solution on {len(coarse.nodes)} nodes")
    U = _initial(problem, disc, guess, linear_solver)
    kern = Kernels(problem.integrand, disc, problem.with_params)
    if problem.integrals:
        from .constrained import newton_kkt

        out = newton_kkt(problem, disc, kern, U, params, solver, linear_solver, verbose)
    else:
        bounds = None
        if problem.bound is not None:
            lo, hi = problem.bound_values(disc.points)
            bounds = (lo.reshape(1, -1), hi.reshape(1, -1))
            bad = disc.fixed & ((disc.values < bounds[0][0]) | (disc.values > bounds[1][0]))
            if bad.any():
                raise ValueError(
                    f"constraints: the Dirichlet data violate the Bound {problem.bound.name!r} at "
                    f"{int(bad.sum())} boundary nodes"
                )
        out = _newton(disc, kern, U, params, solver, linear_solver, verbose, bounds)
    out["stats"]["setup_time"] = t_setup
    out["stats"]["sequence"] = levels
    out["stats"]["time"] = time.perf_counter() - t_start
    return PlanarSolution._build(problem, disc, out, params, element)


def _rectangle_prolong(domain, n_coarse, n_fine, coarse, element):
    """Node values (N,) + shape of the P1 interpolant of ``coarse`` (a solution on the
    Rectangle's grid of ``n_coarse``) on the grid of ``n_fine`` when that grid is its uniform
    refinement (every fine node a coarse node or the midpoint of a coarse edge); else None.
    Exact and O(N) by slicing, where locating the fine nodes in the coarse triangles (KD-tree)
    took 1 s of CPU at 263k nodes."""
    if element != "P1" or not isinstance(domain, Rectangle):
        return None
    (nxc, nyc), (nxf, nyf) = domain._sizes(n_coarse), domain._sizes(n_fine)
    if nxf - 1 != 2 * (nxc - 1) or nyf - 1 != 2 * (nyc - 1) or len(coarse.u) != nxc * nyc:
        return None
    shape = coarse.u.shape[1:]
    u = coarse.u.reshape((nyc, nxc) + shape)  # node j·nx + i at row j (y), column i (x)
    f = np.empty((nyf, nxf) + shape)
    f[::2, ::2] = u
    f[::2, 1::2] = 0.5 * (u[:, :-1] + u[:, 1:])
    f[1::2, ::2] = 0.5 * (u[:-1] + u[1:])
    f[1::2, 1::2] = 0.5 * (u[:-1, :-1] + u[1:, 1:])  # each cell's diagonal runs lower left - upper right
    return f.reshape((nxf * nyf,) + shape)


def harmonic_extension(disc, linear_solver="auto"):
    """Node values (N·m,) of the discrete harmonic function with the Dirichlet data (natural
    condition elsewhere): the minimiser of ∫ ½|∇u|², the 2-D analogue of the straight-line
    guess in 1-D.  Stiffness matrix in numpy (gradients are constant on P1 triangles, linear on
    P2: the 3-point rule integrates their products exactly), one sparse solve."""
    el = disc.element
    lam, w = (np.full((1, 3), 1 / 3), np.array([0.5])) if el.order == 1 else rule(2)
    dphi = el.basis_gradients(lam)  # (Q, nloc, 2)
    X = disc.X
    e1, e2 = X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], -1), np.stack([-e1[:, 1], e1[:, 0]], -1)], -2) / det[:, None, None]
    K = np.zeros((len(X), el.nloc, el.nloc))
    for q in range(len(w)):  # Q <= 3 quadrature points, vectorised over triangles
        G = np.einsum("ai,tij->taj", dphi[q], inv)
        K += (w[q] * det)[:, None, None] * np.einsum("taj,tbj->tab", G, G)
    m = disc.m
    if m > 1:  # components decouple: K ⊗ I_m in node-major numbering
        K = np.einsum("tab,cd->tacbd", K, np.eye(m)).reshape(len(X), el.nloc * m, el.nloc * m)
    U = np.where(disc.fixed, disc.values, 0.0)
    free = disc.free
    if len(free) == 0 or not disc.fixed.any():
        return U
    gd = disc.gdofs()
    r = np.broadcast_to(gd[:, :, None], K.shape).ravel()
    c = np.broadcast_to(gd[:, None, :], K.shape).ravel()
    A = sp.csr_matrix((K.ravel(), (r, c)), shape=(len(U), len(U)))
    b = -(A[free][:, disc.fixed] @ U[disc.fixed])
    x, info = solve_linear(A[free][:, free].tocsr(), b, choose(linear_solver, len(free)), rtol=1e-8)
    if np.all(np.isfinite(x)):
        U[free] = x
    return U


def _initial(problem, disc, guess, linear_solver="auto"):
    N, m = disc.n_nodes, disc.m
    if guess is None:
        U = harmonic_extension(disc, linear_solver)
    elif callable(guess):
        v = np.asarray(guess(disc.points), dtype=np.float64)
        if v.size != N * m:
            raise ValueError(f"guess: a callable guess must return shape {(N,) + problem.shape}, got {v.shape}")
        U = v.reshape(N * m).copy()
    else:
        v = np.asarray(guess, dtype=np.float64)
        if v.shape != (N,) + problem.shape:
            raise ValueError(f"guess: expected node values of shape {(N,) + problem.shape}, got {v.shape}")
        U = v.reshape(N * m).copy()
    if not np.all(np.isfinite(U)):
        raise ValueError("guess: contains NaN or inf")
    U[disc.fixed] = disc.values[disc.fixed]
    return U


def _newton(disc, kern, U, p, opts, linear_solver, verbose, bounds=None):
    """The generic Newton step (:class:`~varcalc.steps.MinimizeStep` in numpy) on the sparse
    operator (:class:`~varcalc.planar.linear.SparseHessian`), run by :func:`~varcalc.drivers.run_host`;
    this function only supplies the kernels and turns the state into the planar histories.

    ``bounds``: ``(lower, upper)`` of shape (1, N·m), or None.  With bounds the step is the 1-D
    one unchanged: a log barrier (its Hessian on the sparse diagonal, ``SparseHessian.add_diagonal``)
    with μ decreasing to ``μ0·1e-6``, then projected Newton on the ε-active set
    (``SparseHessian.restrict`` solves on the inactive unknowns only)."""
    free = disc.free
    nfree = len(free)
    size = len(U)
    kind = choose(linear_solver, nfree)
    pattern = disc.pattern if nfree else None
    energy = lambda V: kern.energy(V, p)[0]  # noqa: E731
    stats = {"linear_solver": kind, "n_free": nfree, "nnz": pattern.nnz if pattern is not None else 0}
    per_step = (
        "backtracks",
        "linear_iterations",
        "time_derivatives",
        "time_assembly",
        "time_linear",
        "time_line_search",
    )
    hist = {k: [] for k in ("value", "residual", "step", "alpha", "shift") + per_step}
    if nfree == 0:  # nothing to solve
        J = energy(U)
        hist["value"].append(J)
        hist["residual"].append(0.0)
        _pad(hist, 0)
        return _result(U, J, Status.SUCCESS, 0, hist, stats)
    lin_cache = {}  # the AMG hierarchy / last factorisation, reused across iterations
    it = {}  # the current iteration's operator and times
    g0 = []

    def derivatives(V):
        it["t0"] = t0 = time.perf_counter()
        J, scale, g, Hel = kern.derivatives(V, p)
        g = g.reshape(1, size)
        gnorm = float(np.linalg.norm(g[0, free]))
        finite = np.isfinite(J) and np.isfinite(gnorm) and bool(np.all(np.isfinite(Hel)))
        if not g0:
            g0.append(max(gnorm, 1e-300))
        # Inexact Newton forcing term for CG (Eisenstat & Walker 1996): ‖g‖/‖g0‖, superlinear
        # then quadratic as ‖g‖ -> 0, floored at ETA_MIN: the last solve only has to show that
        # the step is below the tolerance, and a step accurate to 1e-4 of itself does (solving
        # it to 1e-12 took as many CG iterations as all earlier steps together at 10⁶ nodes);
        # near the solution each step still gains at least four digits.
        # (The direct path's CG with an earlier factorisation converges in a few iterations to
        # any tolerance: no floor there.)
        eta = float(np.clip(gnorm / g0[0], ETA_MIN if kind == "cg" else 1e-12, 1e-2)) if finite else 1e-2
        it["H"] = SparseHessian(pattern, Hel, free, size, kind, finite=finite, rtol=eta, cache=lin_cache)
        it["t_der"] = time.perf_counter() - t0
        return dict(L=J, scale=float(scale), g=g, H=it["H"])

    if verbose:
        print(f"{'it':>3} {'J':>22} {'|g/m|inf':>10} {'|du|inf':>10} {'alpha':>8} {'shift':>8} {'lin':>5} {'t':>7}")

    def monitor(s, P, alpha, trials, t_ls):
        H = it["H"]
        for key, v in (
            ("backtracks", trials - 1),
            ("linear_iterations", H.iterations),
            ("time_derivatives", it["t_der"]),
            ("time_assembly", H.time_assembly),
            ("time_linear", H.time),
            ("time_line_search", t_ls),
        ):
            hist[key].append(v)
        k = int(P["k"])
        if verbose and P["finite"] and P["factor_ok"] and (P["converged"] or k < step.max_iter):
            print(
                f"{k:>3} {float(P['J']):>22.15g} {float(P['residual']):>10.3e} {float(P['step_norm']):>10.3e} "
                f"{float(s['alpha'][k]):>8.3g} {float(P['tau']):>8.1e} {H.iterations:>5d} "
                f"{time.perf_counter() - it['t0']:>7.2f}",
                flush=True,
            )

    step = MinimizeStep(max_iter=opts.max_iter, max_backtracks=opts.max_backtracks, bounds=bounds is not None, xp=np)
    ctx = dict(mass=disc.mass, fixed=disc.fixed.reshape(1, size), rtol=opts.rtol, atol=opts.atol)
    if bounds is not None:
        ctx.update(lower=bounds[0], upper=bounds[1])
    with np.errstate(divide="ignore", invalid="ignore"):  # the barrier's log(0) on Dirichlet/contact nodes is masked
        s = run_host(step, derivatives, energy, U.reshape(1, size), ctx, monitor)
    k, status = int(s["k"]), Status(int(s["status"]))
    for key in ("value", "residual", "step", "alpha", "shift"):
        hist[key] = list(s[key][: k + 1])
    U = np.asarray(s["U"]).reshape(size)
    J = float(s["J"])
    iters = k
    if status == Status.MAX_ITERATIONS:  # no step from the last iterate: its per-step entries are NaN
        for key in hist:
            if key not in ("value", "residual"):
                hist[key] = hist[key][:k]
    if status == Status.SUCCESS:  # the converged step was taken: one more iterate
        iters = k + 1
        hist["value"].append(J)
        # the final pointwise residual
        g_end = kern.derivatives(U, p, hessians=False)[2]
        r_end = np.asarray(g_end).reshape(-1) / disc.mass
        if bounds is not None:  # on contact only a gradient pulling off the obstacle is a residual
            near = np.sqrt(np.finfo(float).eps) * (1.0 + np.abs(U))
            r_end = np.where(U - bounds[0][0] <= near, np.minimum(r_end, 0.0), r_end)
            r_end = np.where(bounds[1][0] - U <= near, np.maximum(r_end, 0.0), r_end)
            stats["contact"] = int(np.sum(((U - bounds[0][0] <= near) | (bounds[1][0] - U <= near))[free]))
            stats["multiplier"] = np.where(disc.fixed, 0.0, np.asarray(g_end).reshape(-1) / disc.mass)
        hist["residual"].append(float(np.max(np.abs(r_end[free]))))
    _pad(hist, iters)
    return _result(U, J, status, iters, hist, stats)


def _result(U, J, status, iters, hist, stats):
    for key in ("time_derivatives", "time_assembly", "time_linear", "time_line_search", "linear_iterations"):
        stats[key + "_total"] = float(np.nansum(hist[key]))
    return dict(
        U=U,
        J=J,
        status=status,
        iterations=iters,
        history={key: np.asarray(v, dtype=np.float64) for key, v in hist.items()},
        stats=stats,
    )


def _pad(hist, k):
    """Every history has k + 1 entries (one per iterate; per-step entries NaN at the last)."""
    for v in hist.values():
        while len(v) < k + 1:
            v.append(np.nan)
        del v[k + 1 :]
