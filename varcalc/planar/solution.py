"""``PlanarSolution``: the minimiser on the mesh, diagnostics, interpolation and plots."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..newton import Status
from .elements import element as _element
from .elements import rule

if TYPE_CHECKING:  # imported on first use at run time (import cost)
    from matplotlib.figure import Figure

    from ..certify import Certificate
    from ..estimate import ErrorEstimate

__all__ = ["PlanarSolution"]


@dataclass
class PlanarSolution:
    """Result of :func:`~varcalc.planar.solve_planar`.

    Attributes
    ----------
    nodes : ndarray, shape (N, 2)
        Coordinates of the unknowns' nodes (P2: the mesh vertices first, then edge midpoints).
    triangles : ndarray of int, shape (T, 3)
        The mesh triangles (vertex indices into ``nodes``).
    elements : ndarray of int, shape (T, nloc)
        Nodes of each element in local order (``= triangles`` for P1).
    u : ndarray, shape (N,) or (N, m)
        Nodal values of the minimiser.
    value : float
        ``J_h`` at ``u``.
    converged : bool
    status : varcalc.Status
    message : str
        Likely cause and remedy when the solve failed.
    iterations : int
    history : dict of ndarray, each shape (iterations + 1,)
        ``value``, ``residual`` (``max |∇J_h| / lumped mass``, the pointwise Euler–Lagrange
        residual), ``step`` (``‖du‖∞``), ``alpha`` (line-search step), ``shift``, ``backtracks``,
        ``linear_iterations`` and the time of each phase.
    stats : dict
        ``linear_solver`` (``"direct"`` or ``"cg"``), ``n_free``, ``nnz``, total times per phase,
        ``setup_time`` and ``time``; with a Bound, ``contact`` (nodes on the obstacle).
    multipliers : dict
        ``{name: λ}`` for each ``vc.Integral``; for a ``vc.Bound``, its contact force density at
        the nodes ((N,) + shape).
    constraint_residuals : dict
        ``{name: ∫H - value}`` for each ``vc.Integral``.

    The result interface shared with 1-D :class:`varcalc.Solution`: ``success``, ``status``,
    ``message``, ``certificate`` (second variation: inertia, smallest eigenvalues, Legendre),
    ``error_estimate`` (two-grid, Richardson), ``plot()``, ``save(path)`` / ``varcalc.load(path)``,
    ``to_dict()`` and ``_repr_html_`` (Jupyter).

    ``sol(points)`` evaluates the finite-element function at points (k, 2) (NaN outside the mesh).
    """

    nodes: np.ndarray
    triangles: np.ndarray
    elements: np.ndarray
    u: np.ndarray
    value: float
    converged: bool
    status: Status
    message: str
    iterations: int
    history: dict = field(repr=False)
    stats: dict = field(repr=False)
    element: str = "P1"
    problem: object = field(repr=False, default=None)
    params: object = field(repr=False, default=None)
    multipliers: dict = field(repr=False, default_factory=dict)
    constraint_residuals: dict = field(repr=False, default_factory=dict)
    _state: object = field(repr=False, default=None, compare=False)
    _cache: dict = field(repr=False, default_factory=dict, init=False, compare=False)

    @classmethod
    def _build(cls, problem, disc, out, params, element):
        status = out["status"]
        U = out["U"]
        value = float(out["J"])
        if status == Status.SUCCESS and not (np.all(np.isfinite(U)) and np.isfinite(value)):
            status = Status.NONFINITE
        u = U.reshape((disc.n_nodes,) + problem.shape)
        return cls(
            nodes=disc.points,
            triangles=disc.mesh.triangles,
            elements=disc.edofs,
            u=u,
            value=value,
            converged=status == Status.SUCCESS,
            status=status,
            message=status.message,
            iterations=int(out["iterations"]),
            history=out["history"],
            stats=out["stats"],
            element=element,
            problem=problem,
            params=params,
            multipliers=_multipliers(problem, disc, out),
            constraint_residuals=out.get("constraint_residuals", {}),
            _state=disc,
        )

    # -- the result interface shared with 1-D ----------------------------------------------------

    @property
    def success(self) -> bool:
        """Alias of ``converged`` (SciPy's name)."""
        return self.converged

    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]

    @property
    def certificate(self) -> Certificate:
        """Second-variation certificate (:class:`varcalc.certify.Certificate`), computed on first
        access by :func:`varcalc.planar.certify.certificate`: inertia on the admissible
        variations, smallest eigenvalues and eigenfunction, Legendre condition, verdict."""
        from .certify import certificate

        return self._cached("certificate", certificate)

    @property
    def verdict(self) -> str:
        return self.certificate.verdict

    @property
    def error_estimate(self) -> ErrorEstimate:
        """Two-grid error estimate (:class:`varcalc.estimate.ErrorEstimate`): one more solve on the
        uniformly refined mesh and Richardson extrapolation; computed on first access by
        :func:`varcalc.planar.estimate.error_estimate`."""
        from .estimate import error_estimate

        return self._cached("error_estimate", error_estimate)

    def save(self, path: str | os.PathLike) -> None:
        """Save to ``.npz`` (nodes, triangles, elements, u, histories and a JSON header); reload with
        :func:`varcalc.load` (without the problem: evaluation, errors against a given exact
        solution, plots and the summary work; certificate and error estimate need a re-solve)."""
        import json

        meta = {k: v for k, v in self.to_dict().items() if k not in ("nodes", "triangles", "u", "history")}
        meta["kind"] = "planar"
        meta["multipliers"] = {k: v for k, v in self.multipliers.items() if np.ndim(v) == 0}
        meta["constraint_residuals"] = self.constraint_residuals
        arrays = {f"history_{k}": np.asarray(v) for k, v in self.history.items()}
        arrays.update({f"multiplier_{k}": np.asarray(v) for k, v in self.multipliers.items() if np.ndim(v)})
        np.savez(
            path,
            nodes=self.nodes,
            triangles=self.triangles,
            elements=self.elements,
            u=self.u,
            meta=np.array(json.dumps(meta)),
            **arrays,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> PlanarSolution:
        """A :class:`PlanarSolution` saved by :meth:`save` (``varcalc.load`` dispatches here)."""
        import json

        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            hist = {k[8:]: data[k] for k in data.files if k.startswith("history_")}
            mult = dict(meta.get("multipliers", {}))
            mult.update({k[11:]: data[k] for k in data.files if k.startswith("multiplier_")})
            return cls(
                nodes=data["nodes"],
                triangles=data["triangles"],
                elements=data["elements"],
                u=data["u"],
                value=meta["value"],
                converged=meta["converged"],
                status=Status[meta["status"]],
                message=meta["message"],
                iterations=meta["iterations"],
                history=hist,
                stats=meta["stats"],
                element=meta["element"],
                multipliers=mult,
                constraint_residuals=meta.get("constraint_residuals", {}),
            )

    def _repr_html_(self):
        """Jupyter: a summary (status, J, iterations, nodes, the certificate's verdict when computed)
        and the plot."""
        from .._display import summary_html, with_figure

        rows = [
            ("status", self.status.name),
            ("J", f"{self.value:.15g}"),
            ("Newton iterations", self.iterations),
            ("element", self.element),
            ("nodes", len(self.nodes)),
            ("triangles", len(self.triangles)),
        ]
        if self.stats.get("time") is not None:
            rows.append(("time", f"{self.stats['time']:.3g} s"))
        rows += [(f"λ {k}", f"{v:.10g}") for k, v in self.multipliers.items() if np.ndim(v) == 0]
        if "contact" in self.stats:
            rows.append(("nodes in contact", self.stats["contact"]))
        if "certificate" in self._cache:
            rows.append(("certificate", self._cache["certificate"].verdict))
        if not self.converged and self.message:
            rows.append(("message", self.message))
        name = getattr(self.problem, "name", None) or "PlanarSolution"
        title = f"{name}: {'converged' if self.converged else 'NOT converged'}"
        return with_figure(summary_html(title, rows, ok=bool(self.converged)), lambda: self.plot())

    # -- evaluation -----------------------------------------------------------------------------

    @property
    def n_vertices(self) -> int:
        return int(self.triangles.max()) + 1

    def _finder(self):
        if getattr(self, "_trifinder", None) is None:
            import matplotlib.tri as mtri

            nv = self.n_vertices
            self._tri = mtri.Triangulation(self.nodes[:nv, 0], self.nodes[:nv, 1], self.triangles)
            self._trifinder = self._tri.get_trifinder()
        return self._trifinder

    def __call__(self, points):
        """Values at ``points`` (k, 2) -> (k,) or (k, m); NaN outside the domain (on a Disk or
        Annulus, points between a boundary chord and its arc get the nearest triangle's value)."""
        return self._evaluate(points, clamp=False)

    def _evaluate(self, points, clamp=False):
        """``sol(points)``; with ``clamp`` a point outside the mesh (or on its boundary, lost to
        rounding) gets the value at the nearest point of a nearby triangle instead of NaN (the
        guess that grid sequencing interpolates onto a finer mesh)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"points: expected shape (k, 2), got {p.shape}")
        t, lam = self._locate(p, clamp)
        if not clamp:
            self._between_chord_and_arc(p, t, lam)
        inside = t >= 0
        out = np.full((len(p),) + self.u.shape[1:], np.nan)
        phi = _element(self.element).basis(lam[inside])  # (k, nloc)
        vals = self.u[self.elements[t[inside]]]  # (k, nloc) + shape
        out[inside] = np.einsum("ka,ka...->k...", phi, vals)
        return out

    def _between_chord_and_arc(self, p, t, lam, k=4):
        """On a curved domain (a mesh with ``boundary_projection``: Disk, Annulus), points between a
        boundary chord and its arc are in the domain but outside the straight triangles: they get
        the value at the nearest point ``c`` of the chord (``t``, ``lam`` updated in place; O(h²)
        from the curve's side).  A point counts when it lies beyond the chord toward the arc and its
        own way to the curve is outward too; a point inside a hole or past the curve stays NaN."""
        from scipy.spatial import cKDTree

        mesh = getattr(self._state, "mesh", None)
        project = getattr(mesh, "boundary_projection", None)
        miss = np.flatnonzero(t < 0)
        if project is None or not miss.size:
            return
        a, b = mesh.nodes[mesh.boundary_edges[:, 0]], mesh.nodes[mesh.boundary_edges[:, 1]]
        k = min(k, len(a))
        chords = self._cached("chord_tree", lambda _: cKDTree(0.5 * (a + b)))  # built once per solution
        near = chords.query(p[miss], k=k)[1].reshape(len(miss), k)  # candidate chords
        ab, ap = b[near] - a[near], p[miss][:, None, :] - a[near]  # (m, k, 2)
        s = np.clip(np.einsum("mkd,mkd->mk", ap, ab) / np.einsum("mkd,mkd->mk", ab, ab), 0.0, 1.0)
        q = a[near] + s[..., None] * ab
        best = np.argmin(np.linalg.norm(q - p[miss][:, None, :], axis=2), axis=1)
        c = q[np.arange(len(miss)), best]  # the nearest point of the nearest chord
        outward = project(c) - c  # from the chord toward the arc
        # beyond the chord (not into a hole), and not beyond the curve (p's own way to it is outward)
        ok = (np.einsum("kd,kd->k", p[miss] - c, outward) > 0) & (
            np.einsum("kd,kd->k", project(p[miss]) - p[miss], outward) >= 0
        )
        tc, lc = self._locate(c[ok], clamp=True)  # c is on a boundary triangle's edge
        t[miss[ok]], lam[miss[ok]] = tc, lc

    def _locate(self, p, clamp, k=8):
        """Triangle (k,) (-1: none) and barycentric coordinates (k, 3) of points ``p``: among the
        ``k`` triangles with the nearest centroids (a KD-tree: O(log T) per point, vectorised) the
        first that contains the point; the rest by matplotlib's trapezoid-map finder, or clamped."""
        from scipy.spatial import cKDTree

        if getattr(self, "_tree", None) is None:
            self._tree = cKDTree(self.nodes[self.triangles].mean(axis=1))
        k = min(k, len(self.triangles))
        cand = self._tree.query(p, k=k)[1].reshape(len(p), k)
        t = np.full(len(p), -1)
        lam = np.zeros((len(p), 3))
        for j in range(k):
            todo = np.flatnonzero(t < 0)
            if not len(todo):
                break
            lj = _barycentric(self.nodes[self.triangles[cand[todo, j]]], p[todo])
            ok = np.all(lj >= -1e-12, axis=1)
            t[todo[ok]], lam[todo[ok]] = cand[todo[ok], j], lj[ok]
        todo = np.flatnonzero(t < 0)
        if len(todo) and clamp:  # nearest triangle, coordinates clamped onto it
            lj = np.clip(_barycentric(self.nodes[self.triangles[cand[todo, 0]]], p[todo]), 0.0, None)
            t[todo], lam[todo] = cand[todo, 0], lj / lj.sum(axis=1, keepdims=True)
        elif len(todo):  # rare (long thin triangles): the exact finder
            tt = np.asarray(self._finder()(p[todo, 0], p[todo, 1]))
            hit = tt >= 0
            t[todo[hit]] = tt[hit]
            lam[todo[hit]] = _barycentric(self.nodes[self.triangles[tt[hit]]], p[todo[hit]])
        return t, lam

    # -- errors ---------------------------------------------------------------------------------

    def _exact(self, exact=None):
        ex = exact if exact is not None else getattr(self.problem, "exact", None)
        if ex is None:
            raise ValueError("this problem has no exact solution (PlanarProblem(exact=...))")
        return ex

    def error(self, exact: Callable[..., Any] | None = None) -> float:
        """Max nodal error ``max |u_i - u_exact(x_i)|`` over all nodes (and components); ``exact``
        defaults to the problem's."""
        ex = np.asarray(self._exact(exact)(self.nodes), dtype=np.float64).reshape(self.u.shape)
        return float(np.max(np.abs(self.u - ex)))

    def l2_error(self, exact: Callable[..., Any] | None = None) -> float:
        """``‖u_h - u_exact‖_{L²(Ω_h)}`` by the degree-5 rule on every triangle."""
        ex = self._exact(exact)
        lam, w = rule(5)
        X = self.nodes[self.triangles]  # (T, 3, 2)
        xq = np.einsum("qv,tvi->tqi", lam, X)
        el = _element(self.element)
        phi = el.basis(lam)  # (Q, nloc)
        uh = np.einsum("qa,ta...->tq...", phi, self.u[self.elements])
        e1, e2 = X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]
        det = np.abs(e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1])[:, None]
        if el.order == 2:
            # mapped by the six nodes: isoparametric on curved boundaries (Disk, Annulus), the
            # affine map where the mid-edge nodes are the edges' midpoints
            Xn = self.nodes[self.elements]  # (T, 6, 2)
            xq = np.einsum("qa,tai->tqi", phi, Xn)
            J = np.einsum("tai,qaj->tqij", Xn, el.basis_gradients(lam))
            det = np.abs(J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0])
        ue = np.asarray(ex(xq.reshape(-1, 2)), dtype=np.float64).reshape(uh.shape)
        sq = (uh - ue) ** 2
        sq = sq.reshape(sq.shape[0], sq.shape[1], -1).sum(-1)
        return float(np.sqrt(np.sum(det * w * sq)))

    def value_error(self, exact_value: float | None = None) -> float:
        """``|J_h(u_h) - exact_value|`` (default: the problem's)."""
        ev = exact_value if exact_value is not None else getattr(self.problem, "exact_value", None)
        if ev is None:
            raise ValueError("this problem has no exact value (PlanarProblem(exact_value=...))")
        return abs(self.value - ev)

    # -- output ---------------------------------------------------------------------------------

    def plot(self, path: str | os.PathLike | None = None, **kwargs: Any) -> Figure:
        """Surface, contours, error (when exact is known), mesh and Newton history; see
        :func:`varcalc.planar.plot.plot_solution`.  Returns the figure."""
        from .plot import plot_solution

        return plot_solution(self, path, **kwargs)

    def write(self, path: str | os.PathLike, file_format: str | None = None) -> str | os.PathLike:
        """Write the mesh and the nodal values as point data ``"u"`` with meshio: ``.vtu`` for
        ParaView (P1 ``triangle`` cells; P2 ``triangle6``, vertices then edge midpoints, VTK's
        quadratic-triangle order), or any format meshio writes (by extension or
        ``file_format``).  Points get z = 0.  Returns ``path``.

        >>> import os, tempfile, numpy as np, varcalc as vc
        >>> p = vc.PlanarProblem(lambda u, du, x: 0.5 * du @ du - u, vc.Disk((0, 0), 1.0),
        ...                      bc=lambda x: np.zeros(len(x)))
        >>> path = vc.solve_planar(p, n=5).write(os.path.join(tempfile.mkdtemp(), "u.vtu"))
        """
        import meshio

        pts = np.column_stack([self.nodes, np.zeros(len(self.nodes))])
        cells = [("triangle", self.triangles)] if self.element == "P1" else [("triangle6", self.elements)]
        meshio.write(path, meshio.Mesh(pts, cells, point_data={"u": np.asarray(self.u)}), file_format=file_format)
        return path

    def to_dict(self) -> dict:
        """JSON-ready summary and nodal values."""
        d = dict(
            name=getattr(self.problem, "name", None),
            element=self.element,
            value=self.value,
            converged=self.converged,
            status=self.status.name,
            message=self.message,
            iterations=self.iterations,
            nodes=self.nodes.tolist(),
            triangles=self.triangles.tolist(),
            u=self.u.tolist(),
            stats={
                k: (v if isinstance(v, (str, int, float, list)) else float(v))
                for k, v in self.stats.items()
                if np.ndim(v) == 0 or isinstance(v, list)
            },
            history={k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in self.history.items()},
        )
        return d


def _multipliers(problem, disc, out):
    """``{name: λ}`` of the integral constraints; for a Bound, its contact force density at the
    nodes ((N,) + shape: ``∂J_h/∂u_i / mass_i`` on the free nodes, ≥ 0 on a lower obstacle's
    contact, 0 off it up to the solver's tolerance)."""
    mult = dict(out.get("multipliers", {}))
    b = getattr(problem, "bound", None)
    if b is not None and "multiplier" in out["stats"]:
        mult[b.name] = out["stats"].pop("multiplier").reshape((disc.n_nodes,) + problem.shape)
    return mult


def _barycentric(X, p):
    """Barycentric coordinates (k, 3) of points ``p`` (k, 2) in triangles ``X`` (k, 3, 2)."""
    e1, e2 = X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]
    d = p - X[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    xi = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
    eta = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
    return np.column_stack([1 - xi - eta, xi, eta])
