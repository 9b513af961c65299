"""The discretization chosen for the user: ``vc.solve(problem, tol=...)`` with no ``degree``, ``n`` or ``grid``.

Why: degree-``p`` elements with a singular end mapped away reach a tolerance with tens of unknowns
where piecewise-linear h-refinement needs tens of thousands (PSOPT's brachistochrone to 1e-10:
22 unknowns against 32,769 nodes), but only for a user who knows to ask for them.  This module
asks for them, and falls back where they do not converge fast.

Every level is a *pair* of solves with one degree ``p``: the **base** on the level's grid and the
**probe** on that grid with every cell halved, warm-started from the base.  ``|J_probe - J_base|``
estimates the base's error (the probe is ``2^(2p)``-fold more accurate on a smooth extremal, and
still several-fold at a singular end), so the base is what is returned once that estimate meets the
tolerance: the estimate is of the returned solution.  The first grid has 3 cells, so base and probe
share one size bucket and the degree's kernel compiles once.  Between levels:

* **p-step** while the estimates fall spectrally (at least :data:`SPECTRAL`-fold per degree step
  along :data:`DEGREES`): same grid, next degree;
* **h-step** once they stop (a singular extremal or a layer that the guess did not show, or the
  top of the degree ladder): per base cell, the hierarchical indicator
  ``|E_i(base) - E'_2i(probe) - E'_2i+1(probe)|`` (the cells' discrete energies) says where the
  difference comes from; a marked cell touching an end of the domain is graded geometrically toward
  it (ratio :data:`GRADING`, several layers when its share is far above the target:
  hp-refinement), other marked cells are halved;
* **end map from the iterates**: once an end has 3 graded layers, the graded nodes show
  ``f - f(a) ~ c (x - a)^α``; a fractional ``α`` (e.g. ``1/2`` under a smooth ``G``) at a Dirichlet
  end switches to the end map ``x - a ∝ s^k`` with ``α k`` whole (:mod:`varcalc.endmap`), where the
  extremal is smooth again, and p-refinement resumes on 3 cells.

A singular end that the guess already shows (G or ∂G/∂f infinite there, e.g. the brachistochrone
released at rest) is mapped from the first level (the elements' own detection).
``sol.stats["mesh_history"]`` holds one entry per solve: ``level``, ``role`` (``"base"``/
``"probe"``), ``degree``, ``nodes``, ``unknowns``, ``value``, ``estimate`` (of a base's error;
None for probes), ``time`` (since the start, compilation included), ``action`` (``"start"``,
``"p"``, ``"h"``, ``"map"``, ``"probe"``), ``why`` (the measurement that led to it) and
``end_map`` (the map powers, or None).

Every problem the degree-``p`` elements serve takes this path: ``order=2`` (C¹ elements of degree
``p``; no end map), Pointwise, OnCurve, Data and Integral side conditions, vector unknowns.  Those
they do not serve (a Bound, until degree-``p`` elements accept one) take the piecewise-linear
h-path, :func:`varcalc.adaptive.solve_adaptive`, and say so in their history.

>>> import numpy as np, varcalc as vc
>>> p = vc.Problem(lambda f, df, x: 0.5 * (df**2 + f**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
>>> sol = vc.solve(p, tol=1e-10)
>>> bool(abs(sol.value - 0.5 / np.tanh(1.0)) < 1e-10), sol.stats["tol_met"], sol.degree
(True, True, 6)
>>> [h["action"] for h in sol.stats["mesh_history"]]
['start', 'probe']
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ._entry import entry

__all__ = ["solve_auto", "DEGREES", "SPECTRAL", "GRADING", "MAX_UNKNOWNS"]

DEGREES = (6, 8, 12, 16)  # each a compile of the kernel; 6 on 3 cells is 17-19 unknowns
SPECTRAL = 0.1  # a p-step that cuts the estimate less than 10-fold: not spectral (measured below)
GRADING = 0.15  # geometric grading ratio toward an end (the hp literature's σ ≈ 0.15-0.2)
MARK = 0.1  # cells with an indicator >= this fraction of the largest are refined
MAX_UNKNOWNS = 4000  # per component; past it the best solution so far is returned (tol not met)
MAX_LAYERS = 8  # graded layers added toward one end per level
MAX_LEVELS = 40
_N0 = 4  # first grid: 3 cells (uniform in s at a mapped end); halved, 7 nodes: one size bucket (8), one compile


def not_served(problem) -> str | None:
    """Why the degree-``p`` path does not apply to ``problem`` (then the h-path runs), or None: a
    side condition the degree-``p`` element family of its order does not declare (``Element.sides``)."""
    from .families import element_for
    from .sides import present_kinds

    served = element_for(order=problem.order, degree=DEGREES[0]).sides
    missing = sorted(present_kinds(problem) - served) if served is not None else []
    return f"degree > 1 elements do not support {', '.join(missing)} yet" if missing else None


def solve_auto(
    problem,
    tol,
    *,
    rel: bool = True,
    guess=None,
    solver=None,
    params=None,
    mode: str = "minimize",
    verbose: bool = False,
    max_unknowns: int = MAX_UNKNOWNS,
):
    """Solve ``problem`` to ``tol`` choosing degree, cells, grading and end maps (see the module).

    Parameters
    ----------
    problem : Problem
    tol : float
        Target for the estimate of ``|J_h - J|``, relative to ``|J_h|`` when ``rel`` (default).
    guess : callable or Solution, optional
        Start of the first level, a function of ``x`` (node values would have to match its 4
        nodes).
    solver, params, mode
        As for :func:`varcalc.solve`.
    verbose : bool
        Print one line per solve (what was chosen and why).
    max_unknowns : int
        Stop refining past this many unknowns per component; the best solution is returned with
        ``stats["tol_met"] = False``, a message and a warning.

    Returns
    -------
    Solution
        The base solution of the last level, with ``stats["error_estimate"]`` (``|J_q - J_p|``,
        absolute; an estimate of its own error), ``stats["tol_met"]``, ``stats["mesh_history"]``
        (see the module) and ``stats["strategy"]`` (``"p"``, ``"hp"``, ``"map"`` or ``"h-path"``).
        When the estimate misses ``tol`` a :class:`UserWarning` says so.

    Examples
    --------
    >>> import varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> sol = vc.solve(p, tol=1e-10)               # exact: f = x(x - 1)/2, J = -1/24
    >>> sol.stats["strategy"], sol.degree, abs(sol.value + 1 / 24) < 1e-14
    ('p', 6, True)
    """
    from .adaptive import _checked_tol, solve_adaptive

    tol = _checked_tol(tol)
    reason = not_served(problem)
    if reason is not None:
        if guess is not None:
            raise ValueError(
                f"guess: not combined with tol= on the piecewise-linear h-path ({reason}); give it without tol="
            )
        sol = solve_adaptive(problem, tol, solver=solver, params=params, mode=mode, verbose=verbose, rel=rel)
        for h in sol.stats["mesh_history"]:
            h.setdefault("why", f"h-path (piecewise-linear, halving): {reason}")
        sol.stats["strategy"] = "h-path"
        return _warn_if_missed(sol, tol)
    run = _Runner(problem, solver, params, mode, verbose, rel, tol)
    s, powers, p = None, None, DEGREES[0]
    action, why = "start", f"degree {p} on {_N0 - 1} cells"
    guess_sol, prev_est, last = guess, None, "p"
    strategy, graded = "p", {"left": 0, "right": 0}
    while True:
        base = run.solve(p, s, powers, guess_sol, action, why)
        if not base.converged:
            return run.finish(base, None, False, _failed(base))
        s, powers = _solver_grid(base)
        if action == "start" and base.end_map is not None:
            strategy = "map"
        probe = run.solve(
            p, _halved(s), powers, base, "probe", "every cell halved, same degree: estimates the base's error"
        )
        if not probe.converged:
            return run.finish(base, None, False, _failed(probe))
        est = abs(probe.value - base.value)
        run.estimate(est)
        if est <= run.target(base):
            return run.finish(base, est, True, None, strategy)
        if run.unknowns(probe) > max_unknowns or run.level >= MAX_LEVELS:
            return run.finish(
                base,
                est,
                False,
                f" (automatic: the estimate {est:.2e} did not reach the tolerance "
                f"within max_unknowns = {max_unknowns} or {MAX_LEVELS} levels)",
                strategy,
            )
        ratio = None if prev_est is None else est / max(prev_est, 1e-300)
        prev_est, guess_sol = est, probe
        # Spectral: keep raising the degree while a step cuts the estimate >= 10-fold.
        if last == "p" and (ratio is None or ratio <= SPECTRAL) and p < DEGREES[-1]:
            why = (
                "raise the degree (first level)"
                if ratio is None
                else f"the estimate fell {1 / ratio:.3g}-fold with the last degree step (spectral): raise it"
            )
            p, action, last = _next_degree(p), "p", "p"
            continue
        mapped = _map_from_iterates(probe, graded, powers, problem)
        if mapped is not None:  # a fractional exponent on the graded nodes: map the end away
            end, k, alpha = mapped
            side = "a" if end == "left" else "b"
            powers = tuple(k if e == end else pw for e, pw in zip(("left", "right"), powers))
            s, action, last, prev_est, graded = np.linspace(0.0, 1.0, _N0), "map", "p", None, {"left": 0, "right": 0}
            why = (
                f"|f - f({side})| ~ |x - {side}|^{alpha:.4g} on the graded nodes (fractional): end map "
                f"|x - {side}| ∝ s^{k}, smooth in s; p-refinement again"
            )
            strategy = "map"
            continue
        eta = _cell_indicator(base, probe)
        layers, halve = _marked(eta, powers, run.target(base), est)
        for end, L in layers.items():
            graded[end] += L
        slow = (
            "top of the degree ladder"
            if p >= DEGREES[-1] and last == "p"
            else (f"the estimate fell only {1 / ratio:.3g}-fold" if ratio is not None else "")
        )
        why = (
            f"not spectral ({slow}): {sum(layers.values())} graded layer(s) toward "
            f"{', '.join(e for e, L in layers.items() if L) or '-'}, {int(np.sum(halve))} cell(s) halved "
            f"(largest indicator share {eta.max() / max(eta.sum(), 1e-300):.0%})"
        )
        s_new = _refined(s, layers, halve)
        if s_new.size == s.size:  # nothing marked (indicators not finite): halve every cell
            s_new = _halved(s)
        s, action, last = s_new, "h", "h"
        strategy = "hp" if strategy == "p" else strategy


class _Runner:
    """The solves of one automatic run and their history."""

    def __init__(self, problem, solver, params, mode, verbose, rel, tol):
        self.problem, self.solver, self.params, self.mode = problem, solver, params, mode
        self.verbose, self.rel, self.tol = verbose, rel, tol
        self.history, self.t0, self.level = [], time.perf_counter(), 0

    def target(self, sol):
        return self.tol * abs(sol.value) if self.rel else self.tol

    @staticmethod
    def unknowns(sol):
        return int(np.sum(~np.asarray(sol._state[0].fixed)))

    def solve(self, degree, s, powers, guess, action, why):
        guess = _as_guess(guess) if hasattr(guess, "element_values") else guess
        options = dict(degree=degree, guess=guess, solver=self.solver, params=self.params, mode=self.mode)
        if s is None:
            options["n"] = _N0
        else:
            options.update(
                grid=_physical(self.problem, s, powers),
                singular_ends={e: k for e, k in zip(("left", "right"), powers) if k > 1},
            )
        try:
            sol = entry("solve")(self.problem, **options)
        except ValueError as exc:  # a singular end whose map power is not found: grade it instead
            if not (action == "start" and str(exc).startswith("singular_ends:")):
                raise
            sol = entry("solve")(self.problem, **options, singular_ends=())
            why += "; a singular end along the guess whose map power was not found: not mapped (graded if p stalls)"
        if action == "start" and sol.end_map is not None:
            why += f"; singular end(s) {sol.singular_ends} along the guess: mapped, powers {sol.end_map.powers}"
        if action != "probe":
            self.level += 1
        self.history.append(
            dict(
                level=self.level - 1,
                role="probe" if action == "probe" else "base",
                degree=int(degree),
                nodes=int(sol.x.size),
                unknowns=self.unknowns(sol),
                value=float(sol.value),
                estimate=None,
                time=time.perf_counter() - self.t0,
                action=action,
                why=why,
                end_map=None if sol.end_map is None else sol.end_map.powers,
            )
        )
        if self.verbose:
            h = self.history[-1]
            print(
                f"level {h['level']:2d} {h['role']:5s} degree {degree:2d}  nodes {h['nodes']:4d}  unknowns "
                f"{h['unknowns']:5d}  J = {sol.value:.16g}  t = {h['time']:.2f} s  [{action}: {why}]"
            )
        return sol

    def estimate(self, est):
        """Record ``est`` on the last base entry (the probe just solved estimates its error)."""
        base = [h for h in self.history if h["role"] == "base"][-1]
        base["estimate"] = float(est)
        if self.verbose:
            print(f"         estimate of the base's |J_h - J|: {est:.2e}")

    def finish(self, sol, est, met, message, strategy=None):
        from .adaptive import _with_message

        sol.stats.update(
            mesh_history=self.history,
            tol_met=bool(met),
            strategy=strategy,
            error_estimate=float("inf") if est is None else float(est),
        )
        if message:
            sol = _with_message(sol, message)
        return _warn_if_missed(sol, self.tol)


def _as_guess(sol):
    """``sol``'s piecewise polynomial as a numpy function of ``x`` (shape (N,) -> (N, m)): the next
    solve's guess.  (``sol(x)`` is the one JAX evaluator, which compiles per shape of ``x``: on the
    few-cell grids here that compile is most of a level's time.)"""
    from .elements import gll_nodes, lagrange_basis

    if sol.element_values is None:
        return sol
    E = np.asarray(sol.element_values, dtype=np.float64)
    E = E.reshape(E.shape[:2] + (-1,))  # (cells, p+1, m)
    grid = np.asarray(sol._state[0].x, dtype=np.float64)  # s at a mapped end, else x
    nodes = gll_nodes(E.shape[1] - 1)

    def guess(x):
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        t = x if sol.end_map is None else sol.end_map.s_of_x(x)
        cell = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, grid.size - 2)
        u = np.clip((t - grid[cell]) / (grid[cell + 1] - grid[cell]), 0.0, 1.0)
        phi, _ = lagrange_basis(nodes, u)  # (p+1, N)
        return np.einsum("jn,njm->nm", phi, E[cell])

    return guess


