"""Bifurcation diagrams: pseudo-arclength continuation around folds, branch points, deflation.

``vc.continuation(problem, path, method="arclength", n=...)`` follows the discrete extremals
``g(U, t) = ∇J_h(U; p(t)) = 0`` as curves in ``(U, t)`` (Keller's pseudo-arclength method), so a
branch is followed through a fold (turning point) where the natural-parameter method of
:mod:`varcalc.continuation` loses it.  Each step: a predictor along the unit tangent
``τ = (U̇, ṫ)``, ``‖U̇‖²_M + ṫ² = 1`` (M: the lumped mass, the discrete L² norm), and Newton on the
bordered system

    [ H      g_t ] [dU]     [ g                                ]
    [ U̇ᵀM    ṫ   ] [dt] = - [ (U - U_pred)ᵀ M U̇ + ṫ (t - t_pred) ]

solved by block elimination with one factorisation of the block-tridiagonal ``H`` and two
right-hand sides (``H a = -g``, ``H b = -g_t``): O(N), no dense N×N.  ``g_t`` is a central
difference in ``t`` (two evaluations of the compiled kernel, nothing new compiled; its O(ε²)
error only perturbs the Jacobian, not the residual, so the converged points are exact).

Inertia: the LDLᵀ pivots of ``H`` count the negative eigenvalues of the second variation
(Sylvester) at every point: 0 on stable stretches (drawn solid), ≥ 1 on unstable ones (dashed).
Where the count changes between two points, the branch passes a singular point: a **fold** if
``ṫ`` changes sign there too (the branch turns back), else a **branch point** (another branch
crosses).  A fold is located by regula falsi on ``ṫ``, a branch point by bisection in the
arclength.  At a branch point the null vector ``φ`` of ``H`` (inverse iteration) gives the new
branch's direction, which is followed both ways (branch switching).  Branches that meet none of
these (disconnected ones) are found by deflation (:func:`varcalc.solve_all`'s operator) at both
ends of the path — at ``t = 1`` with the followed branches' ends deflated — and each is followed
in turn (a simple form of deflated continuation, Farrell, Beentjes & Birkisson 2016, which
deflates at every step; an isola that exists at neither end is not found).  Integral constraints
are followed with their multipliers (the Hessian bordered by their columns; the count of negatives
is then that of the second variation on the constraints' tangent space).  A step that jumps
two singular points at once (the count changes back) sees neither: ``ds`` bounds that.

>>> import jax.numpy as jnp, varcalc as vc
>>> bratu = vc.Problem(lambda f, df, x, p: 0.5 * df**2 - p["lam"] * jnp.exp(f), (0.0, 1.0),
...                    bc={"left": 0.0, "right": 0.0}, params={"lam": 1.0})
>>> d = vc.continuation(bratu, {"lam": (1.0, 4.0)}, method="arclength", n=101)
>>> len(d.folds), round(d.folds[0].parameter, 3)          # λ* = 3.51383 (+ O(h²): 5e-4 here)
(1, 3.514)
>>> d.branches[0].negatives[[0, -1]].tolist()             # from the minimum round to the saddle
[0, 1]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from ._entry import entry
from .linalg import host_solve_nodes_last
from .newton import lumped_mass, restrict
from .progress import bar

__all__ = ["Diagram", "Branch", "SpecialPoint", "arclength", "plot_diagram"]


@dataclass(eq=False)
class Branch:
    """One followed branch: its points in order of arclength.

    ``t`` (k,), ``parameter`` (k,), ``value`` (k,) (``J_h``), ``negatives`` (k,) (negative
    eigenvalues of the second variation: 0 = stable), ``f`` (k, n) + shape (the extremals' node
    values on ``x`` (n,)), ``origin`` (how it was found: ``"start"``, ``"deflation"``, or the
    branch point it leaves, e.g. ``"branch point at P = 2.4675"``), ``message`` (why it ended)."""

    t: np.ndarray
    parameter: np.ndarray
    value: np.ndarray
    negatives: np.ndarray
    f: np.ndarray = field(repr=False)
    x: np.ndarray = field(repr=False)
    origin: str = "start"
    message: str = ""
    _U: np.ndarray = field(repr=False, default=None)  # all unknowns (slopes, element interiors too)

    @property
    def stable(self) -> np.ndarray:
        """True where the extremal is a strict local minimum (no negative direction)."""
        return self.negatives == 0

    def measure(self, fun) -> np.ndarray:
        """``fun(x, f)`` at each point of the branch, shape (k,)."""
        return np.array([float(fun(self.x, fi)) for fi in self.f])


@dataclass(frozen=True)
class SpecialPoint:
    """A fold or branch point: ``kind`` (``"fold"`` / ``"branch point"``), ``parameter``, ``t``,
    ``value`` (``J_h`` there), ``branch`` (index in ``Diagram.branches``), ``f`` (node values)."""

    kind: str
    parameter: float
    t: float
    value: float
    branch: int
    f: np.ndarray = field(repr=False, compare=False)


@dataclass(eq=False)
class Diagram:
    """What ``vc.continuation(..., method="arclength")`` returns: the bifurcation diagram.

    ``branches`` (list of :class:`Branch`), ``folds`` and ``branch_points`` (lists of
    :class:`SpecialPoint`), ``parameter_name``, ``message``; ``plot()`` draws it."""

    branches: list
    folds: list
    branch_points: list
    parameter_name: str
    message: str = ""

    def count_at(self, parameter: float) -> int:
        """How many followed extremals there are at this parameter value (crossings of the branches)."""
        count = 0
        for b in self.branches:
            s = np.sign(b.parameter - parameter)
            count += int(np.sum(s[:-1] * s[1:] < 0)) + int(np.sum(s == 0))
        return count

    def summary(self) -> str:
        """One line per branch (origin, points, parameter range, negative eigenvalues, how it
        ended) and per fold / branch point."""
        name = self.parameter_name
        lines = [
            f"branch {k} ({b.origin}): {b.t.size} points, {name} from {b.parameter[0]:.6g} to "
            f"{b.parameter[-1]:.6g}, negative eigenvalues {b.negatives.min()}..{b.negatives.max()}; {b.message}"
            for k, b in enumerate(self.branches)
        ]
        lines += [
            f"{s.kind} at {name} = {s.parameter:.10g} (J = {s.value:.10g}, branch {s.branch})"
            for s in self.folds + self.branch_points
        ]
        return "\n".join(lines)

    def plot(
        self,
        path: str | os.PathLike | None = None,
        *,
        measure: Callable[..., Any] | tuple[str, Callable[..., Any]] | None = None,
        axes: Any = None,
    ) -> Any:
        """:func:`plot_diagram` of this diagram."""
        return plot_diagram(self, path, measure=measure, axes=axes)


class _System:
    """``g(X, t) = 0`` of a parametrised 1-D problem on one grid, on the host (the compiled kernel).

    The state ``X`` is flat: the nodal unknowns ``U`` (d, N) (padded to the kernel's bucket) then
    the multipliers ``z`` (k,) of Integral constraints, so the predictor–corrector arithmetic is
    plain vector arithmetic.  ``W`` weighs the discrete L² norm (the lumped mass on the free
    unknowns; zero on fixed ones and on the multipliers)."""

    def __init__(self, problem, params_at, n, grid, degree, guess, t0):
        discretize, kernel_inputs, padded_nodes = entry("discretize"), entry("kernel_inputs"), entry("padded_nodes")
        from .drivers import pad_numpy

        self.params_at = params_at
        disc = discretize(problem, n, grid=grid, guess=guess, mode="stationary", params=self.p(t0), degree=degree)
        if disc.layout.r or disc.layout.free_end:
            raise ValueError(
                "problem: arclength continuation supports Integral constraints, not pointwise "
                "constraints or free ends (yet)"
            )
        self.disc, self.nn, self.k = disc, disc.x.size, disc.layout.k
        N = padded_nodes(disc, self.nn)
        self.kernel, self.x_k, self.aux_k = kernel_inputs(disc, N)
        fixed = pad_numpy(disc.fixed, N, 1, True)
        self.shape = fixed.shape
        self.size = fixed.size
        W = np.where(fixed, 0.0, pad_numpy(lumped_mass(disc.x), N, 0, 0.0)[None, :])
        self.fixed = np.concatenate([fixed.ravel(), np.zeros(self.k, bool)])
        self.W = np.concatenate([W.ravel(), np.zeros(self.k)])
        self.U0 = np.concatenate([pad_numpy(disc.V0, N, 1).ravel(), np.asarray(disc.z0, dtype=np.float64)])
        self.m = disc.layout.m

    def p(self, t):
        # numpy float64 leaves: the kernel is compiled once for strongly typed parameters
        # (integer leaves, e.g. a count, stay as they are)
        as_float = lambda v: np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f" else v
        return jax.tree.map(as_float, self.params_at(float(t)))

    def split(self, X):
        return X[: self.size].reshape(self.shape), X[self.size :]

    def derivatives(self, X, t):
        U, z = self.split(X)
        D = jax.device_get(self.kernel.derivatives(U, z, self.x_k, dict(self.aux_k, p=self.p(t))))
        g = np.concatenate([np.asarray(D["g"]).ravel(), np.asarray(D["gz"]) if self.k else np.zeros(0)])
        return D, np.where(self.fixed, 0.0, g)

    def g_t(self, X, t, eps=1e-6):
        """∂g/∂t by a central difference (error O(eps²): only the Newton matrix sees it)."""
        return (self.derivatives(X, t + eps)[1] - self.derivatives(X, t - eps)[1]) / (2 * eps)

    def solve(self, D, rhs):
        """``K⁻¹ rhs`` (rhs (n, r), flat rows) and the count of negative eigenvalues of the second
        variation (on the constraints' tangent space).  ``K`` is the Hessian, bordered by the
        multipliers' columns ``B`` and block ``C`` when there are constraints: one factorisation of
        the block-tridiagonal part for all columns ``[rhs | B]``, then the k × k Schur complement
        ``S = C - Bᵀ H⁻¹ B`` (Haynsworth: negatives of K = those of H and of S; k of them are the
        multipliers')."""
        fixed = self.fixed[: self.size].reshape(self.shape)
        diag, upper = restrict(np.asarray(D["diag"]), np.asarray(D["upper"]), fixed, np)
        r = rhs.shape[1]
        R = rhs[: self.size].reshape(self.shape + (r,))
        if not self.k:
            X, negatives, min_pivot = host_solve_nodes_last(diag, upper, R)
            return X.reshape(self.size, r), negatives, min_pivot
        B = np.where(fixed[:, :, None], 0.0, np.asarray(D["B"]))
        Y, negatives, min_pivot = host_solve_nodes_last(diag, upper, np.concatenate([R, B], axis=-1))
        YR, YB = Y[..., :r], Y[..., r:]
        S = np.asarray(D["C"]) - np.einsum("dnk,dnl->kl", B, YB)
        S = 0.5 * (S + S.T)
        with np.errstate(all="ignore"):
            z = (
                np.linalg.solve(S, rhs[self.size :] - np.einsum("dnk,dnr->kr", B, YR))
                if np.all(np.isfinite(S))
                else np.full((self.k, r), np.nan)
            )
        V = YR - np.einsum("dnk,kr->dnr", YB, z)
        negatives = negatives + int(np.sum(np.linalg.eigvalsh(S) < 0)) - self.k if np.all(np.isfinite(S)) else negatives
        return np.concatenate([V.reshape(self.size, r), z]), negatives, min_pivot

    def dot(self, a, b):
        return float(np.sum(self.W * a * b))

    def nodal(self, X):
        U = self.split(X)[0]
        return np.asarray(U[: self.m, : self.nn]).T.reshape((self.nn,) + self.disc.problem.shape)


@dataclass
class _Point:
    U: np.ndarray
    t: float
    value: float
    negatives: int
    tangent: tuple  # (U̇, ṫ), unit, oriented along the branch


def _correct(sys, U, t, direction, anchor, max_iter=15):
    """Newton on ``[g(U, t); ⟨U - U_a, U̇⟩_M + ṫ (t - t_a)] = 0`` (the hyperplane through
    ``anchor = (U_a, t_a)`` normal to ``direction = (U̇, ṫ)``); returns ``(U, t, iterations)`` or None."""
    Ud, td = direction
    Ua, ta = anchor
    for it in range(1, max_iter + 1):
        D, g = sys.derivatives(U, t)
        r = sys.dot(U - Ua, Ud) + td * (t - ta)
        X, _, _ = sys.solve(D, np.stack([-g, -sys.g_t(U, t)], axis=-1))
        a, b = X[..., 0], X[..., 1]
        denominator = sys.dot(Ud, b) + td
        if not (np.all(np.isfinite(X)) and np.isfinite(denominator)) or denominator == 0.0:
            return None
        dt = (-r - sys.dot(Ud, a)) / denominator
        dU = a + b * dt
        U, t = U + dU, t + dt
        if not (np.all(np.isfinite(U)) and np.isfinite(t)):
            return None
        if np.max(np.abs(dU)) <= 1e-12 + 1e-10 * np.max(np.abs(U)) and abs(dt) <= 1e-12:
            return U, t, it
    return None


def _point(sys, U, t, previous_tangent):
    """The converged point with its value, inertia and unit tangent (oriented as ``previous_tangent``)."""
    D, _ = sys.derivatives(U, t)
    X, negatives, _ = sys.solve(D, -sys.g_t(U, t)[..., None])
    b = X[..., 0]
    Ud, td = previous_tangent
    # The bordered tangent system [H g_t; τ_oldᵀ] τ = [0; 1]: U̇ = b ṫ, ṫ from the border.
    dt = 1.0 / (sys.dot(Ud, b) + td)
    tangent_U, tangent_t = b * dt, dt
    norm = np.sqrt(sys.dot(tangent_U, tangent_U) + tangent_t**2)
    return _Point(U, float(t), float(D["L"]), int(negatives), (tangent_U / norm, tangent_t / norm))


def _null_vector(sys, U, t, iterations=6):
    """Inverse iteration for the eigenvector of ``H`` nearest zero (M-normalised), at a branch point."""
    D, _ = sys.derivatives(U, t)
    v = np.where(sys.fixed | (sys.W == 0), 0.0, 1.0 + 0.1 * np.cos(np.arange(U.size)))
    for _ in range(iterations):
        X, _, _ = sys.solve(D, (sys.W * v)[..., None])
        v = np.where(sys.fixed, 0.0, X[..., 0])
        v = v / np.sqrt(sys.dot(v, v))
    return v


def _distance(sys, a, b):
    """Discrete L² distance relative to 1 + ‖b‖ (relative for large f; absolute near f = 0, where
    a relative one would call 1e-100 and 0 distinct)."""
    return np.sqrt(sys.dot(a - b, a - b)) / (1.0 + np.sqrt(sys.dot(b, b)))


class _Tracer:
    def __init__(self, sys, ds, ds_min, ds_max, t_range, max_steps, bar_):
        self.sys, self.ds, self.ds_min, self.ds_max = sys, ds, ds_min, ds_max
        self.t_lo, self.t_hi = t_range
        self.max_steps, self.bar = max_steps, bar_

    def step(self, p, ds):
        """One predictor–corrector step of length ds from point p; None when the corrector fails."""
        Ud, td = p.tangent
        anchor = (p.U + ds * Ud, p.t + ds * td)
        out = _correct(self.sys, anchor[0], anchor[1], p.tangent, anchor)
        if out is None:
            return None, 0
        U, t, it = out
        return _point(self.sys, U, t, p.tangent), it

    def turn(self, p, q):
        """cos of the angle between the unit tangents at p and q."""
        return self.sys.dot(p.tangent[0], q.tangent[0]) + p.tangent[1] * q.tangent[1]

    def locate(self, p, ds, changed):
        """Bisection in the arclength from p (0) to ds for the first ``changed(point)``; the point
        there (to ds·2⁻³⁰)."""
        lo, hi, best = 0.0, ds, None
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            q, _ = self.step(p, mid)
            if q is None:
                break
            if changed(q):
                hi, best = mid, q
            else:
                lo = mid
        return best

    def fold(self, p, q, ds):
        """The fold between p (0) and q (ds), where ṫ changes sign: regula falsi (Illinois) on
        ṫ(s), smooth through the fold, to |Δt| < 1e-12 (a few correctors instead of bisection's 30)."""
        lo, hi, f_lo, f_hi, best, side = 0.0, ds, p.tangent[1], q.tangent[1], q, 0
        for _ in range(30):
            s = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
            r, _ = self.step(p, s)
            if r is None:
                sign = np.sign(p.tangent[1])
                return self.locate(p, ds, lambda r: np.sign(r.tangent[1]) != sign)
            converged = abs(r.t - best.t) < 1e-12
            best = r
            if converged or r.tangent[1] == 0.0:
                break
            if np.sign(r.tangent[1]) == np.sign(f_lo):
                lo, f_lo = s, r.tangent[1]
                f_hi, side = (f_hi / 2, side) if side == -1 else (f_hi, -1)
            else:
                hi, f_hi = s, r.tangent[1]
                f_lo, side = (f_lo / 2, side) if side == 1 else (f_lo, 1)
        return best

    def land(self, p, t_end):
        """The point of the branch at ``t = t_end`` (the end of the path), from p."""
        Ud, td = p.tangent
        guess = p.U + Ud * (t_end - p.t) / td if td != 0 else p.U
        out = _correct(self.sys, guess, t_end, (np.zeros_like(p.U), 1.0), (p.U, t_end))
        return None if out is None else _point(self.sys, out[0], out[1], p.tangent)

    def follow(self, p):
        """Points from p until the path's end, the step limit, or a failed corrector.  Returns
        (points, folds, branch_points (as (point, tangent before)), message)."""
        points, folds, bps = [p], [], []
        ds = self.ds
        message = f"reached the step limit ({self.max_steps})"
        for _ in range(self.max_steps):
            q, it = self.step(p, ds)
            # A corrector that lands far round the curve (the tangent turned by more than ~37°) may
            # have jumped to another branch: the step is retried shorter.
            if q is None or abs(q.t - p.t) > 0.5 * (self.t_hi - self.t_lo) or self.turn(p, q) < 0.8:
                ds *= 0.5
                if ds < self.ds_min:
                    message = f"corrector failed with the step below ds_min = {self.ds_min:g} at t = {p.t:.8g}"
                    break
                continue
            if not (self.t_lo <= q.t <= self.t_hi):
                end = self.t_hi if q.t > self.t_hi else self.t_lo
                last = self.land(p, end)
                if last is not None:
                    points.append(last)
                message = "reached the end of the path"
                break
            if q.negatives != p.negatives:
                turned = np.sign(q.tangent[1]) != np.sign(p.tangent[1])
                kind = "fold" if turned else "branch point"
                if turned:
                    special = self.fold(p, q, ds)
                else:
                    special = self.locate(p, ds, lambda r, k=p.negatives: r.negatives != k)
                if special is not None:
                    (folds if kind == "fold" else bps).append((special, p.tangent))
                    points.append(special)  # a point of the branch too (the diagram passes through it)
            points.append(q)
            p = q
            self.bar.note(f"t = {p.t:.4f}, step {len(points)}")
            ds = min(ds * 1.5, self.ds_max) if it <= 3 else (ds * 0.7 if it > 6 else ds)
        return points, folds, bps, message


def _start(sys, U, t):
    """Newton at fixed ``t`` from U; the converged nodal unknowns or None."""
    out = _correct(sys, U, t, (np.zeros_like(U), 1.0), (U, t), max_iter=50)
    return None if out is None else out[0]


def arclength(
    problem,
    path_fn,
    parameter_at,
    name,
    *,
    n=None,
    grid=None,
    degree=1,
    guess=None,
    ds=0.05,
    ds_min=1e-6,
    ds_max=None,
    max_steps=400,
    max_branches=6,
    deflate=True,
    progress=False,
):
    """Pseudo-arclength continuation over ``t ∈ [0, 1]`` (see the module docstring); the
    :class:`Diagram`.  Called by ``vc.continuation(..., method="arclength")``, which validates the
    path and documents the arguments."""
    sys = _System(problem, path_fn, n, grid, degree, guess, 0.0)
    ds_max = 2 * ds if ds_max is None else ds_max
    # one unit per branch (their number is not known in advance: the bar's end is max_branches);
    # the note follows t along the branch being traced
    with bar(max_branches, "continuation", progress) as b:
        tracer = _Tracer(sys, ds, ds_min, ds_max, (0.0, 1.0), max_steps, b)
        branches, folds, bps, messages, seen = [], [], [], [], []
        can_deflate = deflate and sys.shape[0] == sys.m  # deflation acts on nodal values only

        def trace(starts):
            """Follow each start (point, origin, the branch point it leaves or None) not on a
            followed branch yet; the starts that branch points add are followed too."""
            while starts and len(branches) < max_branches:
                p, origin, root = starts.pop(0)
                if any(_on_branch(sys, p, br) for br in branches):
                    continue
                points, fo, bp, message = tracer.follow(p)
                if root is not None:  # the branch drawn from the branch point it leaves; H is singular
                    # there (its count of negatives is the bisection side's), so it takes the branch's
                    points.insert(0, _Point(root.U, root.t, root.value, points[0].negatives, root.tangent))
                k = len(branches)
                b.update(1)
                branches.append(_branch(sys, points, parameter_at, origin, message))
                messages.append(f"branch {k} ({origin}): {len(points)} points, {message}")
                for s, _ in fo:
                    folds.append(SpecialPoint("fold", parameter_at(s.t), s.t, s.value, k, sys.nodal(s.U)))
                for s, tangent in bp:
                    if any(abs(s.t - t) < 1e-6 and _distance(sys, s.U, V) < 1e-4 for t, V in seen):
                        continue  # the same branch point seen again from another branch
                    seen.append((s.t, s.U))
                    bps.append(SpecialPoint("branch point", parameter_at(s.t), s.t, s.value, k, sys.nodal(s.U)))
                    starts.extend(_switch(sys, s, tangent, f"branch point at {name} = {parameter_at(s.t):.6g}"))

        # From the guess at t = 0, then the extremals deflation finds there, then (deflated
        # continuation) those it finds at t = 1 besides the followed branches' ends there, followed
        # backwards: a branch that exists at the end of the path but not at its start.
        U0 = _start(sys, sys.U0, 0.0)
        if U0 is None:  # plain Newton from the guess failed: the engine's globalised solve
            U0 = _engine_start(problem, sys, guess, degree)
        forward, backward = (np.zeros_like(sys.U0), 1.0), (np.zeros_like(sys.U0), -1.0)
        known = [] if U0 is None else [U0]
        starts = [] if U0 is None else [(_point(sys, U0, 0.0, forward), "start", None)]
        if can_deflate:
            starts += [
                (_point(sys, U, 0.0, forward), "deflation", None)
                for U in _deflated_starts(problem, sys, known, 0.0, max_branches)
            ]
        trace(starts)
        if can_deflate and len(branches) < max_branches:
            ends = [br._U[i] for br in branches for i in (0, -1) if br.t[i] == 1.0]
            trace(
                [
                    (_point(sys, U, 1.0, backward), "deflation at the end", None)
                    for U in _deflated_starts(problem, sys, ends, 1.0, max_branches - len(branches))
                ]
            )
    if not branches:
        raise ValueError(
            f"guess: Newton did not converge at the start of the path ({name} = "
            f"{parameter_at(0.0):.8g}){' and deflation found no extremal at either end' * can_deflate}"
            "; give a guess= near an extremal there"
        )
    message = "; ".join(messages) or "no branch followed"
    return Diagram(branches, folds, bps, name, message)


def _engine_start(problem, sys, guess, degree):
    """The state of :func:`varcalc.solve`'s extremal at ``t = 0`` (a minimum, else a stationary
    point), polished at fixed ``t``; None when neither converges.  (Its line search and inertia
    correction reach extremals that the corrector's plain Newton does not from a poor guess, e.g.
    a constraint's multiplier from zero.)"""
    from .drivers import pad_numpy

    solve = entry("solve")
    for mode in ("minimize", "stationary"):
        try:
            sol = solve(problem, grid=sys.disc.x_user, guess=guess, params=sys.p(0.0), degree=degree, mode=mode)
        except ValueError:
            return None
        if sol.converged:
            _, V, z = sol._state
            X = np.concatenate([pad_numpy(np.asarray(V), sys.shape[1], 1).ravel(), np.asarray(z, dtype=np.float64)])
            return _start(sys, X, 0.0)
    return None


def _padded(sys, f):
    """The state of node values ``f`` (n,) + shape (other unknowns and multipliers zero)."""
    X = np.zeros_like(sys.U0)
    sys.split(X)[0][: sys.m, : sys.nn] = np.asarray(f).reshape(sys.nn, -1).T
    return X


def _switch(sys, s, tangent, origin):
    """Starts of the branches crossing at the branch point ``s``: its null vector φ, made
    orthogonal to the followed branch's tangent, taken a small step both ways."""
    phi = _null_vector(sys, s.U, s.t)
    Ud, td = tangent
    c = sys.dot(phi, Ud)
    dU, dt = phi - c * Ud, -c * td
    norm = np.sqrt(sys.dot(dU, dU) + dt**2)
    direction = (dU / norm, dt / norm)
    starts = []
    scale = np.sqrt(max(sys.dot(s.U, s.U), 1.0))
    for sign in (1.0, -1.0):
        d = (sign * direction[0], sign * direction[1])
        h = 0.05 * scale
        for _ in range(6):  # a step that lands off the followed branch (not back on it)
            anchor = (s.U + h * d[0], s.t + h * d[1])
            out = _correct(sys, anchor[0], anchor[1], d, anchor)
            if out is not None and _distance(sys, out[0], s.U) > 0.2 * h / scale:
                start = _point(sys, out[0], out[1], d)
                # orient away from the branch point
                if sys.dot(start.tangent[0], out[0] - s.U) + start.tangent[1] * (out[1] - s.t) < 0:
                    start = _Point(
                        start.U, start.t, start.value, start.negatives, (-start.tangent[0], -start.tangent[1])
                    )
                starts.append((start, origin, s))
                break
            h *= 0.5
    return starts


def _deflated_starts(problem, sys, known_U, t, max_count):
    """Further extremals at ``t`` by deflation of the ``known_U`` ones (from the default guess);
    their unknowns, polished by Newton at ``t``."""
    from .deflation import _deflated_newton

    known = [_Known(sys.nodal(U)) for U in known_U]
    found = []
    for power in (2.0, 1.0):
        while len(found) < max_count:
            U = _deflated_newton(
                problem, None, {"grid": sys.disc.x_user, "params": sys.p(t)}, None, known, power, 1.0, 100
            )
            if U is None:
                break
            polished = _start(sys, _padded(sys, U.T.reshape((sys.nn,) + sys.disc.problem.shape)), t)
            if polished is None or any(_distance(sys, polished, _padded(sys, k.f)) < 1e-6 for k in known):
                break
            known.append(_Known(sys.nodal(polished)))
            found.append(polished)
    return found


@dataclass
class _Known:
    f: np.ndarray


def _on_branch(sys, p, branch):
    """Whether the point p lies on the followed branch (between two of its points at p's t)."""
    t = branch.t
    U = p.U
    for i in np.flatnonzero((t[:-1] - p.t) * (t[1:] - p.t) <= 0):
        w = 0.0 if t[i + 1] == t[i] else (p.t - t[i]) / (t[i + 1] - t[i])
        if _distance(sys, (1 - w) * branch._U[i] + w * branch._U[i + 1], U) < 1e-3:
            return True
    return False


def _branch(sys, points, parameter_at, origin, message):
    t = np.array([q.t for q in points])
    return Branch(
        t=t,
        parameter=np.array([parameter_at(v) for v in t]),
        value=np.array([q.value for q in points]),
        negatives=np.array([q.negatives for q in points], dtype=int),
        f=np.stack([sys.nodal(q.U) for q in points]),
        x=np.asarray(sys.disc.x_user),
        origin=origin,
        message=message,
        _U=np.stack([q.U for q in points]),
    )


def plot_diagram(diagram, path=None, *, measure=None, axes=None):
    """The bifurcation diagram: ``J_h`` (or ``measure``: ``fun(x, f)`` or ``(label, fun)``) against
    the parameter, stable stretches solid, unstable dashed; folds (●) and branch points (◆) marked.
    Returns the Axes; saves to ``path`` when given.

    >>> import jax.numpy as jnp, varcalc as vc
    >>> bratu = vc.Problem(lambda f, df, x, p: 0.5 * df**2 - p["lam"] * jnp.exp(f), (0.0, 1.0),
    ...                    bc={"left": 0.0, "right": 0.0}, params={"lam": 1.0})
    >>> d = vc.continuation(bratu, {"lam": (1.0, 4.0)}, method="arclength", n=21, deflate=False)
    >>> ax = d.plot(measure=("max f", lambda x, f: f.max()))
    """
    import matplotlib.pyplot as plt

    if not isinstance(diagram, Diagram):
        raise TypeError(f"diagram: expected a bifurcation Diagram, got {type(diagram).__name__}")
    label, fun = "J", None
    if measure is not None:
        label, fun = measure if isinstance(measure, tuple) else (getattr(measure, "__name__", "measure"), measure)
        if not callable(fun):
            raise TypeError("measure: expected a callable fun(x, f) -> float or a pair (label, fun)")
    if axes is None:
        _, axes = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, b in enumerate(diagram.branches):
        y = np.asarray(b.value if fun is None else b.measure(fun), dtype=float)
        c = colours[k % len(colours)]
        # runs of constant stability, each drawn to the first point of the next run (no gap)
        cuts = np.flatnonzero(np.diff(b.stable.astype(int))) + 1
        for i, (lo, hi) in enumerate(zip(np.r_[0, cuts], np.r_[cuts, y.size])):
            hi = min(hi + 1, y.size)
            ax.plot(
                b.parameter[lo:hi],
                y[lo:hi],
                "-" if b.stable[lo] else "--",
                color=c,
                lw=1.6,
                label=f"branch {k} ({b.origin})" if i == 0 else None,
            )
    for pts, marker, name in ((diagram.folds, "o", "fold"), (diagram.branch_points, "D", "branch point")):
        for i, s in enumerate(pts):
            y = s.value if fun is None else float(fun(diagram.branches[s.branch].x, s.f))
            ax.plot([s.parameter], [y], marker, color="k", ms=6, label=f"{name} {s.parameter:.6g}" if i < 3 else None)
    ax.set(xlabel=diagram.parameter_name, ylabel=label, title="bifurcation diagram (solid: stable, dashed: unstable)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        ax.figure.savefig(path, dpi=110)
    return ax
