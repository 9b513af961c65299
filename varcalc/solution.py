"""``Solution``: what a solve returns — one frozen pytree for plain, traced and batched results.

A plain solve (:func:`varcalc.solve`) fills it with numpy arrays and Python numbers, a status with a
message, stats; inside ``jax.grad``/``jit``/``vmap`` the same class (as its marker subclass
:class:`TracedSolution`) holds JAX values, and :meth:`varcalc.BatchSolution.__getitem__` gives a
lane as a plain one.  It is a registered pytree: the array and number fields are its leaves, the
rest (problem, message, element kind, the discretization kept for the certificate) its static data,
so ``jax.jit``/``vmap`` can return it and ``jax.tree.map`` works on it.  Fields cannot be
reassigned (``dataclasses.replace`` makes a changed copy).

``sol(xq)`` evaluates the piecewise polynomial through :func:`varcalc.piecewise.evaluate` (the one
evaluator: P1, cubic Hermite, degree-p Lagrange with an optional end map).  The certificate and
the error estimate are functions of a solution (:func:`varcalc.certify.certificate`,
:func:`varcalc.estimate.error_estimate`); the properties call them once and cache the result.
Nothing here imports :mod:`varcalc.solve`.

>>> import jax, numpy as np, varcalc as vc
>>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
>>> sol = vc.solve(p, n=11)
>>> leaves, tree = jax.tree_util.tree_flatten(sol)
>>> back = jax.tree_util.tree_unflatten(tree, leaves)
>>> type(back).__name__, back.message == sol.message, round(float(back(0.5)), 12)   # exact: x(x-1)/2
('Solution', True, -0.125)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from numpy.typing import ArrayLike

from . import piecewise
from .newton import RUNAWAY_CHECKED, Status, compose_message, lumped_mass, runaway
from .piecewise import is_traced

if TYPE_CHECKING:  # imported on first use at run time (import cost)
    from matplotlib.figure import Figure

    from .certify import Certificate
    from .estimate import ErrorEstimate
    from .planar.solution import PlanarSolution

__all__ = ["Solution", "TracedSolution", "load"]


@dataclass(eq=False, frozen=True)
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

    slope : ndarray or None
        ``f'`` at the nodes for ``order=2`` problems (cubic Hermite unknowns).
    multipliers : dict
        Lagrange multipliers by constraint name: a float for an :class:`Integral` or the free end,
        node values for :class:`Pointwise` and :class:`Bound` (``∂J_h/∂f_i / mass_i``: ≥ 0 where
        ``f`` rests on a lower bound, ≤ 0 on an upper one, ≈ 0 off contact).
    constraint_residuals : dict
        How far each constraint is from being met (``|∫H - c|``, ``max |g|``, max violation).
    complementarity : float or None
        ``max_i |μ_i| · gap_i`` for a :class:`Bound` (0 at an exact contact solution).
    end, start, transversality : float or None
        The free right end ``x_b`` (left end ``x_a``) on its curve and the relative residual of
        the transversality condition ``(G - f' G_f') φ_f - G_f' φ_x = 0`` there (the larger of
        the two ends) (with ``f'`` from the parabola through the
        last three nodes: O(h²)).
    negative : int or None
        Negative eigenvalues of the second variation at the end (on the constraints' tangent
        space): 0 at a non-degenerate minimum.
    mode : str
        ``"minimize"``, ``"maximize"`` or ``"stationary"``.
    degree : int
        Polynomial degree of the elements (``vc.solve(..., degree=p)``; 1: piecewise linear).
    element_values : ndarray or None, shape (n-1, p+1) or (n-1, p+1, m)
        For ``degree > 1``: the extremal at the ``p + 1`` Gauss–Lobatto nodes of each cell
        (``x_i + ξ_j (x_{i+1} - x_i)``, ``ξ`` from :func:`varcalc.elements.gll_nodes`); the first
        and last of each row are the nodal values ``f_i``, ``f_{i+1}``.  With ``end_map`` the
        nodes are ``φ(s_i + ξ_j (s_{i+1} - s_i))``.
    end_map : EndMap or None
        For ``degree > 1`` with a singular end: the map ``x = φ(s)`` the elements live on
        (:mod:`varcalc.endmap`); ``end_map.s_of_x(sol.x)`` is the solver's grid.
    grid : ndarray (n,) or None
        With ``end_map``: the solver's grid ``s`` itself (``x = end_map.x_of_s(grid)``).

    Calling ``sol(xq)`` interpolates the extremal (piecewise linear; cubic Hermite for
    ``order=2``; the element polynomials for ``degree > 1``); ``sol.derivative(xq, k)`` gives its
    ``k``-th derivative (k = 1, 2).

    Inside a JAX transformation the fields hold JAX values and ``message``, ``history``,
    ``guess`` are None; what needs concrete numbers (``certificate``, ``error_estimate``,
    ``table()``, ``plot()``, ``save()``...) raises a ValueError saying so.
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
    slope: np.ndarray | None = field(repr=False, default=None)
    multipliers: dict = field(repr=False, default_factory=dict)
    constraint_residuals: dict = field(repr=False, default_factory=dict)
    complementarity: float | None = None
    end: float | None = None
    transversality: float | None = None
    negative: int | None = None
    mode: str = "minimize"
    params: object = field(repr=False, default=None)
    guess_x: np.ndarray | None = field(repr=False, default=None)
    start: float | None = None
    degree: int = 1
    element_values: np.ndarray | None = field(repr=False, default=None)
    end_map: object = field(repr=False, default=None)
    grid: np.ndarray | None = field(repr=False, default=None)
    # (discretization, final V (d, n), final z (k,)): what the certificate re-linearises at.
    _state: object = field(repr=False, default=None, compare=False)
    # Results computed from the solution on first use (certificate, error estimate): not a field
    # of the pytree, so a transformed or unflattened copy starts with an empty one.
    _cache: dict = field(repr=False, default_factory=dict, init=False, compare=False)

    @classmethod
    def _from_newton(cls, problem, disc, out, elapsed):
        lay = disc.layout
        k = int(out["k"])
        status = Status(int(out["status"]))
        V = np.asarray(out["U"])  # (d, n)
        if disc.end_map is not None:  # the dummy rows of the flat (mapped) ends, for reporting
            V = disc.functional.complete(V)
        z = np.asarray(out["z"]) if "z" in out else np.zeros(0)
        sign = -1.0 if disc.mode == "maximize" else 1.0
        value = sign * float(out["J"])
        n = V.shape[1]
        x = np.asarray(disc.x_user)
        end = start = None
        end_map = disc.end_map
        if lay.free_end:
            A, B = (float(v) for v in lay.ends(z, {"a": x[0], "b": x[-1]}))
            if end_map is not None:  # the map onto the solved interval [A, B]
                end_map = type(end_map)(end_map.powers, A, B)
                x = np.asarray(end_map.x_of_s(np.asarray(disc.x)), dtype=np.float64)
            else:
                x = A + (B - A) * np.asarray(disc.x)
            x[0], x[-1] = A, B
            start = A if "left" in lay.curve_ends else None
            end = B if "right" in lay.curve_ends else None
        finite = np.all(np.isfinite(V)) and np.all(np.isfinite(z)) and np.isfinite(value)
        if status == Status.SUCCESS and not finite:  # never report success with NaNs
            status = Status.NONFINITE
        to_user = lambda rows: rows.T.reshape((n,) + problem.shape)
        f = to_user(V[: lay.m])
        slope = to_user(V[lay.m : 2 * lay.m]) if lay.order == 2 else None
        element_values = None
        if lay.degree > 1:  # (cells, p+1) + shape: [f_i, interior values of cell i, f_{i+1}]
            element_values = disc.functional.element_values(V[: lay.d_el], disc.x)
            element_values = element_values.reshape((n - 1, lay.degree + 1) + problem.shape)
        negative = int(out["negative"][k])
        n_mult = 0
        if disc.uses_kkt:
            # KKT inertia = inertia of the reduced second variation + one negative per multiplier.
            n_mult = lay.n_multipliers_global + int(np.sum(~disc.fixed[lay.d_el :]))
            negative -= n_mult
            if status == Status.SUCCESS and disc.mode != "stationary" and negative > 0:
                status = Status.SADDLE
        mult, resid, compl = {}, {}, None
        for j, c in enumerate(problem.integrals):
            mult[c.name] = float(z[j])
            resid[c.name] = abs(float(out["gz"][j]))
        row = lay.d_el
        for c, shape, r in zip(problem.pointwise, lay.pointwise_shapes, lay.pointwise_sizes):
            mu = V[row : row + int(np.prod(shape))].T  # at the nodes (high order: then interior points)
            mult[c.name] = mu[:, 0] if shape == () else mu
            resid[c.name] = _pointwise_residual(c.fun, f, x, problem)
            row += r
        slope_bound = problem.slope_bound
        if slope_bound is not None:  # its violation at its points (the barrier keeps it feasible)
            side = next(sd for sd in lay.sides if sd.con is slope_bound)
            xq, _, _, Dm = side.slope_points(disc)
            p = Dm.shape[1] - 1
            Vn = np.asarray(V)
            cells = np.concatenate([Vn[:p, :-1].T, Vn[:1, 1:].T], axis=1)
            slopes = cells @ Dm.T / np.diff(disc.x_user)[:, None]
            lo, hi = (v.reshape(xq.shape) for v in slope_bound.values(xq.reshape(-1)))
            resid[slope_bound.name] = float(max(0.0, np.max(lo - slopes), np.max(slopes - hi)))
        if lay.has_bound and problem.bound is not None:
            b = problem.bound
            m = lay.m
            lo, hi, fv = to_user(disc.lower[:m]), to_user(disc.upper[:m]), to_user(V[:m])  # (n,) + shape
            g = np.asarray(out["g"])[:m]
            # Per unit length at each node: g over the node's own weight (degree p: its GLL weight).
            mass = lay.element.mass_rows(m, lumped_mass(disc.x), disc.x, disc.end_map)[:, :m].T  # (m, n)
            mu = to_user(np.where(disc.fixed[:m], 0.0, g / mass))
            gap = np.minimum(fv - lo, hi - fv)
            mult[b.name] = mu
            resid[b.name] = float(max(0.0, np.max(lo - fv), np.max(fv - hi)))
            compl = float(np.max(np.abs(mu) * np.where(np.isfinite(gap), gap, 0.0)))
        # Side conditions of other kinds (registered with varcalc.sides.register_side) report
        # their own multipliers; the built-in kinds above also give residuals and complementarity.
        for side in lay.sides:
            if side.name not in mult:
                mult.update(side.report(disc, V, z))
        transversality = None
        for e in lay.curve_ends:
            c, node = problem.end_curve(e), (0 if e == "left" else -1)
            mult[c.name] = float(z[lay.end_index(e) + 1])
            resid[c.name] = abs(float(c.fun(x[node], f[node])))
            value_e = _transversality(problem, disc, x, f, e)
            if value_e is not None:
                transversality = value_e if transversality is None else max(transversality, value_e, key=abs)
        worst = max(resid, key=lambda name: resid[name]) if resid else None
        violated = status != Status.SUCCESS and worst is not None and resid[worst] > 1e-6
        facts, directions = _evidence(disc, out, k, negative, n_mult)
        details = {"iterations": f"max_iter = {k}", "negative": negative, "directions": directions}
        if status in RUNAWAY_CHECKED:
            # J's own history only where the merit is J (not an SQP penalty, not a residual norm).
            merit = None if disc.uses_kkt else np.asarray(out["value"][: k + 1])
            evidence = runaway(f, disc.U0, merit)
            if evidence is not None:
                status = Status.UNBOUNDED
                details["runaway"], details["bound_hint"] = _runaway_text(problem, disc, x, f, value, k, evidence)
        if status == Status.MAX_ITERATIONS and violated:
            status = Status.INFEASIBLE
        message = compose_message(status, disc.mode, facts, **details)
        if status == Status.SUCCESS and disc.mode == "stationary":
            message = (
                f"converged: the Newton step fell below the tolerance at a stationary point; the "
                f"second variation has {negative} negative direction(s) there"
            )
        elif status == Status.SUCCESS and disc.uses_kkt:
            extremum = "maximum of J" if disc.mode == "maximize" else "minimum"  # the solver minimises -J
            message = (
                "converged: the Newton step fell below the tolerance, with the second variation "
                f"{'of -J ' if disc.mode == 'maximize' else ''}positive definite on the constraints' "
                f"tangent space (a constrained {extremum})"
            )
        if violated:
            message += f" The constraint {worst!r} is violated by {resid[worst]:.3g}."
        converged = status == Status.SUCCESS
        stats = {
            name: np.asarray(out[name][: k + 1])
            for name in ("value", "step", "alpha", "shift", "decrement", "negative")
        }
        stats["value"] = sign * stats["value"]
        if disc.uses_kkt:  # as `negative`: directions of the second variation, not multipliers
            stats["negative"] = np.where(stats["negative"] >= 0, stats["negative"] - n_mult, -1)
        stats["time"] = elapsed
        guess = disc.U0.reshape((n,) + problem.shape)
        return cls(
            x=x,
            f=f,
            value=value,
            converged=bool(converged),
            status=status,
            message=message,
            iterations=k,
            history=np.asarray(out["residual"][: k + 1]),
            stats=stats,
            guess=guess,
            quadrature=disc.quadrature_summary(),
            singular_ends=disc.singular_ends,
            problem=problem,
            slope=slope,
            multipliers=mult,
            constraint_residuals=resid,
            complementarity=compl,
            end=end,
            transversality=transversality,
            negative=negative,
            mode=disc.mode,
            params=disc.params,
            start=start,
            guess_x=np.asarray(disc.x_user),
            _state=(disc, V, z),
            degree=lay.degree,
            element_values=element_values,
            end_map=end_map,
            grid=np.asarray(disc.x) if disc.end_map is not None else None,
        )

    @classmethod
    def _traced(
        cls,
        problem,
        *,
        x,
        f,
        value,
        status,
        iterations,
        multipliers,
        slope=None,
        start=None,
        end=None,
        element_values=None,
        end_map=None,
        grid=None,
        mode="minimize",
        degree=1,
        singular_ends=(),
    ) -> TracedSolution:
        """The result of :func:`varcalc.solve` inside a JAX transformation (JAX values; ``status``
        and ``iterations`` int32 arrays; no message, history or stats)."""
        return TracedSolution(
            x=x,
            f=f,
            value=value,
            converged=status == int(Status.SUCCESS),
            status=status,
            message=None,
            iterations=iterations,
            history=None,
            stats={},
            guess=None,
            singular_ends=tuple(singular_ends),
            problem=problem,
            slope=slope,
            multipliers=multipliers,
            start=start,
            end=end,
            mode=mode,
            degree=degree,
            element_values=element_values,
            end_map=end_map,
            grid=grid,
        )

    # -- use ---------------------------------------------------------------------------------
    def _require_concrete(self, what: str) -> None:
        if isinstance(self, TracedSolution) or is_traced(self.f, self.value):
            raise ValueError(
                f"{what}: not available for a solution computed inside a JAX transformation "
                "(jax.grad/jvp/jit/vmap); call vc.solve outside it for this"
            )

    def _cached(self, key, compute):
        """``compute(self)`` on first use, then the cached result (the fields are frozen)."""
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]

    @property
    def certificate(self) -> Certificate:
        """Second-variation certificate (:class:`varcalc.certify.Certificate`): inertia on the
        admissible variations, smallest eigenvalue and eigenfunction, Legendre and Jacobi
        conditions, and a verdict (``"strict local minimum"``, ``"saddle of index k"``,
        ``"degenerate"``); ``strong`` (Weierstrass: a strong or only a weak minimum).  A solve
        that did not converge gets ``"not certified: ..."`` at once.  Computed on first access
        (a sparse shift-invert eigensolve, O(n)) by :func:`varcalc.certify.certificate`."""
        self._require_concrete("certificate")
        from .certify import certificate

        return self._cached("certificate", certificate)

    @property
    def error_estimate(self) -> ErrorEstimate:
        """A-posteriori error estimate (:class:`varcalc.estimate.ErrorEstimate`): ``value_error``
        (of ``|J_h - J|``), ``f_error`` (of the max nodal error), ``cell_indicator``, from one
        more solve on the grid with every cell halved (Richardson).  Computed on first access by
        :func:`varcalc.estimate.error_estimate`."""
        self._require_concrete("error_estimate")
        from .estimate import error_estimate

        return self._cached("error_estimate", error_estimate)

    @property
    def verdict(self) -> str:
        """``self.certificate.verdict``."""
        return self.certificate.verdict

    def _jets(self, xq, derivatives):
        """``(f, ..., f^(derivatives))`` at ``xq``, each ``xq.shape (+ (m,))``: numpy for concrete
        points and values (checked to lie in the domain), JAX values when any is traced."""
        traced = is_traced(xq, self.x, self.f, self.slope, self.element_values, self.grid)
        if not traced:
            xq = np.asarray(xq, dtype=np.float64)
            a, b = float(self.x[0]), float(self.x[-1])
            tol = 1e-12 * (b - a)
            if np.any(xq < a - tol) or np.any(xq > b + tol) or not np.all(np.isfinite(xq)):
                raise ValueError(f"xq: expected points inside the domain [{a}, {b}]")
        shape = np.shape(xq) + tuple(np.shape(self.f)[1:])
        evaluate = lambda: piecewise.evaluate(
            self.x,
            xq,
            values=self.f,
            slopes=self.slope,
            derivatives=derivatives,
            elements=self.element_values,
            end_map=self.end_map,
            grid=self.grid,
        )
        if traced:
            return tuple(j.reshape(shape) for j in evaluate())
        with jax.ensure_compile_time_eval():  # numbers in, numbers out: also while some jit traces
            return tuple(np.asarray(j).reshape(shape) for j in evaluate())

    def __call__(self, xq):
        """The extremal at ``xq`` (scalar or array), shape ``xq.shape (+ (m,))``: the piecewise
        polynomial of the solution (P1, cubic Hermite, or the degree-p elements)."""
        return self._jets(xq, 0)[0]

    def derivative(self, xq: ArrayLike, order: int = 1) -> np.ndarray | jax.Array:
        """The ``order``-th derivative in ``x`` of the solution's piecewise polynomial at ``xq``.

        Per element family:

        * P1 (``degree=1``): the slope of the cell holding the point — piecewise constant; at an
          interior node the cell to its right, at the last node the last cell (the midpoint of a
          cell is where it is most accurate, O(h²));
        * cubic Hermite (``order=2``): the cubic's derivatives, continuous ``f'`` (the nodal
          ``slope`` at nodes);
        * Lagrange (``degree=p``): the polynomial's derivatives, by the chain rule through
          ``x = φ(s)`` at a mapped end.  At the mapped end point itself, where ``φ'(s) = 0``, the
          limit: ``±inf`` when ``|f'|`` grows without bound there (``f ~ (x - a)^α``, ``α < 1``:
          the brachistochrone's vertical start), else the finite value next to it.

        Parameters
        ----------
        xq : float or array_like, any shape
            Points in the domain ``[x_0, x_{n-1}]``.
        order : {1, 2}
            ``1``: ``f'``; ``2``: ``f''`` (cubic Hermite of ``order=2`` problems and degree-``p``
            Lagrange elements; piecewise-linear P1 elements have none: ValueError).

        Returns
        -------
        ndarray, shape ``xq.shape`` (scalar unknown) or ``xq.shape + shape`` (vector unknown of
        ``shape``, e.g. ``(m,)``); JAX values inside a transformation.

        Examples
        --------
        >>> import numpy as np, varcalc as vc
        >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
        >>> sol = vc.solve(p, n=3, degree=2)                 # f = x(x-1)/2, exact at degree 2
        >>> sol.derivative([0.0, 0.25]).round(12).tolist(), round(float(sol.derivative(0.5, order=2)), 12)
        ([-0.5, -0.25], 1.0)
        """
        if isinstance(order, bool) or order not in (1, 2):
            raise ValueError(f"order: expected 1 or 2, got {order!r}")
        if order == 2 and self.element_values is None and self.slope is None:
            raise ValueError(
                "order: P1 elements (degree=1) are piecewise linear, with no second derivative "
                "(zero inside each cell); solve with degree >= 2, or tol=, for f''"
            )
        out = self._jets(xq, order)[order]
        if self.end_map is not None and not isinstance(out, jax.Array):
            out = self._mapped_end_limits(np.asarray(xq, dtype=np.float64), out, order)
        return out

    def _mapped_end_limits(self, xq, out, order):
        """``out`` with the values at a mapped end point replaced by the limit (see :meth:`derivative`):
        ``|f^(order)|`` at distances ``1e-6`` and ``1e-9`` of the domain's length from the end —
        growing more than 1.5-fold: ``±inf``; else the nearer value."""
        a, b = float(self.x[0]), float(self.x[-1])
        out = np.array(out, dtype=np.float64)
        for end, k, sign in ((a, self.end_map.powers[0], 1.0), (b, self.end_map.powers[1], -1.0)):
            at = np.abs(xq - end) <= 1e-15 * (b - a)
            if k == 1 or not at.any():
                continue
            near = self._jets(np.array([end + sign * 1e-6 * (b - a), end + sign * 1e-9 * (b - a)]), order)[order]
            near = np.asarray(near).reshape(2, -1)
            grows = np.abs(near[1]) > 1.5 * np.abs(near[0])
            limit = np.where(grows, np.sign(near[1]) * np.inf, near[1]).reshape(
                out.shape[at.ndim :] if out.ndim > at.ndim else ()
            )
            out[at] = limit
        return out

    @property
    def success(self) -> bool:
        """Alias of ``converged`` (SciPy's name)."""
        return self.converged

    def error(self, exact: Callable[..., Any] | None = None) -> float:
        """Max nodal error ``max_i |f_i - f*(x_i)|`` against ``exact`` (default: the problem's)."""
        self._require_concrete("error()")
        exact = exact if exact is not None else getattr(self.problem, "exact", None)
        if exact is None:
            raise ValueError("exact: this problem has no exact solution; pass exact=callable")
        ref = np.asarray(exact(self.x), dtype=np.float64).reshape(self.f.shape)
        return float(np.max(np.abs(self.f - ref)))

    def l2_error(self, exact: Callable[..., Any] | None = None, points: int | None = None) -> float:
        """L² error ``(∫ |f_h - f*|² dx)^{1/2}`` of the interpolant ``sol(x)`` against ``exact``.

        Gauss–Legendre with ``points`` per cell (default ``degree + 4``; vectorised over cells);
        ``exact`` defaults to the problem's exact solution.

        >>> import varcalc as vc
        >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0},
        ...                exact=lambda x: 0.5 * x * (x - 1))
        >>> vc.solve(p, n=3, degree=2).l2_error() < 1e-14    # the exact solution is quadratic
        True
        """
        self._require_concrete("l2_error()")
        exact = exact if exact is not None else getattr(self.problem, "exact", None)
        if exact is None:
            raise ValueError("exact: this problem has no exact solution; pass exact=callable")
        from .quadrature import gauss_rule

        q = self.degree + 4 if points is None else int(points)
        if q < 1:
            raise ValueError(f"points: expected a positive number of Gauss points, got {points}")
        r = gauss_rule(q)
        grid = self.x if self.end_map is None else self._s_grid()  # s: f_h is smooth in it
        h = np.diff(grid)
        tq = grid[:-1, None] + np.asarray(r.t)[None, :] * h[:, None]  # (cells, q)
        w = h[:, None] * np.asarray(r.w)[None, :]
        xq = tq
        if self.end_map is not None:  # ∫ ... dx = ∫ ... φ'(s) ds
            xq, w = self.end_map.x_of_s(tq), w * self.end_map.dx_ds(tq)
        fh = np.asarray(self(xq)).reshape(xq.shape + (-1,))
        ref = np.asarray(exact(xq.reshape(-1)), dtype=np.float64).reshape(fh.shape)
        sq = np.sum((fh - ref) ** 2, axis=-1)
        return float(np.sqrt(np.sum(w * sq)))

    def value_error(self, exact_value: float | None = None) -> float:
        """``|J_h - J*|`` against ``exact_value`` (default: the problem's)."""
        ev = exact_value if exact_value is not None else getattr(self.problem, "exact_value", None)
        if ev is None:
            raise ValueError("exact_value: this problem has no exact value; pass exact_value=...")
        return abs(self.value - float(ev))

    def table(self) -> str:
        """The Newton iterations as a text table."""
        self._require_concrete("table()")
        s = self.stats
        lines = [f"{'iter':>4}  {'J':>22}  {'EL residual':>11}  {'|du|':>9}  {'step':>8}  {'shift':>8}  {'neg':>3}"]
        for k in range(self.iterations + 1):
            lines.append(
                f"{k:4d}  {s['value'][k]:22.15e}  {self.history[k]:11.3e}  {s['step'][k]:9.2e}  "
                f"{s['alpha'][k]:8.2e}  {s['shift'][k]:8.1e}  {int(s['negative'][k]):3d}"
            )
        lines.append(f"{self.status.name}: {self.message}")
        return "\n".join(lines)

    def plot(
        self,
        path: str | os.PathLike | None = None,
        *,
        exact: Callable[..., Any] | None = None,
        ax: Any = None,
        show_guess: bool = True,
        invert_yaxis: bool = False,
        labels: Sequence[str] | None = None,
        equal_aspect: bool = False,
    ) -> Figure:
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
            components also gets a panel with the curve in the plane of its components (three:
            in space).
        equal_aspect : bool
            Same scale on both axes (shapes such as Dido's arc or an elastica).

        Returns
        -------
        matplotlib.figure.Figure — never calls ``show()``.
        """
        self._require_concrete("plot()")
        from .plot import plot_solution

        return plot_solution(
            self,
            path=path,
            exact=exact,
            ax=ax,
            show_guess=show_guess,
            invert_yaxis=invert_yaxis,
            labels=labels,
            equal_aspect=equal_aspect,
        )

    # -- I/O ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-serialisable summary (arrays as lists)."""
        self._require_concrete("to_dict()")
        d = {
            "name": getattr(self.problem, "name", None),
            "x": self.x.tolist(),
            "f": self.f.tolist(),
            "value": self.value,
            "converged": self.converged,
            "status": self.status.name,
            "message": self.message,
            "iterations": self.iterations,
            "history": self.history.tolist(),
            "quadrature": self.quadrature,
            "singular_ends": list(self.singular_ends),
            "time": self.stats.get("time"),
        }
        if getattr(self.problem, "exact", None) is not None:
            d["max_nodal_error"] = self.error()
        if getattr(self.problem, "exact_value", None) is not None:
            d["exact_value"] = self.problem.exact_value
            d["value_error"] = self.value_error()
        return d

    def save(self, path: str | os.PathLike) -> None:
        """Save to ``.npz`` (arrays and a JSON header); reload with :func:`varcalc.load`."""
        meta = {k: v for k, v in self.to_dict().items() if k not in ("x", "f", "history")}
        arrays = {f"stats_{k}": v for k, v in self.stats.items() if isinstance(v, np.ndarray)}
        # What sol(x) interpolates with: Hermite slopes, element values and the end map.
        meta["degree"] = self.degree
        if self.end_map is not None:
            meta["end_map"] = {
                "powers": list(self.end_map.powers),
                "a": float(self.end_map.a),
                "b": float(self.end_map.b),
            }
        for name in ("slope", "element_values", "grid"):
            if getattr(self, name) is not None:
                arrays[name] = np.asarray(getattr(self, name))
        np.savez(
            path, x=self.x, f=self.f, history=self.history, guess=self.guess, meta=np.array(json.dumps(meta)), **arrays
        )

    def _s_grid(self):
        """The solver's grid ``s`` of an end-mapped solution (kept, or recomputed for a loaded one)."""
        return np.asarray(self.grid) if self.grid is not None else self.end_map.s_of_x(self.x)

    def __repr__(self) -> str:
        shape = self.f.shape
        return (
            f"Solution(converged={self.converged}, status={self.status.name}, value={self.value!r}, "
            f"iterations={self.iterations}, n={self.x.size}, f.shape={shape})"
        )

    def _repr_html_(self):
        """Jupyter: a summary (status, J, iterations, nodes, the certificate's verdict when it has been
        computed) and the plot.  None (the plain repr) for a traced solution."""
        if isinstance(self, TracedSolution) or is_traced(self.f, self.value):
            return None
        from ._display import summary_html, with_figure

        rows = [
            ("status", self.status.name),
            ("J", f"{self.value:.15g}"),
            ("Newton iterations", self.iterations),
            ("nodes", self.x.size),
            ("f.shape", self.f.shape),
        ]
        if self.stats.get("time") is not None:
            rows.append(("time", f"{self.stats['time']:.3g} s"))
        if "certificate" in self._cache:
            rows.append(("certificate", self._cache["certificate"].verdict))
        if not self.converged and self.message:
            rows.append(("message", self.message))
        name = getattr(self.problem, "name", None) or "Solution"
        title = f"{name}: {'converged' if self.converged else 'NOT converged'}"
        return with_figure(summary_html(title, rows, ok=bool(self.converged)), lambda: self.plot())


def load(path: str | os.PathLike) -> Solution | PlanarSolution:
    """Load a :class:`Solution` written by :meth:`Solution.save` (without its problem), or a
    :class:`varcalc.planar.PlanarSolution` written by its ``save``."""
    with np.load(path, allow_pickle=False) as data:
        if "triangles" in data.files:
            from .planar.solution import PlanarSolution

            return PlanarSolution.load(path)
        meta = json.loads(str(data["meta"]))
        stats = {k[6:]: data[k] for k in data.files if k.startswith("stats_")}
        stats["time"] = meta.get("time")
        end_map = None
        if meta.get("end_map"):
            from .endmap import EndMap

            end_map = EndMap(**meta["end_map"])
        return Solution(
            x=data["x"],
            f=data["f"],
            value=meta["value"],
            converged=meta["converged"],
            status=Status[meta["status"]],
            message=meta["message"],
            iterations=meta["iterations"],
            history=data["history"],
            stats=stats,
            guess=data["guess"],
            quadrature=meta["quadrature"],
            singular_ends=tuple(meta["singular_ends"]),
            slope=data["slope"] if "slope" in data.files else None,
            degree=int(meta.get("degree", 1)),
            end_map=end_map,
            element_values=data["element_values"] if "element_values" in data.files else None,
            grid=data["grid"] if "grid" in data.files else None,
        )


class TracedSolution(Solution):
    """What :func:`varcalc.solve` returns while it is being differentiated (or traced by ``jit`` or
    ``vmap``): a :class:`Solution` whose fields are JAX values, so functions of it can be
    differentiated.  The same class in all but name (the name says which kind of values it holds).

    Set: ``x`` (n,) grid (traced for a free end; use ``start``/``end``), ``f`` (n,) + shape,
    ``slope`` (order 2), ``element_values`` (``degree > 1``), ``value``, ``multipliers`` (dict),
    ``converged`` (traced bool), ``status`` (traced int code of :class:`varcalc.Status`),
    ``iterations``, ``start``/``end`` (free ends on curves), ``problem``, ``mode``, ``degree``.
    ``sol(xq)`` evaluates like :class:`varcalc.Solution` (the same evaluator).  ``message``,
    ``history``, ``guess`` are None; what needs concrete numbers (certificates, error estimates,
    plots, tables) raises a ValueError: call ``vc.solve`` outside the transformation for those.  A
    pytree: ``jax.jit``/``vmap`` may return it (``jax.vmap(lambda p: vc.solve(problem, params=p))
    (batch)`` solves a batch).
    """

    def __repr__(self) -> str:
        return f"TracedSolution(problem={getattr(self.problem, 'name', None)!r}, n={np.shape(self.f)[0]})"


# -- the pytree ------------------------------------------------------------------------------------
# Leaves: the arrays and numbers (JAX values under a transformation).  Static: what is not a number
# (names, the problem, the element kind and end map) and the discretization kept for the certificate.
_LEAVES = (
    "x",
    "f",
    "value",
    "converged",
    "status",
    "iterations",
    "history",
    "stats",
    "guess",
    "slope",
    "multipliers",
    "constraint_residuals",
    "complementarity",
    "end",
    "transversality",
    "negative",
    "params",
    "guess_x",
    "start",
    "element_values",
    "grid",
)
_STATIC = ("message", "quadrature", "singular_ends", "problem", "mode", "degree", "end_map", "_state")
assert set(_LEAVES + _STATIC) == {f.name for f in dataclasses.fields(Solution) if f.init}


class _Opaque:
    """Static data compared and hashed by identity (the problem, the discretization, arrays)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Opaque) and other.value is self.value

    def __hash__(self):
        return id(self.value)


def _flatten_with_keys(sol):
    children = tuple((jax.tree_util.GetAttrKey(name), getattr(sol, name)) for name in _LEAVES)
    static = tuple(
        tuple(sorted(v.items()))
        if name == "quadrature"
        else _Opaque(v)
        if name in ("problem", "end_map", "_state")
        else v
        for name, v in ((name, getattr(sol, name)) for name in _STATIC)
    )
    return children, static


def _flatten(sol):
    children, static = _flatten_with_keys(sol)
    return tuple(c for _, c in children), static


def _unflatten(cls):
    def unflatten(static, children):
        sol = object.__new__(cls)  # the fields as they are (no checks: JAX may pass placeholders)
        for name, v in zip(_LEAVES, children):
            object.__setattr__(sol, name, v)
        for name, v in zip(_STATIC, static):
            v = dict(v) if name == "quadrature" else v.value if isinstance(v, _Opaque) else v
            object.__setattr__(sol, name, v)
        object.__setattr__(sol, "_cache", {})
        return sol

    return unflatten


for _cls in (Solution, TracedSolution):  # JAX registers classes exactly, not their subclasses
    jax.tree_util.register_pytree_with_keys(_cls, _flatten_with_keys, _unflatten(_cls), _flatten)


def _pointwise_residual(g, f, x, problem):
    import jax
    import jax.numpy as jnp

    vals = jax.vmap(g)(jnp.asarray(f), jnp.asarray(x))
    return float(np.max(np.abs(np.asarray(vals))))


def _transversality(problem, disc, x, f, end):
    """Relative residual of ``(G - f' G_f') φ_f - G_f' φ_x`` at a free end (scalar f only)."""
    if problem.is_vector:
        return None
    import jax
    import jax.numpy as jnp

    if end == "left":  # mirror the formula's node order; the condition itself is the same
        x, f = x[::-1], f[::-1]
    xb, fb = float(x[-1]), float(f[-1])
    # f'(x_b) from the parabola through the last three nodes: O(h²) (the last chord is O(h)).
    (x0, x1, x2), (f0, f1, f2) = x[-3:], f[-3:]
    dfb = float(
        f0 * (x2 - x1) / ((x0 - x1) * (x0 - x2))
        + f1 * (x2 - x0) / ((x1 - x0) * (x1 - x2))
        + f2 * (2 * x2 - x0 - x1) / ((x2 - x0) * (x2 - x1))
    )
    args = (jnp.asarray(fb), jnp.asarray(dfb), jnp.asarray(xb)) + ((disc.params,) if problem.params is not None else ())
    G = float(problem.integrand(*args))
    G_d = float(jax.grad(problem.integrand, argnums=1)(*args))
    phi_x, phi_f = (
        float(v) for v in jax.grad(problem.end_curve(end).fun, argnums=(0, 1))(jnp.asarray(xb), jnp.asarray(fb))
    )
    H = G - dfb * G_d
    scale = abs(H * phi_f) + abs(G_d * phi_x) + np.finfo(float).tiny
    return float((H * phi_f - G_d * phi_x) / scale)


def _evidence(disc, out, k, negative, n_mult):
    """The facts of :data:`varcalc.newton.ADVICE` that this run shows (besides its mode), and the
    number of directions of the second variation."""
    lay = disc.layout
    # Directions of the second variation: the free unknowns, less one per constraint (KKT).
    directions = int(np.sum(~disc.fixed))
    if disc.uses_kkt:
        directions = int(np.sum(~disc.fixed[: lay.d_el])) + lay.k - lay.n_multipliers_global - n_mult
    facts = set()
    if negative > 0:
        facts.add("all_negative" if negative >= directions else "negative")
    elif negative == 0:
        facts.add("no_negative")
    if not (np.isfinite(out["value"][0]) and np.isfinite(out["residual"][0])):
        facts.add("guess_nonfinite")
    return facts, directions


def _runaway_text(problem, disc, x, f, value, k, evidence):
    """Which way the iterates ran off, with the numbers (the ``runaway`` detail of the message),
    and the bound that would stop them (the ``bound_hint`` detail)."""
    up = disc.mode == "maximize"
    numbers = (
        f"J = {value:.4g} and max |f| = {evidence['size']:.3g} after {k} iterations, from a guess "
        f"with max |f| = {evidence['scale'] - 1:.3g}"
    )
    side = None if disc.mode == "stationary" else _runaway_side(problem, disc, x, f, -1.0 if up else 1.0)
    hint = {"<": "vc.Bound(lower=...)", ">": "vc.Bound(upper=...)"}.get(side, "vc.Bound(lower=..., upper=...)")
    if disc.mode == "stationary":
        what = "|f| grows without bound"
    elif side == "slope":
        what = (
            f"steep slopes make G {'positive' if up else 'negative'} (f alone does not), so J is unbounded "
            f"{'above' if up else 'below'}"
        )
        hint = "vc.Bound(lower=..., upper=..., derivative=1)"
    elif side is not None:
        what = f"f {side} 0 makes G {'positive' if up else 'negative'}, so J is unbounded {'above' if up else 'below'}"
    elif evidence["falling"]:
        what = f"J {'increases' if up else 'decreases'} without bound"
    else:
        what = f"|f| grows without bound while J {'increases' if up else 'decreases'}"
    return f"{what}: {numbers}", hint


def _runaway_side(problem, disc, x, f, sign):
    """``"<"`` or ``">"``: the side of zero where f ran off, when ``sign·G`` integrates to a negative
    value over the cells out there (so J falls as f goes further); None when that cannot be said
    (vector or second-order unknowns, or G not negative there).  Midpoint values, one vmap."""
    if problem.is_vector or problem.order != 1:
        return None
    import jax.numpy as jnp

    x, f = np.asarray(x, dtype=np.float64), np.asarray(f, dtype=np.float64)
    h = np.diff(x)
    fm, dfm, xm = (f[1:] + f[:-1]) / 2, np.diff(f) / h, (x[1:] + x[:-1]) / 2
    with_p = problem.params is not None
    G = jax.vmap(problem.integrand, in_axes=(0, 0, 0) + ((None,) if with_p else ()))(
        jnp.asarray(fm), jnp.asarray(dfm), jnp.asarray(xm), *((disc.params,) if with_p else ())
    )
    part = sign * np.asarray(G) * h
    far = 0.1 * np.max(np.abs(fm))
    below, above = fm < -far, fm > far
    side, out = ("<", below) if np.sum(below) >= np.sum(above) else (">", above)
    total = np.sum(part[out])
    if not (np.any(out) and np.isfinite(total) and total < 0):
        return None
    # f alone (slopes zeroed) must make G negative out there; else the slopes do (e.g. -f'² minimised).
    G0 = jax.vmap(problem.integrand, in_axes=(0, 0, 0) + ((None,) if with_p else ()))(
        jnp.asarray(fm), jnp.zeros_like(jnp.asarray(dfm)), jnp.asarray(xm), *((disc.params,) if with_p else ())
    )
    flat = np.sum(sign * np.asarray(G0)[out] * h[out])
    return side if np.isfinite(flat) and flat < 0 else "slope"
