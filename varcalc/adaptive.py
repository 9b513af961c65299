"""Adaptive refinement to a tolerance: solve, estimate, split where the estimate comes from, repeat.

Each level solves on a grid of ``n`` nodes (piecewise-linear elements) and once more on the grid
with every cell halved (warm-started from the coarse solution).  The difference of the two values
estimates the error of the finer one by Richardson extrapolation (order 2:
``|J_{h/2} - J| ≈ |J_h - J_{h/2}| / 3``); per coarse cell, :func:`hierarchical_indicator` says where
the difference comes from.  If the estimate meets the
tolerance the finer solution is returned; otherwise the next grid splits the cells with the
largest indicators and is solved starting from the finer solution.

Compile-friendly: every grid has a node count from the ladder ``2^k + 1, 3·2^(k-1) + 1``
(33, 49, 65, 97, 129, ...), closed under halving every cell (``2n - 1``), so the coarse and the
fine solves of all levels share a handful of array shapes; the tanh-sinh blocks at a singular end
are padded to 64 cells (or the next power of two), so the quadrature layout — part of the compile
key — is the same for every grid of one size.  A level adds exactly the number of
nodes that takes the grid to the next rung (or further when the estimate is far from the
tolerance): a cell with indicator ``η`` is split into ``2^k`` equal parts, ``k`` the least with
``η 8^-k <= θ`` (the error of a smooth cell falls like ``h³``), and ``θ`` is chosen so that the
count fits; the rest of the count halves the parts with the largest predicted indicators.  A cell
touching an end where the integrand is singular (detected by the solver along the guess, e.g. the
brachistochrone's release at rest) is instead graded geometrically toward that end, its
indicator assumed to halve per split (the error of the end cell is ``O(h)`` there) — so the grid
clusters at a singular end by itself, many halvings per level when needed.

>>> import jax.numpy as jnp, numpy as np, varcalc as vc
>>> from varcalc.adaptive import solve_adaptive
>>> p = vc.Problem(lambda f, df, x: 0.5 * (df**2 + f**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
>>> sol = solve_adaptive(p, 1e-6)
>>> bool(abs(sol.value - 0.5 / np.tanh(1.0)) < 1e-6 * sol.value), sol.stats["error_estimate"] < 1e-6
(True, True)
"""

from __future__ import annotations

import dataclasses
import numbers
import time

import numpy as np

from ._entry import entry  # vc.solve's functions, without importing varcalc.solve (which imports us)

__all__ = ["solve_adaptive", "solve_p_adaptive", "ladder", "refine", "hierarchical_indicator"]

_ORDER = 2  # piecewise-linear elements: |J_h - J| = O(h²) (with graded end cells at singular ends)
_SMOOTH_BITS = 3.0  # a smooth cell's indicator falls 2^3-fold per halving (h³)
_END_BITS = 1.0  # the cell touching a singular end: O(h) -> 2-fold per halving
_MAX_SPLITS = 60  # at most 2^60-fold refinement of one cell in one level


def ladder(max_nodes: int) -> np.ndarray:
    """Node counts ``2^k + 1`` and ``3·2^(k-1) + 1`` (k >= 1) up to ``max_nodes``, increasing.

    Halving every cell maps a rung ``n`` to the rung ``2n - 1``.

    >>> ladder(100).tolist()
    [3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97]
    """
    rungs = {2}
    k = 0
    while 2**k + 1 <= max_nodes:
        rungs.add(2**k + 1)
        if k >= 1 and 3 * 2 ** (k - 1) + 1 <= max_nodes:
            rungs.add(3 * 2 ** (k - 1) + 1)
        k += 1
    return np.array(sorted(r for r in rungs if r >= 3), dtype=int)


