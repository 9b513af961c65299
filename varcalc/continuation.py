"""Continuation: follow a family of problems along a parameter path, warm-starting each solve.

``vc.continuation(problem, path, n=...)`` solves the members ``p(t)``, ``t`` from 0 to 1, of a
parametrised problem (``G(f, f', x, p)``), each from a predictor built from the previous solutions
(the last one, or the secant through the last two), with one compiled solver for the whole path
(same grid, same parameter structure: :func:`varcalc.solve` does not recompile).  When a solve
fails the step is halved; when the steps fall below ``tol`` the branch is reported lost between
the last converged member and the first failed one — at a fold (turning point) of the branch,
such as the Goldschmidt limit of the catenoid, that bracket locates the fold.  The smallest
eigenvalue of the second variation (``sol.certificate.smallest_eigenvalue``), reported per step,
goes to zero there (like the square root of the distance to the fold).

>>> import numpy as np, varcalc as vc
>>> from varcalc.problems import parametric_catenoid as pc
>>> res = vc.continuation(pc.problem, {"R": (1.0, 0.7)}, n=41, steps=6, tol=1e-2, certificate=False)
>>> res.lost, 0.75 < res.fold[1] < res.fold[0] < 0.76   # (last converged, first failed): R* = 0.7544
(True, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # imported on first use at run time (import cost, cycles)
    from .bifurcation import Diagram
    from .newton import Newton
    from .problem import Problem
    from .solution import Solution

__all__ = ["continuation", "Continuation", "plot_continuation"]

_PREDICTORS = ("secant", "previous")


@dataclass(eq=False)
class Continuation:
    """What :func:`continuation` returns: every attempted member of the family, in order.

    Attributes
    ----------
    t : ndarray, shape (k,)
        Path coordinate of each attempt (in [0, 1]).
    parameter : ndarray, shape (k,)
        The plotted parameter of each attempt: the first key's value for a dict path, else ``t``.
    params : list of pytree
        The parameters of each attempt.
    converged : ndarray of bool, shape (k,)
    value : ndarray, shape (k,)
        ``J_h`` (NaN where the solve failed).
    iterations : ndarray of int, shape (k,)
        Newton iterations of each attempt.
    smallest_eigenvalue : ndarray, shape (k,)
        Smallest eigenvalue of the second variation at each converged member (NaN where failed or
        with ``certificate=False``): it tends to zero at a fold.
    solutions : list of Solution
        The converged members, in order of ``t`` (``solution`` is the last).
    lost : bool
        True when the branch could not be followed to ``t = 1``.
    t_lost : (float, float) or None
        ``(t_last_converged, t_first_failed)`` bracketing where the branch was lost, to ``tol``.
    fold : (float, float) or None
        The same bracket in ``parameter``.
    last_converged, first_failed : pytree or None
        The parameters at the two ends of the bracket.
    message : str
    """

    t: np.ndarray
    parameter: np.ndarray
    params: list
    converged: np.ndarray
    value: np.ndarray
    iterations: np.ndarray
    smallest_eigenvalue: np.ndarray
    solutions: list = field(repr=False)
    lost: bool = False
    t_lost: tuple | None = None
    fold: tuple | None = None
    last_converged: object = None
    first_failed: object = None
    message: str = ""
    parameter_name: str = "t"

    @property
    def solution(self) -> Solution | None:
        """The last converged member (None if none converged)."""
        return self.solutions[-1] if self.solutions else None

    @property
    def branch(self) -> np.ndarray:
        """Indices of the converged attempts, in increasing ``t``."""
        idx = np.flatnonzero(self.converged)
        return idx[np.argsort(self.t[idx], kind="stable")]

    def plot(self, path: str | os.PathLike | None = None, **kwargs: Any) -> Any:
        """:func:`plot_continuation` of this result."""
        return plot_continuation(self, path, **kwargs)


def _path_function(problem, path):
    """``(t -> params, t -> plotted parameter, its name)`` from a callable or a dict of ranges."""
    if callable(path):
        return path, (lambda t: t), "t"
    if isinstance(path, Mapping):
        base = problem.params
        if not isinstance(base, Mapping):
            raise ValueError(
                "path: a dict of ranges {key: (start, stop)} needs problem.params to be a dict, "
                f"got {type(base).__name__}; pass a callable t -> params instead"
            )
        if not path:
            raise ValueError("path: expected at least one key {key: (start, stop)}")
        ranges = {}
        for key, rng in path.items():
            if key not in base:
                raise ValueError(f"path: key {key!r} is not a parameter of the problem (it has {sorted(base)})")
            try:
                start, stop = (float(v) for v in rng)
            except (TypeError, ValueError):
                raise ValueError(f"path[{key!r}]: expected a pair (start, stop) of numbers, got {rng!r}") from None
            if not (np.isfinite(start) and np.isfinite(stop)):
                raise ValueError(f"path[{key!r}]: expected finite (start, stop), got {rng!r}")
            ranges[key] = (start, stop)
        first = next(iter(ranges))

        def params_at(t):
            return {**base, **{k: a + t * (b - a) for k, (a, b) in ranges.items()}}

        a0, b0 = ranges[first]
        return params_at, (lambda t: a0 + t * (b0 - a0)), str(first)
    raise TypeError(
        f"path: expected a callable t -> params (t in [0, 1]) or a dict {{key: (start, stop)}}, "
        f"got {type(path).__name__}"
    )


def continuation(
    problem: Problem,
    path: Callable[[float], Any] | Mapping[str, tuple[float, float]],
    *,
    n: int | None = None,
    grid: ArrayLike | None = None,
    steps: int = 20,
    tol: float = 1e-3,
    predictor: Literal["secant", "previous"] = "secant",
    guess: Callable[..., Any] | ArrayLike | None = None,
    solver: Newton | None = None,
    mode: Literal["minimize", "maximize", "stationary"] = "minimize",
    certificate: bool = True,
    max_solves: int = 200,
    verbose: bool = False,
    degree: int = 1,
    method: Literal["natural", "arclength"] = "natural",
    ds: float | None = None,
    max_steps: int = 400,
    max_branches: int = 6,
    deflate: bool = True,
    progress: bool | Callable[..., Any] = False,
) -> Continuation | Diagram:
    """Follow the extremal of ``problem`` along the parameter path ``p(t)``, ``t`` from 0 to 1.

    Parameters
    ----------
    problem : Problem
        A problem with ``params`` (integrand ``G(f, f', x, p)``).
    path : callable or dict
        ``t -> params`` (a pytree of the structure and shapes of ``problem.params``), or
        ``{key: (start, stop)}`` moving those entries of a dict ``problem.params`` linearly.
    n, grid :
        The grid, as in :func:`varcalc.solve` (the same for every member: one compilation).
    steps : int
        Nominal number of equal steps in ``t``; a failed step is halved, a successful one after a
        halving is doubled again (up to the nominal step).
    tol : float
        Stop halving when the bracket ``[t_last_converged, t_first_failed]`` is shorter than
        ``tol`` times the parameter range (i.e. ``tol`` in ``t``): the branch is then reported lost.
    predictor : {"secant", "previous"}
        Initial guess of each solve: the linear extrapolation through the last two converged
        members (first-order predictor), or the last member itself.
    guess : optional
        Initial guess of the first member (as in :func:`varcalc.solve`).
    solver, mode :
        Passed to :func:`varcalc.solve`.
    certificate : bool
        Compute the smallest eigenvalue of the second variation at each converged member.
    max_solves : int
        Safety limit on the number of solves.
    verbose : bool
        Print one line per attempt.
    degree : int
        Polynomial degree of the elements, as in :func:`varcalc.solve` (the secant predictor then
        extrapolates the element polynomials, not only the nodes).
    method : {"natural", "arclength"}
        ``"natural"`` (the default): steps in ``t``, the branch is lost at a fold (this function's
        :class:`Continuation`).  ``"arclength"``: pseudo-arclength continuation in ``(f, t)``
        around folds, with folds and branch points detected from the inertia, branch switching and
        deflation for further branches: a :class:`varcalc.bifurcation.Diagram` (see
        :mod:`varcalc.bifurcation`; ``steps``, ``tol``, ``predictor``, ``solver``, ``mode``,
        ``certificate``, ``max_solves``, ``verbose`` do not apply to it).
    ds, max_steps, max_branches, deflate :
        ``method="arclength"`` only: the initial arclength step (default ``1/steps``, in units of
        ``t`` and the discrete L² norm of ``f``), the steps per branch, the branches followed, and
        whether further extremals at ``t = 0`` are sought by deflation.
    progress : bool
        Show a progress bar (terminal or Jupyter, see :mod:`varcalc.progress`).

    Returns
    -------
    Continuation
        Per-attempt ``t``, ``params``, ``converged``, ``value``, ``smallest_eigenvalue``; the
        converged ``solutions``; and, when the branch is lost, the bracket ``t_lost`` / ``fold``
        with ``last_converged`` and ``first_failed`` parameters.  Near a fold the bracket is the
        discrete fold of the grid, O(h²) from the continuous one.

    Examples
    --------
    >>> import numpy as np, varcalc as vc
    >>> from varcalc.problems import parametric_catenoid as pc
    >>> res = vc.continuation(pc.problem, {"R": (1.0, 0.9)}, n=41, steps=2, certificate=False)
    >>> res.lost, bool(np.all(res.converged)), res.parameter.tolist()
    (False, True, [1.0, 0.95, 0.9])
    """
    from .problem import Problem
    from .solve import solve

    if not isinstance(problem, Problem):
        raise TypeError(f"problem: expected a vc.Problem, got {type(problem).__name__}")
    if problem.params is None:
        raise ValueError("problem: continuation needs a problem with params (integrand G(f, f', x, p))")
    params_at, parameter_at, name = _path_function(problem, path)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol: expected a number in (0, 1) (a fraction of the path), got {tol!r}")
    if predictor not in _PREDICTORS:
        raise ValueError(f"predictor: expected one of {_PREDICTORS}, got {predictor!r}")
    if isinstance(max_solves, bool) or not isinstance(max_solves, (int, np.integer)) or max_solves < 2:
        raise ValueError(f"max_solves: expected an integer >= 2, got {max_solves!r}")
    if method not in ("natural", "arclength"):
        raise ValueError(f"method: expected 'natural' or 'arclength', got {method!r}")
    if method == "arclength":
        from .bifurcation import arclength

        ds = 1.0 / steps if ds is None else ds
        if not (isinstance(ds, (int, float)) and 0 < ds < 1):
            raise ValueError(f"ds: expected a number in (0, 1) (a step in t), got {ds!r}")
        for key, v in (("max_steps", max_steps), ("max_branches", max_branches)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{key}: expected a positive integer, got {v!r}")
        return arclength(
            problem,
            params_at,
            parameter_at,
            name,
            n=n,
            grid=grid,
            degree=degree,
            guess=guess,
            ds=ds,
            max_steps=max_steps,
            max_branches=max_branches,
            deflate=bool(deflate),
            progress=progress,
        )
    from .progress import bar

    progress_bar = bar(max_solves, "continuation", progress)

    rec = {"t": [], "params": [], "converged": [], "value": [], "iterations": [], "eig": []}
    solutions, branch = [], []  # branch: (t, f) of converged members for the predictor

    def attempt(t, start):
        p = params_at(t)
        try:
            sol = solve(problem, n, grid=grid, guess=start, solver=solver, params=p, mode=mode, degree=degree)
        except ValueError as err:
            if not branch:  # the first member: bad input (grid, guess, params), not a lost branch
                raise
            # e.g. the predictor left the integrand's domain (non-finite G at the guess)
            for k, v in (
                ("t", t),
                ("params", p),
                ("converged", False),
                ("value", np.nan),
                ("iterations", 0),
                ("eig", np.nan),
            ):
                rec[k].append(v)
            if verbose:
                print(f"t = {t:.6f}  {name} = {parameter_at(t):.8g}  rejected: {err}")
            return False
        eig = np.nan
        if sol.converged and certificate:
            eig = float(sol.certificate.smallest_eigenvalue)
        for k, v in (
            ("t", t),
            ("params", p),
            ("converged", sol.converged),
            ("value", sol.value if sol.converged else np.nan),
            ("iterations", sol.iterations),
            ("eig", eig),
        ):
            rec[k].append(v)
        progress_bar.update(1)
        progress_bar.note(f"{name} = {parameter_at(t):.6g}")
        if verbose:
            print(
                f"t = {t:.6f}  {name} = {parameter_at(t):.8g}  converged = {sol.converged}  "
                f"iterations = {sol.iterations}  J = {sol.value:.10g}  λ_min = {eig:.4g}"
            )
        if sol.converged:
            solutions.append(sol)
            branch.append((t, sol))
        return sol.converged

    def predict(t):
        # Node values for degree 1; for degree > 1 a function, so that the guess between the nodes
        # (the element interiors) is predicted too: sol(x) evaluates the element polynomials.
        values = (lambda s: np.asarray(s.f)) if degree == 1 else (lambda s: s)
        t1, s1 = branch[-1]
        if predictor == "secant" and len(branch) >= 2:
            t0, s0 = branch[-2]
            r = (t - t1) / (t1 - t0)
            if degree == 1:
                return values(s1) + r * (values(s1) - values(s0))
            return lambda x: s1(x) + r * (s1(x) - s0(x))
        return values(s1)

    t, h_nominal = 0.0, 1.0 / steps
    h, t_fail, lost = h_nominal, None, False
    with progress_bar:
        if not attempt(0.0, guess):
            lost = True
            t_fail = 0.0
        while not lost and t < 1.0 and len(rec["t"]) < max_solves:
            t_next = t + h
            if t_next >= 1.0 - 1e-9 * h_nominal:  # land on the end exactly (no sliver step from round-off)
                t_next = 1.0
            if t_fail is not None and t_next >= t_fail:
                t_next = 0.5 * (t + t_fail)
            if attempt(t_next, predict(t_next)):
                t = t_next
                if t_fail is None:
                    h = min(2.0 * h, h_nominal)
                elif t_fail - t <= tol:
                    # Bracket closed: retry the failed member from this (much closer) solution once, so
                    # that a step that was merely too long is not mistaken for the end of the branch.
                    if attempt(t_fail, predict(t_fail)):
                        t, t_fail, h = t_fail, None, h_nominal / 4
                    else:
                        lost = True
            else:
                t_fail = t_next if t_fail is None else min(t_fail, t_next)
                h = 0.5 * (t_next - t)
                if t_fail - t <= tol:
                    lost = True
    if not lost and t < 1.0:
        lost = True
        t_fail = t_fail if t_fail is not None else min(t + h, 1.0)
        message = f"stopped after max_solves = {max_solves} solves at t = {t:.6g} ({name} = {parameter_at(t):.8g})"
    elif lost and not solutions:
        message = (
            f"the first member ({name} = {parameter_at(0.0):.8g}) did not converge: give a better "
            "guess= or start the path at an easier member"
        )
    elif lost:
        message = (
            f"branch lost between {name} = {parameter_at(t):.10g} (last converged) and "
            f"{parameter_at(t_fail):.10g} (first failed), |Δt| = {t_fail - t:.3g}: a fold (turning "
            "point) if the smallest eigenvalue of the second variation tends to zero there; "
            'method="arclength" follows the branch around it'
        )
    else:
        message = f"followed the branch to the end of the path ({name} = {parameter_at(1.0):.10g})"

    t_arr = np.asarray(rec["t"], dtype=np.float64)
    last_ok = t if solutions else None
    return Continuation(
        t=t_arr,
        parameter=np.asarray([parameter_at(v) for v in rec["t"]], dtype=np.float64),
        params=rec["params"],
        converged=np.asarray(rec["converged"], dtype=bool),
        value=np.asarray(rec["value"], dtype=np.float64),
        iterations=np.asarray(rec["iterations"], dtype=int),
        smallest_eigenvalue=np.asarray(rec["eig"], dtype=np.float64),
        solutions=solutions,
        lost=lost,
        t_lost=(last_ok, t_fail) if lost else None,
        fold=((parameter_at(last_ok) if last_ok is not None else None), parameter_at(t_fail)) if lost else None,
        last_converged=params_at(last_ok) if (lost and last_ok is not None) else None,
        first_failed=params_at(t_fail) if lost else None,
        message=message,
        parameter_name=name,
    )


def plot_continuation(
    result: Continuation,
    path: str | os.PathLike | None = None,
    *,
    exact_value: Callable | None = None,
    axes: Any = None,
) -> Any:
    """Two panels against the path parameter: ``J_h`` along the branch (failed attempts marked), and
    the smallest eigenvalue of the second variation (→ 0 at a fold); the bracket where the branch
    was lost is shaded.  ``exact_value``: optional ``params -> J`` drawn for comparison.  Returns
    the Axes; saves to ``path`` when given.

    >>> import varcalc as vc
    >>> from varcalc.problems import parametric_catenoid as pc
    >>> res = vc.continuation(pc.problem, {"R": (1.0, 0.9)}, n=41, steps=2, certificate=False)
    >>> len(vc.plot_continuation(res))
    2
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, Continuation):
        raise TypeError(f"result: expected a vc.Continuation, got {type(result).__name__}")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    ax_v, ax_e = axes
    fig = ax_v.figure
    b, name = result.branch, result.parameter_name
    ax_v.plot(result.parameter[b], result.value[b], "o-", ms=3, lw=1, label="converged")
    failed = ~result.converged
    if np.any(failed):  # along the bottom edge: a failed solve has no value to show
        for ax in axes:
            ax.plot(
                result.parameter[failed],
                np.full(np.sum(failed), 0.03),
                "rx",
                transform=ax.get_xaxis_transform(),
                label="failed",
            )
    if exact_value is not None and b.size:
        ax_v.plot(result.parameter[b], [exact_value(result.params[i]) for i in b], "k--", lw=0.8, label="exact")
    ax_v.set(xlabel=name, ylabel="J", title="value along the branch")
    eig = result.smallest_eigenvalue[b]
    ok = np.isfinite(eig)
    ax_e.plot(result.parameter[b][ok], eig[ok], "o-", ms=3, lw=1, label="λ_min of δ²J")
    ax_e.axhline(0.0, color="k", lw=0.5)
    ax_e.set(xlabel=name, ylabel="λ_min", title="smallest eigenvalue of the second variation")
    if result.lost and result.fold[0] is not None:
        for ax in axes:
            ax.axvspan(
                min(result.fold),
                max(result.fold),
                color="orange",
                alpha=0.3,
                label=f"branch lost in [{min(result.fold):.6g}, {max(result.fold):.6g}]",
            )
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=110)
    return axes
