"""Planar domains and their triangulations: :class:`Rectangle`, :class:`Polygon` (with holes) and
a user-given :class:`TriMesh`.

Every domain answers two questions:

* ``triangulate(n)`` -> a :class:`TriMesh` (nodes (N, 2), triangles (T, 3), counter-clockwise);
* ``boundary_parts(points)`` -> ``{name: bool mask}`` for points that lie on the boundary
  (used to apply Dirichlet data given per named part: ``"left"``, ``"outer"``, ``"hole0"``...).

The polygon mesher is numpy + :class:`scipy.spatial.Delaunay`: boundary edges are subdivided to
spacing ``h``, the interior is filled with a triangular (hexagonal) lattice of spacing ``h``
(points closer than ``h/2`` to the boundary dropped), the point set is Delaunay-triangulated,
triangles whose centroid lies outside the polygon or inside a hole are removed, and the interior
nodes get a few steps of Laplacian smoothing.  This conforms to the boundary as long as the
boundary spacing does not exceed the interior spacing, which the construction ensures.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Rectangle", "Polygon", "TriMesh"]


def _as_points(points, name="points"):
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name}: expected an array of shape (k, 2), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name}: contains NaN or inf")
    return p


class TriMesh:
    """A conforming triangulation given by its arrays.

    Parameters
    ----------
    nodes : array_like, shape (N, 2)
        Node coordinates.
    triangles : array_like of int, shape (T, 3)
        Node indices of each triangle (any orientation; stored counter-clockwise).

    Notes
    -----
    ``boundary_edges`` (B, 2) are the edges that belong to one triangle only; the only named
    boundary part is ``"boundary"`` (select other parts with a callable in ``bc``).

    Examples
    --------
    >>> m = TriMesh([[0, 0], [1, 0], [0, 1]], [[0, 1, 2]])
    >>> m.nodes.shape, m.triangles.shape, m.boundary_edges.shape
    ((3, 2), (1, 3), (3, 2))
    """

    def __init__(self, nodes, triangles):
        self.nodes = _as_points(nodes, "nodes")
        t = np.asarray(triangles)
        if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
            raise ValueError(f"triangles: expected an integer array of shape (T, 3), T >= 1, got shape {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            if not np.all(t == np.round(t)):
                raise TypeError(f"triangles: expected integer node indices, got dtype {t.dtype}")
        t = t.astype(np.int64)
        if t.min() < 0 or t.max() >= len(self.nodes):
            raise ValueError(f"triangles: node indices must lie in [0, {len(self.nodes) - 1}], "
                             f"got [{t.min()}, {t.max()}]")
        p = self.nodes[t]
        area2 = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                 - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
        scale = np.ptp(self.nodes, axis=0).max() ** 2
        if np.any(np.abs(area2) <= 1e-14 * scale):
            bad = int(np.argmax(np.abs(area2) <= 1e-14 * scale))
            raise ValueError(f"triangles: triangle {bad} ({t[bad].tolist()}) is degenerate (zero area)")
        neg = area2 < 0
        t[neg] = t[neg][:, [0, 2, 1]]
        self.triangles = t
        self.boundary_edges = _boundary_edges(t)

    def __repr__(self):
        return f"TriMesh({len(self.nodes)} nodes, {len(self.triangles)} triangles)"

    @property
    def h(self) -> float:
        """Longest edge length."""
        p = self.nodes[self.triangles]
        e = p - np.roll(p, 1, axis=1)
        return float(np.sqrt((e**2).sum(-1)).max())

    def triangulate(self, n=None):
        return self

    def boundary_parts(self, points):
        return {"boundary": np.ones(len(points), bool)}

    @property
    def part_names(self):
        return ("boundary",)


def _boundary_edges(t):
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    s = np.sort(e, axis=1)
    _, idx, counts = np.unique(s, axis=0, return_index=True, return_counts=True)
    return e[idx[counts == 1]]


class Rectangle:
    """The rectangle ``[x0, x1] × [y0, y1]``, meshed by a structured triangulation.

    Boundary parts: ``"left"`` (x = x0), ``"right"``, ``"bottom"`` (y = y0), ``"top"``.
    ``triangulate(n)`` puts ``n`` nodes along the longer side (the shorter side in proportion),
    or ``(nx, ny)`` nodes, and cuts every cell along its diagonal from lower left to upper right:
    ``(nx-1)(ny-1)·2`` triangles.

    >>> Rectangle((0, 1), (0, 2)).triangulate(3).nodes.shape     # 2 x 3 nodes
    (6, 2)
    """

    def __init__(self, xrange, yrange):
        self.x0, self.x1 = _interval(xrange, "xrange")
        self.y0, self.y1 = _interval(yrange, "yrange")

    def __repr__(self):
        return f"Rectangle(({self.x0}, {self.x1}), ({self.y0}, {self.y1}))"

    part_names = ("left", "right", "bottom", "top")

    def _sizes(self, n):
        if n is None:
            n = 33
        if np.ndim(n) == 0:
            n = int(n)
            lx, ly = self.x1 - self.x0, self.y1 - self.y0
            nx = n if lx >= ly else max(2, int(round((n - 1) * lx / ly)) + 1)
            ny = n if ly >= lx else max(2, int(round((n - 1) * ly / lx)) + 1)
        else:
            nx, ny = (int(v) for v in n)
        if nx < 2 or ny < 2:
            raise ValueError(f"n: expected at least 2 nodes per side, got {n!r}")
        return nx, ny

    def triangulate(self, n=None):
        nx, ny = self._sizes(n)
        x = np.linspace(self.x0, self.x1, nx)
        y = np.linspace(self.y0, self.y1, ny)
        X, Y = np.meshgrid(x, y, indexing="xy")
        nodes = np.column_stack([X.ravel(), Y.ravel()])
        i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="xy")
        a = (j * nx + i).ravel()  # lower-left corner of each cell
        b, c, d = a + 1, a + nx + 1, a + nx  # lower-right, upper-right, upper-left
        tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
        return TriMesh(nodes, tri)

    def boundary_parts(self, points):
        p = np.asarray(points)
        tol = 1e-10 * max(self.x1 - self.x0, self.y1 - self.y0)
        return {"left": np.abs(p[:, 0] - self.x0) <= tol, "right": np.abs(p[:, 0] - self.x1) <= tol,
                "bottom": np.abs(p[:, 1] - self.y0) <= tol, "top": np.abs(p[:, 1] - self.y1) <= tol}


def _interval(r, name):
    try:
        a, b = (float(v) for v in r)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a pair of numbers (a, b), got {r!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise ValueError(f"{name}: expected finite a < b, got ({a}, {b})")
    return a, b


class Polygon:
    """A polygon, optionally with polygonal holes, meshed by Delaunay triangulation.

    Parameters
    ----------
    vertices : array_like, shape (k, 2)
        The outer boundary (either orientation, not closed: the last vertex joins the first).
    holes : sequence of array_like, each shape (k_i, 2)
        Holes strictly inside.

    Notes
    -----
    Boundary parts: ``"outer"``, ``"hole0"``, ``"hole1"``, ...  ``triangulate(n)`` uses the
    spacing ``h = (bounding-box width) / (n - 1)``; polygon vertices are always nodes.

    Examples
    --------
    >>> L = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    >>> m = L.triangulate(9); round(float(L.area), 12), m.nodes.shape[1]
    (3.0, 2)
    """

    def __init__(self, vertices, holes=()):
        self.rings = [_ring(vertices, "vertices")]
        if isinstance(holes, np.ndarray) and holes.ndim == 2:
            raise ValueError("holes: expected a list of (k, 2) vertex arrays, got one array; wrap it in [...]")
        self.rings += [_ring(h, f"holes[{i}]") for i, h in enumerate(holes)]
        for i, r in enumerate(self.rings[1:]):
            if not np.all(_inside_ring(r, self.rings[0])):
                raise ValueError(f"holes[{i}]: the hole is not inside the outer polygon")

    def __repr__(self):
        return f"Polygon({len(self.rings[0])} vertices, {len(self.rings) - 1} holes)"

    @property
    def part_names(self):
        return ("outer",) + tuple(f"hole{i}" for i in range(len(self.rings) - 1))

    @property
    def area(self) -> float:
        return abs(_signed_area(self.rings[0])) - sum(abs(_signed_area(r)) for r in self.rings[1:])

    def contains(self, points):
        """Bool mask (k,): strictly inside the outer ring and outside every hole."""
        p = np.asarray(points, dtype=np.float64)
        inside = _inside_ring(p, self.rings[0])
        for r in self.rings[1:]:
            inside &= ~_inside_ring(p, r)
        return inside

    def triangulate(self, n=None, smooth=3):
        n = 33 if n is None else int(n)
        if n < 3:
            raise ValueError(f"n: expected at least 3, got {n}")
        lo, hi = self.rings[0].min(0), self.rings[0].max(0)
        h = float((hi - lo).max()) / (n - 1)
        # boundary points: each edge cut into ceil(len / h) pieces
        bpts = []
        for r in self.rings:
            a, b = r, np.roll(r, -1, axis=0)
            k = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / h).astype(int))
            t = np.concatenate([np.arange(ki) / ki for ki in k])
            e = np.repeat(np.arange(len(r)), k)
            bpts.append(a[e] + t[:, None] * (b[e] - a[e]))
        bpts = np.concatenate(bpts)
        # interior: hexagonal lattice of spacing h, kept >= h/2 from the boundary
        dy = h * np.sqrt(3) / 2
        ys = np.arange(lo[1] + dy / 2, hi[1], dy)
        xs = np.arange(lo[0], hi[0] + h, h)
        X, Y = np.meshgrid(xs, ys)
        X = X + (np.arange(len(ys)) % 2)[:, None] * h / 2
        ipts = np.column_stack([X.ravel(), Y.ravel()])
        ipts = ipts[self.contains(ipts)]
        ipts = ipts[self._distance(ipts) > 0.5 * h]
        pts = np.concatenate([bpts, ipts])
        from scipy.spatial import Delaunay  # here: scipy.spatial costs ~0.5 s of import time

        tri = Delaunay(pts).simplices
        tri = tri[self.contains(pts[tri].mean(axis=1))]
        used = np.unique(tri)
        remap = np.full(len(pts), -1)
        remap[used] = np.arange(len(used))
        pts, tri = pts[used], remap[tri]
        nb = int(np.sum(used < len(bpts)))  # boundary points come first and stay
        for _ in range(smooth):  # Laplacian smoothing of the interior nodes (vectorised)
            e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
            e = np.unique(np.sort(e, axis=1), axis=0)
            e = np.concatenate([e, e[:, ::-1]])
            deg = np.bincount(e[:, 0], minlength=len(pts))
            avg = np.column_stack([np.bincount(e[:, 0], pts[e[:, 1], c], len(pts)) for c in (0, 1)]) / deg[:, None]
            new = pts.copy()
            new[nb:] = avg[nb:]
            pts = new
        return TriMesh(pts, tri)

    def _distance(self, points):
        """Distance (k,) from each point to the nearest boundary edge."""
        return np.min([Polygon._ring_distance(points, r) for r in self.rings], axis=0)

    def boundary_parts(self, points):
        p = np.asarray(points, dtype=np.float64)
        lo, hi = self.rings[0].min(0), self.rings[0].max(0)
        tol = 1e-9 * float((hi - lo).max())
        out = {}
        for name, r in zip(self.part_names, self.rings):
            out[name] = Polygon._ring_distance(p, r) <= tol
        return out

    @staticmethod
    def _ring_distance(points, r):
        a, b = r, np.roll(r, -1, axis=0)
        d = b - a
        out = np.empty(len(points))
        for s in range(0, len(points), 4096):
            p = points[s:s + 4096, None, :]
            t = np.clip(((p - a) * d).sum(-1) / (d**2).sum(-1), 0, 1)
            out[s:s + 4096] = np.sqrt((((a + t[..., None] * d) - p) ** 2).sum(-1)).min(1)
        return out


def _ring(v, name):
    r = _as_points(v, name)
    if len(r) < 3:
        raise ValueError(f"{name}: a polygon needs at least 3 vertices, got {len(r)}")
    if np.allclose(r[0], r[-1]):
        r = r[:-1]
    if abs(_signed_area(r)) <= 1e-14 * np.ptp(r, axis=0).max() ** 2:
        raise ValueError(f"{name}: the polygon has zero area")
    return r


def _signed_area(r):
    x, y = r[:, 0], r[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _inside_ring(points, r):
    """Even-odd rule, vectorised over points (k, 2) and edges."""
    p = np.asarray(points, dtype=np.float64)
    out = np.zeros(len(p), bool)
    a, b = r, np.roll(r, -1, axis=0)
    for s in range(0, len(p), 4096):
        x, y = p[s:s + 4096, 0:1], p[s:s + 4096, 1:2]
        cond = (a[:, 1] > y) != (b[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        out[s:s + 4096] = (np.sum(cond & (x < xc), axis=1) % 2) == 1
    return out