def refine(x, indicator, n_new: int, *, singular_ends=()) -> np.ndarray:
    """Grid ``x`` (n,) refined to exactly ``n_new`` nodes where ``indicator`` (n-1,) is largest.

    Cell ``i`` is split into ``2^k_i`` equal parts with the least ``k_i`` such that
    ``η_i 8^(-k_i) <= θ``; a cell touching an end in ``singular_ends`` instead gets ``k_i`` nodes
    graded geometrically toward that end (``η_i 2^(-k_i) <= θ``).  ``θ`` is the smallest threshold
    whose node count fits; the remaining count halves the parts with the largest predicted
    indicators.  Returns the new grid, shape (n_new,).

    >>> refine(np.linspace(0.0, 1.0, 5), np.array([1.0, 0.0, 0.0, 8.0]), 7).tolist()
    [0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    eta = np.abs(np.asarray(indicator, dtype=np.float64))
    n = x.size
    if eta.shape != (n - 1,):
        raise ValueError(f"indicator: expected shape ({n - 1},) for a grid of {n} nodes, got {eta.shape}")
    if not isinstance(n_new, numbers.Integral) or n_new < n or n_new > 2 * n - 1:
        raise ValueError(f"n_new: expected an integer from {n} to {2 * n - 1}, got {n_new!r}")
    add = int(n_new) - n
    if add == 0:
        return x.copy()
    eta = np.where(np.isfinite(eta), eta, np.max(eta[np.isfinite(eta)], initial=1.0) * 1e3)
    eta = np.maximum(eta, 1e-300)
    end = np.zeros(n - 1, bool)  # cells graded toward an end instead of split uniformly
    toward_right = np.zeros(n - 1, bool)
    if "left" in singular_ends:
        end[0] = True
    if "right" in singular_ends:
        end[-1] = True
        toward_right[-1] = True
    bits = np.where(end, _END_BITS, _SMOOTH_BITS)

    def splits(log_theta):
        k = np.ceil((np.log2(eta) - log_theta) / bits)
        return np.clip(k, 0, _MAX_SPLITS).astype(int)

    def count(k):
        return int(np.sum(np.where(end, k, 2.0 ** np.minimum(k, 40) - 1)))

    lo, hi = np.log2(eta.min()) - 200.0, np.log2(eta.max())  # count(hi) = 0 <= add < count(lo)
    for _ in range(200):  # the smallest threshold with count <= add
        mid = 0.5 * (lo + hi)
        if count(splits(mid)) <= add:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-9:
            break
    k = splits(hi)
    # Build the parts: (left, right, predicted indicator) of every cell of the new grid.
    left, right, pred = [], [], []
    h = np.diff(x)
    uni = ~end
    # Uniform splits, vectorised over cells: part j of 2^k.
    reps = 2 ** np.where(uni, k, 0)
    cell = np.repeat(np.arange(n - 1), reps)
    j = np.arange(cell.size) - np.repeat(np.cumsum(reps) - reps, reps)
    t0, t1 = j / reps[cell], (j + 1) / reps[cell]
    pu = eta[cell] * 2.0 ** (-bits[cell] * np.where(uni, k, 0)[cell])
    keep = uni[cell]
    left.append(x[cell][keep] + t0[keep] * h[cell][keep])
    right.append(x[cell][keep] + t1[keep] * h[cell][keep])
    pred.append(pu[keep] / reps[cell][keep])  # each of the 2^k parts: its share
    for i in np.flatnonzero(end):  # at most two cells: geometric grading toward the end
        ki = int(k[i])
        frac = 2.0 ** -np.arange(ki + 1)  # 1, 1/2, ..., 2^-k: distances from the end / h
        if toward_right[i]:
            pts = x[i + 1] - h[i] * frac  # x_i, ..., x_{i+1} - h 2^-k
            edges = np.append(pts, x[i + 1])
        else:
            pts = x[i] + h[i] * frac[::-1]  # x_i + h 2^-k, ..., x_{i+1}
            edges = np.insert(pts, 0, x[i])
        left.append(edges[:-1])
        right.append(edges[1:])
        p_end = eta[i] * 2.0 ** (-_END_BITS * ki)
        p = np.full(ki + 1, p_end * 2.0**-_SMOOTH_BITS)  # the graded parts away from the end
        p[-1 if toward_right[i] else 0] = p_end
        pred.append(p)
    left, right, pred = (np.concatenate(a) for a in (left, right, pred))
    order = np.argsort(left)
    left, right, pred = left[order], right[order], pred[order]
    rest = add - (left.size - (n - 1))
    if rest > 0:  # halve the parts with the largest predicted indicators
        pick = np.argpartition(-pred, rest - 1)[:rest] if rest < pred.size else np.arange(pred.size)
        left = np.concatenate([left, 0.5 * (left[pick] + right[pick])])
    out = np.unique(np.append(left, x[-1]))
    if out.size != n_new:  # parts narrower than rounding merged: fill with the widest midpoints
        while out.size < n_new:
            w = np.diff(out)
            m = min(n_new - out.size, w.size)
            pick = np.argpartition(-w, m - 1)[:m]
            out = np.unique(np.concatenate([out, out[pick] + 0.5 * w[pick]]))
        out = out[:n_new] if out.size > n_new else out
    out[0], out[-1] = x[0], x[-1]
    return out


_PAD_MIN = 64  # near-end tanh-sinh blocks padded to 64, 128, ... cells (at most all of them)


def _padded_blocks(blocks, ncell):
    """The quadrature blocks with the near-end tanh-sinh blocks widened to a power of two (>= 64)
    cells and the bulk on 8 Gauss points, so that the compile key (the blocks) changes rarely.
    Widening is safe: tanh-sinh integrates a smooth cell at least as well as Gauss."""
    from .quadrature import CellBlock

    blocks = tuple(blocks)
    if len(blocks) == 1 or not any(b.rule_name == "tanh-sinh" for b in blocks):
        return blocks
    pad = lambda k: 0 if k == 0 else min(max(_PAD_MIN, 1 << int(np.ceil(np.log2(k)))), ncell)
    k_left = pad(blocks[0].size if blocks[0].rule_name == "tanh-sinh" else 0)
    k_right = pad(blocks[-1].size if blocks[-1].rule_name == "tanh-sinh" else 0)
    k_right = min(k_right, ncell - k_left)
    out = []
    if k_left:
        out.append(CellBlock(0, k_left, "tanh-sinh"))
    if k_left < ncell - k_right:
        out.append(CellBlock(k_left, ncell - k_right, "gauss8"))
    if k_right:
        out.append(CellBlock(ncell - k_right, ncell, "tanh-sinh"))
    return tuple(out)


def _solve_on(problem, x, guess, solver, params, mode, singular_ends=None):
    """:func:`varcalc.solve` on grid ``x`` with padded near-end quadrature blocks (fewer compiles)."""
    from .newton import Newton

    disc = entry("discretize")(problem, grid=x, guess=guess, singular_ends=singular_ends, params=params, mode=mode)
    disc.blocks = _padded_blocks(disc.blocks, x.size - 1)
    return entry("run_newton")(disc, Newton.checked(solver))


def _cell_energies(disc, V, z):
    """The cell energies of ``disc``'s discrete functional at ``V`` (d_el, n), shape (n-1,)."""
    import jax
    import jax.numpy as jnp

    from . import cache

    key = ("cells", disc.layout.key(disc.problem), disc.blocks, disc.mode)
    fn = cache.get(key, lambda: jax.jit(disc.functional.cell_energies))
    return np.asarray(fn(jnp.asarray(V), jnp.asarray(disc.x), jnp.asarray(z), disc.aux()))


