"""``solve_planar``: globalised Newton on the exact sparse Hessian of ``J_h``.

Each iteration at the iterate ``U_k`` (free unknowns only; Dirichlet values stay put):

1. ``J, g = value_and_grad(J_h)``; element Hessians ``vmap(jax.hessian)`` scattered into CSR
   (:class:`~varcalc.planar.assemble.Pattern`, pattern computed once).
2. Solve ``H du = -g`` (:mod:`~varcalc.planar.linear`: SuperLU or AMG-preconditioned CG).  If
   a pivot of the symmetric factorisation is not positive (direct), or ``du`` is not a descent
   direction of positive curvature (``gᵀdu < 0`` and ``duᵀ H du > 0``), ``H`` is not positive
   definite: retry with ``H + τ S``, ``S = diag(|H_jj|)``, ``τ``
   growing tenfold from ``max(τ_prev / 10, 1e-8)`` — a modified Newton step, always downhill.
3. Converged when the unmodified step satisfies ``‖du‖∞ <= atol + rtol ‖U‖∞`` (the residual in
   the metric of the second variation, as in 1-D): take the step and stop.
4. Backtracking line search on ``J_h`` (Armijo ``c1 = 1e-4``, halving); NaN/inf trial values count
   as an increase.  When the predicted decrease ``-gᵀdu/2`` is below rounding of ``J``
   (``100 ε |J|``) the full step is taken: the energy cannot resolve it, and the iterate is in
   Newton's quadratic region.

The loop runs in Python around jitted JAX kernels (energy, gradient, element Hessians) because
the sparse factorisation and AMG live in SciPy/pyamg; every array op inside is vectorised.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from ..newton import Newton, Status
from .assemble import Discretization, functions
from .domain import TriMesh
from .elements import rule
from .linear import choose, solve_linear
from .problem import PlanarProblem
from .solution import PlanarSolution

__all__ = ["solve_planar"]

_ARMIJO_C1 = 1e-4  # sufficient decrease J(U + a du) <= J + c1 a gᵀdu (Nocedal & Wright §3.1)
_SHIFT_MIN = 1e-8  # first relative diagonal shift tried when H is not positive definite
_SHIFT_MAX = 1e12  # beyond this the shifted step is negligibly short: give up
_ROUNDING = 100 * np.finfo(np.float64).eps  # J cannot resolve decreases below this · |J|


SEQUENCE_MIN = 20_000  # free unknowns above which "auto" grid sequencing starts from a coarser solve


def solve_planar(problem, n=None, *, mesh=None, element="P1", guess=None, linear_solver="auto",
                 solver=None, verbose=False, params=None, sequence="auto"):
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
        SuperLU, or CG preconditioned by smoothed-aggregation AMG; ``"auto"`` picks direct up to
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
    if (guess is None and sequence and n is not None and np.ndim(n) == 0 and int(n) >= 5 and not
            isinstance(problem.domain, TriMesh) and (sequence is True or len(disc.free) > SEQUENCE_MIN)):
        coarse = solve_planar(problem, (int(n) + 1) // 2, element=element, linear_solver=linear_solver,
                              solver=solver, verbose=verbose, params=params, sequence="auto")
        levels = coarse.stats.get("sequence", []) + [dict(nodes=len(coarse.nodes), iterations=coarse.iterations,
                                                          time=coarse.stats["time"], converged=coarse.converged)]
        if coarse.converged:
            guess = lambda pts: np.nan_to_num(coarse(pts))  # noqa: E731 - NaN outside a coarse polygon mesh
        if verbose:
            print(f"-- grid sequencing: start from the solution on {len(coarse.nodes)} nodes")
    U = _initial(problem, disc, guess, linear_solver)
    fns = functions(problem.integrand, disc.element, problem.shape, problem.with_params)
    out = _newton(disc, fns, U, params, solver, linear_solver, verbose)
    out["stats"]["setup_time"] = t_setup
    out["stats"]["sequence"] = levels
    out["stats"]["time"] = time.perf_counter() - t_start
    return PlanarSolution._build(problem, disc, out, params, element)


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


def _newton(disc, fns, U, p, opts, linear_solver, verbose):
    X = jnp.asarray(disc.X)
    edofs = jnp.asarray(disc.edofs)
    shape_full = (disc.n_nodes,) + disc.shape
    free = disc.free
    nfree = len(free)
    kind = choose(linear_solver, nfree)
    pattern = disc.pattern if nfree else None
    mass = disc.mass[free]
    energy = lambda V: float(fns["energy"](jnp.asarray(V.reshape(shape_full)), X, edofs, p))
    hist = {k: [] for k in ("value", "residual", "step", "alpha", "shift", "backtracks", "linear_iterations",
                            "time_derivatives", "time_assembly", "time_linear", "time_line_search")}
    status, k, shift_prev = Status.MAX_ITERATIONS, 0, 0.0
    lin_cache = {}  # the AMG hierarchy, reused across iterations while it stays effective
    J = np.nan
    if verbose:
        print(f"{'it':>3} {'J':>22} {'|g/m|inf':>10} {'|du|inf':>10} {'alpha':>8} {'shift':>8} {'lin':>5} {'t':>7}")
    for k in range(opts.max_iter + 1):
        t0 = time.perf_counter()
        Uj = jnp.asarray(U.reshape(shape_full))
        Jj, gfull, Hel = fns["derivatives"](Uj, X, edofs, p)
        J = float(Jj)
        g = np.asarray(gfull).reshape(-1)[free]
        Hel = np.asarray(Hel)
        t1 = time.perf_counter()
        hist["value"].append(J)
        hist["residual"].append(float(np.max(np.abs(g) / mass)) if nfree else 0.0)
        if not (np.isfinite(J) and np.all(np.isfinite(g)) and np.all(np.isfinite(Hel))):
            status = Status.NONFINITE
            _pad(hist, k)
            break
        if nfree == 0:
            status = Status.SUCCESS
            _pad(hist, k)
            break
        H = pattern.assemble(Hel)
        t2 = time.perf_counter()
        gnorm = np.linalg.norm(g)
        if k == 0:
            g0norm = max(gnorm, 1e-300)
        # inexact Newton forcing term for CG: superlinear, then quadratic as ‖g‖ -> 0
        eta = float(np.clip(gnorm / g0norm, 1e-12, 1e-2))
        tau = 0.0
        dvals = np.abs(H.data[pattern.diag])
        # S = diag(|H_jj|), floored where a row of H vanishes (e.g. the p-Laplacian where ∇u = 0)
        dvals = np.maximum(dvals, 1e-6 * max(float(np.mean(dvals)), 1e-300))
        lin_iters, t_lin = 0, 0.0
        while True:
            Hs = H
            if tau > 0:
                Hs = H.copy()
                Hs.data[pattern.diag] += tau * dvals
            # reuse/keep factorisations of unshifted Hessians only; at g = 0 the curvature test
            # says nothing, so definiteness must come from a fresh factorisation
            cache = lin_cache if (tau == 0 and gnorm > 0) else None
            du, info = solve_linear(Hs, -g, kind, rtol=eta, cache=cache)
            lin_iters += info["iterations"]
            t_lin += info["time"]
            gdu = float(g @ du)
            curv = float(du @ (H @ du)) if np.all(np.isfinite(du)) else np.nan
            if np.all(np.isfinite(du)) and info["positive"] and (gdu < 0 and curv > 0 or gnorm == 0):
                break
            tau = max(shift_prev / 10, _SHIFT_MIN) if tau == 0 else tau * 10
            if tau > _SHIFT_MAX:
                du = None
                break
        t3 = time.perf_counter()
        shift_prev = tau
        if du is None:
            status = Status.NOT_FACTORIZABLE
            _record(hist, np.nan, np.nan, tau, 0, lin_iters, t1 - t0, t2 - t1, t_lin, 0.0)
            break
        step = float(np.max(np.abs(du)))
        if tau == 0 and step <= opts.atol + opts.rtol * float(np.max(np.abs(U))):
            U[free] += du
            status = Status.SUCCESS
            _record(hist, step, 1.0, tau, 0, lin_iters, t1 - t0, t2 - t1, t_lin, 0.0)
            _verbose(verbose, k, J, hist, step, 1.0, tau, lin_iters, t3 - t0)
            k += 1
            J = energy(U)
            hist["value"].append(J)
            # the final pointwise residual (the compiled derivatives kernel: no new compilation)
            g_end = np.asarray(fns["derivatives"](jnp.asarray(U.reshape(shape_full)), X, edofs, p)[1]).reshape(-1)[free]
            hist["residual"].append(float(np.max(np.abs(g_end) / mass)))
            _pad(hist, k)
            break
        if k == opts.max_iter:
            _pad(hist, k)
            break
        alpha, nb = 1.0, 0
        tiny = -0.5 * gdu <= _ROUNDING * max(abs(J), 1.0)
        while True:
            trial = U.copy()
            trial[free] += alpha * du
            Jt = energy(trial)
            if np.isfinite(Jt) and (Jt <= J + _ARMIJO_C1 * alpha * gdu or (tiny and alpha == 1.0)):
                break
            nb += 1
            alpha *= 0.5
            if nb > opts.max_backtracks:
                trial = None
                break
        t4 = time.perf_counter()
        _record(hist, step, alpha if trial is not None else np.nan, tau, nb, lin_iters, t1 - t0, t2 - t1, t_lin,
                t4 - t3)
        _verbose(verbose, k, J, hist, step, alpha, tau, lin_iters, t4 - t0)
        if trial is None:
            status = Status.LINE_SEARCH_FAILED
            break
        U = trial
    iters = k
    stats = {"linear_solver": kind, "n_free": nfree, "nnz": pattern.nnz if pattern is not None else 0}
    for key in ("time_derivatives", "time_assembly", "time_linear", "time_line_search", "linear_iterations"):
        stats[key + "_total"] = float(np.nansum(hist[key]))
    return dict(U=U, J=J, status=status, iterations=iters,
                history={key: np.asarray(v, dtype=np.float64) for key, v in hist.items()}, stats=stats)


def _record(hist, step, alpha, shift, nb, lin, t_der, t_asm, t_lin, t_ls):
    for key, v in (("step", step), ("alpha", alpha), ("shift", shift), ("backtracks", nb),
                   ("linear_iterations", lin), ("time_derivatives", t_der), ("time_assembly", t_asm),
                   ("time_linear", t_lin), ("time_line_search", t_ls)):
        hist[key].append(v)


def _pad(hist, k):
    """Every history has k + 1 entries (one per iterate; per-step entries NaN at the last)."""
    for v in hist.values():
        while len(v) < k + 1:
            v.append(np.nan)
        del v[k + 1:]


def _verbose(on, k, J, hist, step, alpha, tau, lin, t):
    if on:
        print(f"{k:>3} {J:>22.15g} {hist['residual'][k]:>10.3e} {step:>10.3e} {alpha:>8.3g} {tau:>8.1e} "
              f"{lin:>5d} {t:>7.2f}", flush=True)
