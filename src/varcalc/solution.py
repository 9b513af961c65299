"""``Solution``: what a solve returns — numpy arrays, status with a message, stats, I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .newton import Status

__all__ = ["Solution", "load"]


@dataclass(eq=False)
class Solution:
    """The computed extremal and how it was found.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Grid nodes.
    f : ndarray, shape (n,) or (n, m)
        The extremal at the nodes (``(n, m)`` for a vector unknown).
    value : float
        ``J_h`` at the solution.
    converged : bool
        True only when Newton met its tolerance with finite values.
    status : Status
        Outcome; ``message`` explains it with a likely cause and a remedy.
    iterations : int
        Newton steps taken.
    history : ndarray, shape (iterations + 1,)
        Pointwise Euler–Lagrange residual ``max_i |∂J_h/∂U_i| / (lumped mass)_i`` at each iterate.
    stats : dict of ndarray
        Per-iterate ``value``, ``step`` (‖du‖∞), ``alpha`` (line-search step), ``shift`` (diagonal
        shift τ used; 0 = pure Newton), ``decrement`` (Newton decrement λ²), ``negative`` (negative
        eigenvalues of the Hessian there), and ``time`` (seconds, compile included on a first call).
    guess : ndarray
        Initial nodal values, same shape as ``f``.
    quadrature : dict
        Rule name -> number of cells using it.
    singular_ends : tuple of str
        Ends treated as singular.

    Calling ``sol(xq)`` interpolates the (piecewise-linear) extremal.
    """

    x: np.ndarray
    f: np.ndarray
    value: float
    converged: bool
    status: Status
    message: str
    iterations: int
    history: np.ndarray
    stats: dict = field(repr=False)
    guess: np.ndarray = field(repr=False)
    quadrature: dict = field(repr=False, default_factory=dict)
    singular_ends: tuple = ()
    problem: object = field(repr=False, default=None)

    @classmethod
    def _from_newton(cls, problem, disc, out, elapsed):
        k = int(out["k"])
        status = Status(int(out["status"]))
        U = np.asarray(out["U"]).T  # (n, m)
        value = float(out["J"])
        finite = np.all(np.isfinite(U)) and np.isfinite(value)
        converged = status == Status.SUCCESS and finite
        if status == Status.SUCCESS and not finite:  # never report success with NaNs
            status = Status.NONFINITE
        message = status.message
        if status == Status.MAX_ITERATIONS:
            message = message.replace("max_iter", f"max_iter = {k}")
        stats = {name: np.asarray(out[name][: k + 1]) for name in
                 ("value", "step", "alpha", "shift", "decrement", "negative")}
        stats["time"] = elapsed
        vec = problem.is_vector
        return cls(
            x=np.asarray(disc.x), f=U if vec else U[:, 0], value=value, converged=bool(converged),
            status=status, message=message, iterations=k,
            history=np.asarray(out["residual"][: k + 1]), stats=stats,
            guess=disc.U0 if vec else disc.U0[:, 0], quadrature=disc.quadrature_summary(),
            singular_ends=disc.singular_ends, problem=problem,
        )

    # -- use ---------------------------------------------------------------------------------
    def __call__(self, xq):
        """The piecewise-linear extremal at ``xq`` (scalar or array), shape ``xq.shape (+ (m,))``."""
        xq_arr = np.asarray(xq, dtype=np.float64)
        a, b = self.x[0], self.x[-1]
        tol = 1e-12 * (b - a)
        if np.any(xq_arr < a - tol) or np.any(xq_arr > b + tol) or not np.all(np.isfinite(xq_arr)):
            raise ValueError(f"xq: expected points inside the domain [{a}, {b}]")
        if self.f.ndim == 1:
            return np.interp(xq_arr, self.x, self.f)
        return np.stack([np.interp(xq_arr, self.x, self.f[:, j]) for j in range(self.f.shape[1])], axis=-1)

    @property
    def success(self) -> bool:
        """Alias of ``converged`` (SciPy's name)."""
        return self.converged

    def error(self, exact=None) -> float:
        """Max nodal error ``max_i |f_i - f*(x_i)|`` against ``exact`` (default: the problem's)."""
        exact = exact if exact is not None else getattr(self.problem, "exact", None)
        if exact is None:
            raise ValueError("exact: this problem has no exact solution; pass exact=callable")
        ref = np.asarray(exact(self.x), dtype=np.float64).reshape(self.f.shape)
        return float(np.max(np.abs(self.f - ref)))

    def value_error(self, exact_value=None) -> float:
        """``|J_h - J*|`` against ``exact_value`` (default: the problem's)."""
        ev = exact_value if exact_value is not None else getattr(self.problem, "exact_value", None)
        if ev is None:
            raise ValueError("exact_value: this problem has no exact value; pass exact_value=...")
        return abs(self.value - float(ev))

    def table(self) -> str:
        """The Newton iterations as a text table."""
        s = self.stats
        lines = [f"{'iter':>4}  {'J':>22}  {'EL residual':>11}  {'|du|':>9}  {'step':>8}  {'shift':>8}  {'neg':>3}"]
        for k in range(self.iterations + 1):
            lines.append(
                f"{k:4d}  {s['value'][k]:22.15e}  {self.history[k]:11.3e}  {s['step'][k]:9.2e}  "
                f"{s['alpha'][k]:8.2e}  {s['shift'][k]:8.1e}  {int(s['negative'][k]):3d}"
            )
        lines.append(f"{self.status.name}: {self.message}")
        return "\n".join(lines)

    def plot(self, path=None, *, exact=None, ax=None, show_guess=True, invert_yaxis=False, labels=None):
        """Plot the extremal (with the exact solution and guess when known) and the Newton history.

        Parameters
        ----------
        path : str or Path, optional
            Save the figure there (PNG by extension).
        exact : callable, optional
            Exact extremal; default the problem's ``exact``.
        ax : pair of matplotlib Axes, optional
            Draw into these (extremal, history) instead of a new figure.
        invert_yaxis : bool
            Draw f increasing downward (e.g. depth in the brachistochrone).
        labels : sequence of str, optional
            Names of the components of f (e.g. ``("θ", "φ")``).  A vector unknown with two
            components also gets a panel with the curve in the plane of its components.

        Returns
        -------
        matplotlib.figure.Figure — never calls ``show()``.
        """
        from .plot import plot_solution

        return plot_solution(self, path=path, exact=exact, ax=ax, show_guess=show_guess,
                             invert_yaxis=invert_yaxis, labels=labels)

    # -- I/O ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-serialisable summary (arrays as lists)."""
        d = {
            "name": getattr(self.problem, "name", None),
            "x": self.x.tolist(), "f": self.f.tolist(), "value": self.value,
            "converged": self.converged, "status": self.status.name, "message": self.message,
            "iterations": self.iterations, "history": self.history.tolist(),
            "quadrature": self.quadrature, "singular_ends": list(self.singular_ends),
            "time": self.stats.get("time"),
        }
        if getattr(self.problem, "exact", None) is not None:
            d["max_nodal_error"] = self.error()
        if getattr(self.problem, "exact_value", None) is not None:
            d["exact_value"] = self.problem.exact_value
            d["value_error"] = self.value_error()
        return d

    def save(self, path) -> None:
        """Save to ``.npz`` (arrays and a JSON header); reload with :func:`varcalc.load`."""
        meta = {k: v for k, v in self.to_dict().items() if k not in ("x", "f", "history")}
        arrays = {f"stats_{k}": v for k, v in self.stats.items() if isinstance(v, np.ndarray)}
        np.savez(path, x=self.x, f=self.f, history=self.history, guess=self.guess,
                 meta=np.array(json.dumps(meta)), **arrays)

    def __repr__(self) -> str:
        shape = self.f.shape
        return (f"Solution(converged={self.converged}, status={self.status.name}, value={self.value!r}, "
                f"iterations={self.iterations}, n={self.x.size}, f.shape={shape})")


def load(path) -> Solution:
    """Load a :class:`Solution` written by :meth:`Solution.save` (without its problem)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        stats = {k[6:]: data[k] for k in data.files if k.startswith("stats_")}
        stats["time"] = meta.get("time")
        return Solution(
            x=data["x"], f=data["f"], value=meta["value"], converged=meta["converged"],
            status=Status[meta["status"]], message=meta["message"], iterations=meta["iterations"],
            history=data["history"], stats=stats, guess=data["guess"],
            quadrature=meta["quadrature"], singular_ends=tuple(meta["singular_ends"]),
        )