def _failed(sol):
    return f" (automatic: degree {sol.degree} on {sol.x.size} nodes did not converge: {sol.message})"


def _warn_if_missed(sol, tol):
    if not sol.stats.get("tol_met"):
        warnings.warn(
            f"vc.solve(tol={tol:g}): the error estimate {sol.stats.get('error_estimate', float('inf')):.2e} "
            f"of |J_h - J| does not meet the tolerance; see sol.message and sol.stats['mesh_history']",
            UserWarning,
            stacklevel=3,
        )
    return sol


def _next_degree(p):
    return next((d for d in DEGREES if d > p), DEGREES[-1])


def _solver_grid(sol):
    """The solver's grid (``s`` at a mapped end, else ``x``) and the map powers of ``sol``."""
    disc = sol._state[0]
    powers = (1, 1) if sol.end_map is None else sol.end_map.powers
    return np.asarray(disc.x, dtype=np.float64), powers


def _physical(problem, s, powers):
    """The physical grid of solver grid ``s`` under the end map of ``powers``."""
    a, b = problem.domain
    if powers == (1, 1):
        return np.asarray(s, dtype=np.float64)
    from .endmap import EndMap

    x = EndMap(powers, a, b).x_of_s(np.asarray(s, dtype=np.float64))
    x[0], x[-1] = a, b
    return x