def hierarchical_indicator(coarse, fine) -> np.ndarray:
    """Each coarse cell's share of ``J_h - J_{h/2}``, shape (n-1,), from the fine solution alone.

    ``η_i = |E_i(R f) - E'_{2i}(f) - E'_{2i+1}(f)|``: the coarse discrete energy of cell ``i`` at
    the fine solution's values on the coarse nodes (``R f``) minus the fine energies of its two
    halves at the fine solution.  Both use the same nodal values, so ``η`` is local (a difference of
    the two solutions' cell energies also moves with every shift of the nodal values elsewhere).
    To leading order it is the energy ``2 dᵀ G_{f'f'} d / h`` of the fine solution's surplus
    ``d = f_{2i+1} - (f_{2i} + f_{2i+2}) / 2`` over its chord plus the change of the quadrature
    error; ``Σ η_i >= |J_h(R f) - J_{h/2}(f)| ≈ |J_h - J_{h/2}|`` (``J_h`` is stationary at the coarse
    solution).  It decays like ``h³`` on a smooth cell and like ``h`` on the cell at a singular
    end of the brachistochrone.
    """
    disc, _, _ = coarse._state
    fdisc, Vf, zf = fine._state
    d_el = fdisc.layout.d_el
    Vf = np.asarray(Vf[:d_el])
    E = _cell_energies(disc, Vf[:, ::2], zf)
    Ef = _cell_energies(fdisc, Vf, zf)
    eta = np.abs(E - (Ef[0::2] + Ef[1::2]))
    return np.where(np.isfinite(eta), eta, np.inf)