def _halved(s):
    from .estimate import halve_cells

    return halve_cells(s)


def _cell_indicator(base, probe):
    """Each base cell's share of ``J_base - J_probe`` (:func:`varcalc.estimate._cell_indicator`)."""
    from .estimate import _cell_indicator as indicator

    return indicator(base, probe)


def _marked(eta, powers, target, est):
    """Layers to add toward each end and the interior cells to halve, from the cell indicators ``eta``.

    A marked end cell (not already mapped) gets ``L`` graded layers, ``L`` the least with
    ``η_end · GRADING^(L/2) <= target / 2`` (the share of a ``(x - a)^α`` end cell falls at least
    like the square root of its width for ``α >= 1/4``), between 1 and :data:`MAX_LAYERS`."""
    scale = est / max(eta.sum(), 1e-300)  # indicators in units of the value difference
    eta = np.where(np.isfinite(eta), eta, 0.0) * scale
    marked = eta >= MARK * eta.max() if eta.max() > 0 else np.zeros(eta.shape, bool)
    layers = {"left": 0, "right": 0}
    for end, cell, k in (("left", 0, powers[0]), ("right", -1, powers[1])):
        if marked[cell] and k == 1:
            want = np.log(max(eta[cell], 1e-300) / (0.5 * target)) / (-0.5 * np.log(GRADING))
            layers[end] = int(np.clip(np.ceil(want), 1, MAX_LAYERS))
            marked[cell] = False
    return layers, marked