def solve_adaptive(
    problem,
    tol,
    *,
    n0: int = 33,
    max_nodes: int = 2**17 + 1,
    rel: bool = True,
    solver=None,
    params=None,
    mode: str = "minimize",
    verbose: bool = False,
):
    """Refine the grid where the error comes from until the estimate of ``|J_h - J|`` meets ``tol``.

    Parameters
    ----------
    problem : Problem
        A 1-D problem with ``order=1`` (piecewise-linear elements; singular ends are found and
        graded automatically).
    tol : float
        Target for the estimate of ``|J_h - J|``; relative to ``|J_h|`` when ``rel`` (default).
    n0 : int
        Nodes of the first (uniform) grid, rounded up to the ladder (see :func:`ladder`).
    max_nodes : int
        Largest grid allowed (the halved grid of the last level included).  When reached, the
        best solution so far is returned with ``stats["tol_met"] = False``.
    rel : bool
        Relative (default) or absolute tolerance.
    solver, params, mode
        As for :func:`varcalc.solve`.
    verbose : bool
        Print one line per level.

    Returns
    -------
    Solution
        The solution on the finest grid (the halved grid of the last level), with
        ``stats["error_estimate"]`` (estimate of ``|J_h - J|``, absolute), ``stats["tol_met"]``
        and ``stats["mesh_history"]``: one dict per level with ``level``, ``nodes`` (of the
        coarse grid), ``fine_nodes``, ``value`` (of the fine solution), ``estimate`` (of its
        error, absolute), ``time`` (seconds since the start, compilation included).

    Examples
    --------
    >>> import numpy as np, varcalc as vc
    >>> from varcalc.adaptive import solve_adaptive
    >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> sol = solve_adaptive(p, 1e-8, rel=False)   # exact J = -1/24; P1 is exact at the nodes
    >>> bool(abs(sol.value + 1 / 24) < 1e-8), sol.stats["tol_met"]
    (True, True)
    """
    from .problem import Problem

    if not isinstance(problem, Problem):
        raise TypeError(f"problem: expected a vc.Problem, got {type(problem).__name__}")
    if problem.order != 1:
        raise ValueError("problem: adaptive refinement needs an order=1 problem (G(f, f', x))")
    curve = problem.end_curve("left") is not None or problem.end_curve("right") is not None
    if curve or problem.pointwise or problem.bound is not None or problem.data is not None:
        raise ValueError(
            "problem: adaptive refinement supports fixed or natural ends and Integral "
            "constraints only (no OnCurve, Pointwise, Bound or Data) yet"
        )
    tol = _checked_tol(tol)
    for name, v in (("n0", n0), ("max_nodes", max_nodes)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 3:
            raise ValueError(f"{name}: expected an integer >= 3, got {v!r}")
    rungs = ladder(max(int(max_nodes), 3))
    if n0 > rungs[-1] or 2 * n0 - 1 > max_nodes:
        raise ValueError(
            f"n0: the first grid and its halving (2 n0 - 1 = {2 * n0 - 1}) must fit in max_nodes = {max_nodes}"
        )
    n = int(rungs[np.searchsorted(rungs, n0)])
    a, b = problem.domain
    x = np.linspace(a, b, n)
    guess = None
    history = []
    t_start = time.perf_counter()
    best = None
    for level in range(200):
        coarse = _solve_on(problem, x, guess, solver, params, mode)
        fine = coarse
        if coarse.converged:
            xf = np.empty(2 * x.size - 1)
            xf[0::2], xf[1::2] = x, 0.5 * (x[:-1] + x[1:])
            fine = _solve_on(problem, xf, coarse, solver, params, mode, singular_ends=coarse.singular_ends)
        if not fine.converged:  # return the last good level's solution, or this failure
            failed = fine if coarse.converged else coarse
            out = best if best is not None else failed
            out.stats["mesh_history"] = history
            out.stats["error_estimate"] = history[-1]["estimate"] if history else float("inf")
            out.stats["tol_met"] = False
            return _with_message(out, f" (adaptive level {level}, {failed.x.size} nodes: {failed.message})")
        delta = abs(coarse.value - fine.value)
        estimate = delta / (2.0**_ORDER - 1.0)  # Richardson: the error of the fine value
        target = tol * abs(fine.value) if rel else tol
        history.append(
            dict(
                level=level,
                nodes=int(n),
                fine_nodes=int(fine.x.size),
                value=float(fine.value),
                estimate=float(estimate),
                time=time.perf_counter() - t_start,
            )
        )
        if verbose:
            h = history[-1]
            print(
                f"level {level:2d}  nodes {n:7d}/{h['fine_nodes']:7d}  J = {h['value']:.16g}  "
                f"estimate {estimate:.2e}  (target {target:.1e})  t = {h['time']:.2f} s"
            )
        best = fine
        done = estimate <= target
        i = int(np.searchsorted(rungs, n))
        if done or i + 1 >= rungs.size or 2 * int(rungs[i + 1]) - 1 > max_nodes:
            break
        # Next rung: where an O(n^-2) error would meet the target, between one and two rungs up.
        want = n * np.sqrt(estimate / max(target, 1e-300))
        j = int(np.clip(np.searchsorted(rungs, want), i + 1, i + 2))
        while j > i + 1 and (rungs[j] > 2 * n - 1 or 2 * rungs[j] - 1 > max_nodes):
            j -= 1
        n_next = int(rungs[j])
        eta = hierarchical_indicator(coarse, fine)
        x = refine(coarse.x, eta, n_next, singular_ends=coarse.singular_ends)
        guess = fine
        n = n_next
    best.stats["mesh_history"] = history
    best.stats["error_estimate"] = history[-1]["estimate"]
    best.stats["tol_met"] = bool(done)
    if not done:
        best = _with_message(
            best,
            f" (adaptive: the estimate {history[-1]['estimate']:.2e} did not reach the "
            f"tolerance within max_nodes = {max_nodes})",
        )
    return best


DEGREE_LADDER = (2, 3, 4, 6, 8, 12, 16)  # p-refinement: each a compile; |J_p - J| falls spectrally


def solve_p_adaptive(
    problem,
    tol,
    *,
    degree: int = 4,
    n0: int = 5,
    max_nodes: int = 65,
    rel: bool = True,
    solver=None,
    params=None,
    mode: str = "minimize",
    verbose: bool = False,
):
    """Raise the element degree (then halve the cells) until successive values agree to ``tol``.

    ``vc.solve(problem, tol=..., degree=p)`` calls this: p-refinement with high-order elements
    (:mod:`varcalc.elements`), a singular end mapped away (:mod:`varcalc.endmap`).  Level ``k``
    solves with the ``k``-th degree of :data:`DEGREE_LADDER` from ``degree`` on (``n0`` nodes,
    uniform in the mapped coordinate), warm-started from level ``k - 1``; the estimate of the
    error of level ``k - 1`` is ``|J_k - J_{k-1}|``, and with the spectral convergence of a smooth
    (or mapped) problem it bounds the error of level ``k`` with a wide margin, so level ``k`` is
    returned once that difference meets the tolerance.  Past degree 16 the cells are halved.

    Returns the last solution with ``stats["error_estimate"]`` (``|J_k - J_{k-1}|``, absolute),
    ``stats["tol_met"]`` and ``stats["mesh_history"]``: one dict per level with ``level``,
    ``degree``, ``nodes``, ``unknowns``, ``value``, ``estimate`` (None on the first level) and
    ``time`` (seconds since the start, compilation included).

    >>> import numpy as np, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: 0.5 * (df**2 + f**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    >>> sol = vc.solve(p, tol=1e-12, degree=4)
    >>> bool(abs(sol.value - 0.5 / np.tanh(1.0)) < 1e-12), sol.stats["tol_met"], sol.degree
    (True, True, 6)
    """
    solve = entry("solve")
    tol = _checked_tol(tol)
    degree = entry("check_degree")(degree)
    if isinstance(n0, bool) or not isinstance(n0, numbers.Integral) or n0 < 3:
        raise ValueError(f"n: expected an integer >= 3 nodes for tol= with degree > 1, got {n0!r}")
    degrees = [degree] + [p for p in DEGREE_LADDER if p > degree]
    history, prev, n, t_start = [], None, int(n0), time.perf_counter()
    k = 0
    while True:
        p = degrees[min(k, len(degrees) - 1)]
        sol = solve(_on_guess_domain(problem, prev), n=n, degree=p, guess=prev, solver=solver, params=params, mode=mode)
        if not sol.converged:
            out = prev if prev is not None else sol
            out.stats.update(
                mesh_history=history, tol_met=False, error_estimate=history[-1]["estimate"] if history else float("inf")
            )
            return _with_message(out, f" (p-adaptive: degree {p} on {n} nodes did not converge: {sol.message})")
        estimate = None if prev is None else abs(sol.value - prev.value)
        unknowns = int(np.sum(~np.asarray(sol._state[0].fixed)))
        history.append(
            dict(
                level=len(history),
                degree=p,
                nodes=n,
                unknowns=unknowns,
                value=float(sol.value),
                estimate=estimate,
                time=time.perf_counter() - t_start,
            )
        )
        if verbose:
            est = "" if estimate is None else f"  estimate {estimate:.2e}"
            print(
                f"level {len(history) - 1:2d}  degree {p:2d}  nodes {n:4d}  unknowns {unknowns:5d}  "
                f"J = {sol.value:.16g}{est}  t = {history[-1]['time']:.2f} s"
            )
        target = tol * abs(sol.value) if rel else tol
        done = estimate is not None and estimate <= target
        if done:
            break
        if k + 1 >= len(degrees):  # the ladder's top: halve the cells instead
            if 2 * n - 1 > max_nodes:
                break
            n = 2 * n - 1
        k += 1
        prev = sol
    sol.stats.update(mesh_history=history, error_estimate=history[-1]["estimate"], tol_met=bool(done))
    if not done:
        sol = _with_message(
            sol,
            f" (p-adaptive: the estimate {history[-1]['estimate']:.2e} did not reach the "
            f"tolerance with degree {degrees[-1]} on {n} <= max_nodes = {max_nodes} nodes)",
        )
    return sol


def _on_guess_domain(problem, prev):
    """``problem`` on the interval ``prev`` was solved on: a free end (on a curve) moved, and the
    guess ``prev`` is defined there only (the free end starts from where it was found)."""
    if prev is None or (prev.start is None and prev.end is None):
        return problem
    return dataclasses.replace(
        problem, domain=(float(prev.x[0]), float(prev.x[-1])), components=problem.shape if problem.is_vector else None
    )


def _with_message(sol, more: str):
    """``sol`` with ``more`` appended to its message (a Solution is frozen: a copy)."""
    return dataclasses.replace(sol, message=sol.message + more)


def _checked_tol(tol):
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise TypeError(f"tol: expected a positive real number, got {tol!r}") from None
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol: expected a positive real number, got {tol!r}")
    return tol