def _refined(s, layers, halve):
    """Grid ``s`` with ``halve``d cells and geometric layers toward the ends (``GRADING`` per layer)."""
    s = np.asarray(s, dtype=np.float64)
    new = [s, 0.5 * (s[:-1] + s[1:])[halve]]
    if layers["left"]:
        h = s[1] - s[0]
        new.append(s[0] + h * GRADING ** np.arange(1, layers["left"] + 1))
    if layers["right"]:
        h = s[-1] - s[-2]
        new.append(s[-1] - h * GRADING ** np.arange(1, layers["right"] + 1))
    return np.unique(np.concatenate(new))


def _map_from_iterates(sol, graded, powers, problem):
    """``(end, k, α)`` when the nodes graded toward a Dirichlet ``end`` show ``f - f(end) ~ (x - end)^α``
    with a fractional ``α`` in (0, 1) that ``k <= MAX_POWER`` makes whole (``α k >= 2``), else None.

    ``α`` is the slope of ``log |f - f(end)|`` against the log of the distance over the innermost
    graded nodes of the solution (at least 3 layers, the slopes of successive pairs agreeing to 0.03)."""
    from .endmap import MAX_POWER

    if problem.is_vector or problem.order != 1:  # no end map for the C¹ elements of order=2
        return None
    x = np.asarray(sol.x, dtype=np.float64)
    f = np.asarray(sol.f, dtype=np.float64).reshape(x.size)
    for end, node, k0 in (("left", 0, powers[0]), ("right", -1, powers[1])):
        if graded[end] < 3 or k0 != 1 or end not in problem.bc:
            continue
        idx = np.array([2, 4, 6]) if end == "left" else -np.array([3, 5, 7])  # the base's nodes (halved probe)
        dist = np.abs(x[idx] - x[node])
        df = np.abs(f[idx] - f[node])
        if np.any(df <= 0) or np.any(dist <= 0):
            continue
        slopes = np.diff(np.log(df)) / np.diff(np.log(dist))
        alpha = float(slopes[0])
        if abs(slopes[1] - slopes[0]) > 0.03 or not 0.05 < alpha < 0.97:
            continue
        for k in range(2, MAX_POWER + 1):
            j = round(alpha * k)
            if j >= 2 and abs(alpha * k - j) < 0.03 * k:
                return end, k, alpha
    return None
