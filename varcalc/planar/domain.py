"""Planar domains and their triangulations: :class:`Rectangle`, :class:`Polygon` (with holes),
:class:`Disk`, :class:`Annulus` and a user-given (or file-read) :class:`TriMesh`.

Every domain answers two questions:

* ``triangulate(n)`` -> a :class:`TriMesh` (nodes (N, 2), triangles (T, 3), counter-clockwise);
* ``boundary_parts(points)`` -> ``{name: bool mask}`` for points that lie on the boundary
  (used to apply Dirichlet data given per named part: ``"left"``, ``"outer"``, ``"hole0"``...).

Polygons, disks and annuli are meshed by Shewchuk's Triangle (the ``triangle`` package):
a quality-constrained conforming Delaunay triangulation of the boundary (cut to spacing ``h``)
with minimum angle 30° and maximum area ``(√3/4) h²`` (an equilateral triangle of side ``h``).
Curved boundaries (disk, annulus) put their boundary nodes on the circles, forbid Triangle to
add points on the chords (``Y``: they would lie off the circle), and carry a projection onto the
circles (:attr:`TriMesh.boundary_projection`) with which P2 places the mid-edge nodes of boundary
edges on the curve (isoparametric triangles, see :mod:`varcalc.planar.assemble`).

Geometry is checked at the door: a polygon whose boundary crosses or touches itself, holes that
overlap, cross the outer boundary or lie outside it, and a :class:`TriMesh` that is folded,
overlapping or not a surface (an edge in three triangles) raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DOMAINS", "Annulus", "Disk", "Polygon", "Rectangle", "TriMesh"]

MIN_ANGLE = 30  # degrees: Triangle's quality bound (it guarantees termination up to ~33.8°)


def _as_points(points, name="points"):
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name}: expected an array of shape (k, 2), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name}: contains NaN or inf")
    return p


# -- geometry helpers (vectorised) --------------------------------------------------------------


def _signed_area(r):
    x, y = r[:, 0], r[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _tri_area2(p):
    """Twice the signed areas (T,) of triangles given by their vertices (T, 3, 2)."""
    return (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])


def _inside_ring(points, r):
    """Even-odd rule, vectorised over points (k, 2) and edges."""
    p = np.asarray(points, dtype=np.float64)
    out = np.zeros(len(p), bool)
    a, b = r, np.roll(r, -1, axis=0)
    for s in range(0, len(p), 4096):
        x, y = p[s : s + 4096, 0:1], p[s : s + 4096, 1:2]
        cond = (a[:, 1] > y) != (b[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        out[s : s + 4096] = (np.sum(cond & (x < xc), axis=1) % 2) == 1
    return out


def _candidate_pairs(lo, hi):
    """Pairs (i < j) of boxes [lo, hi] (S, 2) that overlap: sort by x-min, pair each box with the
    boxes starting before its x-max (a sweep, vectorised), keep those whose y-ranges meet.
    O(S log S + pairs): a few hundred edges of a polygon or the boundary of a large mesh."""
    order = np.argsort(lo[:, 0], kind="stable")
    xs = lo[order, 0]
    stop = np.searchsorted(xs, hi[order, 0], side="right")  # boxes k < stop start before i's x-max
    counts = np.maximum(stop - np.arange(len(xs)) - 1, 0)
    i = np.repeat(np.arange(len(xs)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    j = i + 1 + offs
    a, b = order[i], order[j]
    keep = (lo[a, 1] <= hi[b, 1]) & (lo[b, 1] <= hi[a, 1])
    return a[keep], b[keep]


def _crossing_segments(points, seg):
    """Pairs (a, b) of segments (node indices ``seg`` (S, 2) into ``points`` (N, 2)) that cross or
    touch; segments sharing a node count only when they overlap along a line (a spike).
    Orientation tests with a tolerance of 1e-12 of the squared extent decide collinearity."""
    P, Q = points[seg[:, 0]], points[seg[:, 1]]
    scale = float(np.ptp(points, axis=0).max()) ** 2
    tol = 1e-12 * scale
    a, b = _candidate_pairs(np.minimum(P, Q), np.maximum(P, Q))
    if len(a) == 0:
        return np.zeros((0, 2), np.int64)

    def orient(p, q, r):
        o = (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])
        return np.where(np.abs(o) <= tol, 0.0, np.sign(o))

    def on_segment(p, q, r):  # r collinear with p, q: inside the closed box of p, q
        return np.all(
            (np.minimum(p, q) - 1e-12 * np.sqrt(scale) <= r) & (r <= np.maximum(p, q) + 1e-12 * np.sqrt(scale)), axis=1
        )

    p1, q1, p2, q2 = P[a], Q[a], P[b], Q[b]
    o1, o2, o3, o4 = orient(p1, q1, p2), orient(p1, q1, q2), orient(p2, q2, p1), orient(p2, q2, q1)
    hit = (o1 * o2 < 0) & (o3 * o4 < 0)
    hit |= (o1 == 0) & on_segment(p1, q1, p2)
    hit |= (o2 == 0) & on_segment(p1, q1, q2)
    hit |= (o3 == 0) & on_segment(p2, q2, p1)
    hit |= (o4 == 0) & on_segment(p2, q2, q1)
    sa, sb = seg[a], seg[b]
    shared = (sa[:, :, None] == sb[:, None, :]).any(axis=(1, 2))
    # Segments with a common node touch there; they are bad only if they run along each other:
    # collinear (both free ends on the line) and the free ends on the same side of the shared node.
    same = shared & (o1 == 0) & (o2 == 0)
    if same.any():
        s = np.flatnonzero(same)
        common = np.where((sa[s, 0] == sb[s, 0]) | (sa[s, 0] == sb[s, 1]), sa[s, 0], sa[s, 1])
        fa = np.where(sa[s, 0] == common, sa[s, 1], sa[s, 0])
        fb = np.where(sb[s, 0] == common, sb[s, 1], sb[s, 0])
        c = points[common]
        same[s] = np.sum((points[fa] - c) * (points[fb] - c), axis=1) > 0
    bad = (hit & ~shared) | same
    return np.column_stack([a[bad], b[bad]])


# -- TriMesh -------------------------------------------------------------------------------------


class TriMesh:
    """A conforming triangulation given by its arrays, checked at the door.

    Parameters
    ----------
    nodes : array_like, shape (N, 2)
        Node coordinates.
    triangles : array_like of int, shape (T, 3)
        Node indices of each triangle (any orientation; stored counter-clockwise).

    Notes
    -----
    The mesh must be a valid triangulation of a planar domain: no degenerate triangle, every node
    a vertex of some triangle, every edge in one (boundary) or two (interior) triangles, the two
    triangles of an interior edge on opposite sides of it (orientation consistent: not folded),
    the boundary edges not crossing, and the triangles' total area equal to the area enclosed by
    the boundary (not overlapping or wrapped around a node).  Otherwise ``ValueError`` names the
    problem and a triangle or edge where it occurs.  The checks are vectorised (sorting the edges).

    ``boundary_edges`` (B, 2) are the edges that belong to one triangle only (oriented with the
    domain on their left); the only named boundary part is ``"boundary"`` (select other parts
    with a callable in ``bc``).  ``boundary_projection`` (callable points (k, 2) -> (k, 2), or
    None) maps points of boundary edges onto the true, curved boundary (set by :class:`Disk` and
    :class:`Annulus`; P2 puts its boundary mid-edge nodes there).

    Read a mesh file (Gmsh ``.msh``, VTK/VTU, Medit, XDMF, ... through meshio) with
    :meth:`TriMesh.read`.

    Examples
    --------
    >>> m = TriMesh([[0, 0], [1, 0], [0, 1]], [[0, 1, 2]])
    >>> m.nodes.shape, m.triangles.shape, m.boundary_edges.shape
    ((3, 2), (1, 3), (3, 2))
    """

    boundary_projection = None

    def __init__(self, nodes: ArrayLike, triangles: ArrayLike) -> None:
        self.nodes = _as_points(nodes, "nodes")
        t = np.asarray(triangles)
        if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
            raise ValueError(f"triangles: expected an integer array of shape (T, 3), T >= 1, got shape {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            if not np.all(t == np.round(t)):
                raise TypeError(f"triangles: expected integer node indices, got dtype {t.dtype}")
        t = t.astype(np.int64)
        if t.min() < 0 or t.max() >= len(self.nodes):
            raise ValueError(
                f"triangles: node indices must lie in [0, {len(self.nodes) - 1}], got [{t.min()}, {t.max()}]"
            )
        area2 = _tri_area2(self.nodes[t])
        scale = np.ptp(self.nodes, axis=0).max() ** 2
        if np.any(np.abs(area2) <= 1e-14 * scale):
            bad = int(np.argmax(np.abs(area2) <= 1e-14 * scale))
            raise ValueError(f"triangles: triangle {bad} ({t[bad].tolist()}) is degenerate (zero area)")
        neg = area2 < 0
        t[neg] = t[neg][:, [0, 2, 1]]
        self.triangles = t
        self.boundary_edges = _check_triangulation(self.nodes, t, np.abs(area2))

    @classmethod
    def _trusted(cls, nodes, triangles, boundary_projection=None, boundary_edges=None):
        """A mesh made by varcalc's own meshers (counter-clockwise, valid): no checks."""
        m = cls.__new__(cls)
        m.nodes = np.ascontiguousarray(nodes, dtype=np.float64)
        m.triangles = np.ascontiguousarray(triangles, dtype=np.int64)
        m.boundary_edges = _boundary_edges(m.triangles, len(m.nodes)) if boundary_edges is None else boundary_edges
        m.boundary_projection = boundary_projection
        return m

    @classmethod
    def read(cls, path: str | os.PathLike) -> TriMesh:
        """Read a triangle mesh from a file with meshio (Gmsh ``.msh``, ``.vtu``/``.vtk``,
        ``.mesh``, ``.xdmf``, ... whatever meshio reads that holds triangles).

        All ``triangle`` cell blocks are used (``triangle6``: their vertices; the P2 nodes are
        rebuilt by the solver); nodes used by no triangle (geometry points of a Gmsh file) are
        dropped; points must be planar (a third coordinate, if any, constant).  The boundary is
        the mesh's boundary edges (part ``"boundary"``); Gmsh physical lines with a name become
        boundary parts of that name (for ``bc={"inlet": ...}``).  The mesh is checked like any
        :class:`TriMesh`.

        >>> import meshio, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "square.msh")
        >>> meshio.write(path, meshio.Mesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]],
        ...                                [("triangle", [[0, 1, 2], [0, 2, 3]])]), file_format="gmsh22")
        >>> TriMesh.read(path)
        TriMesh(4 nodes, 2 triangles)
        """
        import contextlib
        import io

        import meshio

        try:
            with contextlib.redirect_stdout(io.StringIO()):  # meshio's gmsh reader prints blank lines
                m = meshio.read(path)
        except Exception as exc:
            raise ValueError(f"path: meshio could not read {str(path)!r}: {exc}") from exc
        blocks = [np.asarray(c.data)[:, :3] for c in m.cells if c.type in ("triangle", "triangle6", "triangle7")]
        if not blocks:
            kinds = sorted({c.type for c in m.cells})
            raise ValueError(f"path: {str(path)!r} holds no triangles (cell types: {', '.join(kinds) or 'none'})")
        tri = np.concatenate(blocks).astype(np.int64)
        pts = np.asarray(m.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] not in (2, 3):
            raise ValueError(f"path: expected points of shape (N, 2) or (N, 3), got {pts.shape}")
        if pts.shape[1] == 3:
            z = pts[tri.ravel(), 2]
            if np.ptp(z) > 1e-12 * max(np.ptp(pts[:, :2], axis=0).max(), 1e-300):
                raise ValueError(
                    f"path: the mesh in {str(path)!r} is not planar (z varies from {z.min()} to {z.max()})"
                )
        used = np.unique(tri)
        remap = np.full(len(pts), -1, np.int64)
        remap[used] = np.arange(len(used))
        mesh = cls(pts[used, :2], remap[tri])
        # Gmsh physical lines ("$PhysicalNames" of dimension 1) become named boundary parts
        names = {
            int(tag): name
            for name, (tag, dim) in getattr(m, "field_data", {}).items()
            if np.ndim((tag, dim)) == 1 and int(dim) == 1
        }
        phys = m.cell_data.get("gmsh:physical")
        if names and phys is not None:
            parts = {}
            for c, tags in zip(m.cells, phys):
                if c.type != "line":
                    continue
                e = remap[np.asarray(c.data)[:, :2]]
                for tag in np.unique(tags):
                    if int(tag) in names and np.all(e[tags == tag] >= 0):
                        parts.setdefault(names[int(tag)], []).append(e[tags == tag])
            mesh._parts = {k: np.concatenate(v) for k, v in parts.items() if k != "boundary"}
        return mesh

    def __repr__(self):
        return f"TriMesh({len(self.nodes)} nodes, {len(self.triangles)} triangles)"

    @property
    def h(self) -> float:
        """Longest edge length."""
        p = self.nodes[self.triangles]
        e = p - np.roll(p, 1, axis=1)
        return float(np.sqrt((e**2).sum(-1)).max())

    @property
    def area(self) -> float:
        """Total area of the triangles."""
        return 0.5 * float(np.sum(_tri_area2(self.nodes[self.triangles])))

    def triangulate(self, n: int | tuple[int, int] | None = None) -> TriMesh:
        return self

    _parts = {}  # named boundary parts read from a file: name -> edges (k, 2)

    def boundary_parts(self, points: ArrayLike) -> dict[str, np.ndarray]:
        """``"boundary"``: every boundary point; parts read from a file (Gmsh physical lines):
        the points at a vertex or an edge midpoint of that part's edges (k-d tree, tolerance
        1e-9 of the mesh size)."""
        p = np.asarray(points, dtype=np.float64)
        out = {"boundary": np.ones(len(p), bool)}
        if self._parts:
            from scipy.spatial import cKDTree

            tol = 1e-9 * float(np.ptp(self.nodes, axis=0).max())
            for name, e in self._parts.items():
                ends = self.nodes[e]  # (k, 2, 2)
                marks = np.concatenate([ends.reshape(-1, 2), ends.mean(axis=1)])
                out[name] = cKDTree(marks).query(p, distance_upper_bound=tol)[0] <= tol
        return out

    @property
    def part_names(self) -> tuple[str, ...]:
        return ("boundary",) + tuple(self._parts)


def _boundary_edges(t, n_nodes=None):
    """Boundary edges (B, 2) of triangles t (T, 3), as directed in their triangle."""
    return _edge_groups(t, int(t.max()) + 1 if n_nodes is None else n_nodes)[0]


def _edge_groups(t, n_nodes):
    """Boundary edges (B, 2) as directed in their triangle, and for the checks: the unique-edge
    index of each directed edge (3T,), the edge counts and the directed edges (3T, 2).  One
    integer sort of the 3T edge keys (faster than ``np.unique(axis=0)`` on pairs)."""
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    key = np.minimum(e[:, 0], e[:, 1]) * n_nodes + np.maximum(e[:, 0], e[:, 1])
    order = np.argsort(key)
    ks = key[order]
    start = np.concatenate([[True], ks[1:] != ks[:-1]])
    gid = np.cumsum(start) - 1  # unique-edge index along the sorted keys
    counts = np.diff(np.append(np.flatnonzero(start), len(ks)))
    inv = np.empty_like(gid)
    inv[order] = gid
    return e[np.sort(order[start & (counts[gid] == 1)])], inv, counts, e


def _check_triangulation(nodes, t, area2):
    """The validity checks of :class:`TriMesh` (t counter-clockwise); returns the boundary edges."""
    T = len(t)
    bedges, inv, counts, e = _edge_groups(t, len(nodes))
    tri_of = np.tile(np.arange(T), 3)
    if np.any(counts > 2):
        k = int(np.argmax(counts > 2))
        tris = np.flatnonzero(inv == k) % T
        raise ValueError(
            f"triangles: edge {e[np.flatnonzero(inv == k)[0]].tolist()} belongs to {counts[k]} "
            f"triangles ({tris.tolist()}): the mesh overlaps itself (an edge is in at most two)"
        )
    # An interior edge is traversed once in each direction by its two counter-clockwise triangles;
    # the same direction twice means both lie on the same side: one is folded over the other.
    forward = np.bincount(inv, weights=(e[:, 0] < e[:, 1]).astype(np.float64), minlength=len(counts))
    folded = (counts == 2) & (forward != 1)
    if folded.any():
        k = int(np.argmax(folded))
        tris = tri_of[np.flatnonzero(inv == k)]
        raise ValueError(
            f"triangles: triangles {tris.tolist()} lie on the same side of their common edge "
            f"{e[np.flatnonzero(inv == k)[0]].tolist()}: the mesh is folded (overlapping triangles)"
        )
    used = np.zeros(len(nodes), bool)
    used[t.ravel()] = True
    if not used.all():
        raise ValueError(
            f"nodes: node {int(np.argmin(used))} is a vertex of no triangle "
            f"({int(np.sum(~used))} unused nodes); remove them"
        )
    cross = _crossing_segments(nodes, bedges)
    if len(cross):
        a, b = cross[0]
        raise ValueError(
            f"triangles: boundary edges {bedges[a].tolist()} and {bedges[b].tolist()} cross: the mesh overlaps itself"
        )
    # Locally consistent and a simple boundary, yet a node's triangles can wind around it twice:
    # then they cover more than the boundary encloses (Green: ∮ x dy - y dx / 2 over the boundary).
    P, Q = nodes[bedges[:, 0]], nodes[bedges[:, 1]]
    enclosed = 0.5 * float(np.sum(P[:, 0] * Q[:, 1] - Q[:, 0] * P[:, 1]))
    covered = 0.5 * float(np.sum(area2))
    if abs(covered - enclosed) > 1e-9 * covered:
        raise ValueError(
            f"triangles: the triangles cover area {covered:.12g} but the boundary encloses "
            f"{enclosed:.12g}: the mesh overlaps itself (wound around a node)"
        )
    return bedges


# -- Rectangle -----------------------------------------------------------------------------------


class Rectangle:
    """The rectangle ``[x0, x1] × [y0, y1]``, meshed by a structured triangulation.

    Boundary parts: ``"left"`` (x = x0), ``"right"``, ``"bottom"`` (y = y0), ``"top"``.
    ``triangulate(n)`` puts ``n`` nodes along the longer side (the shorter side in proportion),
    or ``(nx, ny)`` nodes, and cuts every cell along its diagonal from lower left to upper right:
    ``(nx-1)(ny-1)·2`` triangles.

    >>> Rectangle((0, 1), (0, 2)).triangulate(3).nodes.shape     # 2 x 3 nodes
    (6, 2)
    """

    def __init__(self, xrange: tuple[float, float], yrange: tuple[float, float]) -> None:
        self.x0, self.x1 = _interval(xrange, "xrange")
        self.y0, self.y1 = _interval(yrange, "yrange")

    def __repr__(self):
        return f"Rectangle(({self.x0}, {self.x1}), ({self.y0}, {self.y1}))"

    part_names = ("left", "right", "bottom", "top")

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

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

    def triangulate(self, n: int | tuple[int, int] | None = None) -> TriMesh:
        nx, ny = self._sizes(n)
        x = np.linspace(self.x0, self.x1, nx)
        y = np.linspace(self.y0, self.y1, ny)
        X, Y = np.meshgrid(x, y, indexing="xy")
        nodes = np.column_stack([X.ravel(), Y.ravel()])
        i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="xy")
        a = (j * nx + i).ravel()  # lower-left corner of each cell
        b, c, d = a + 1, a + nx + 1, a + nx  # lower-right, upper-right, upper-left
        tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
        # the boundary edges, counter-clockwise: bottom, right, top, left (no sort of all edges)
        i, j = np.arange(nx - 1), np.arange(ny - 1)
        top = (ny - 1) * nx + i
        bedges = np.concatenate(
            [
                np.column_stack([i, i + 1]),
                np.column_stack([j * nx + nx - 1, (j + 2) * nx - 1]),
                np.column_stack([top + 1, top]),
                np.column_stack([(j + 1) * nx, j * nx]),
            ]
        )
        return TriMesh._trusted(nodes, tri, boundary_edges=bedges)

    def contains(self, points: ArrayLike) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return (p[:, 0] > self.x0) & (p[:, 0] < self.x1) & (p[:, 1] > self.y0) & (p[:, 1] < self.y1)

    def boundary_parts(self, points: ArrayLike) -> dict[str, np.ndarray]:
        p = np.asarray(points)
        tol = 1e-10 * max(self.x1 - self.x0, self.y1 - self.y0)
        return {
            "left": np.abs(p[:, 0] - self.x0) <= tol,
            "right": np.abs(p[:, 0] - self.x1) <= tol,
            "bottom": np.abs(p[:, 1] - self.y0) <= tol,
            "top": np.abs(p[:, 1] - self.y1) <= tol,
        }


def _interval(r, name):
    try:
        a, b = (float(v) for v in r)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a pair of numbers (a, b), got {r!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise ValueError(f"{name}: expected finite a < b, got ({a}, {b})")
    return a, b


# -- Triangle ------------------------------------------------------------------------------------


def _spacing(extent, n):
    n = 33 if n is None else n
    if np.ndim(n) != 0:
        raise TypeError(f"n: expected one integer (nodes across the domain's bounding box), got {n!r}")
    n = int(n)
    if n < 3:
        raise ValueError(f"n: expected at least 3, got {n}")
    return float(extent) / (n - 1)


def _area_option(a):
    # Triangle parses the number after 'a' digit by digit: no exponent notation ('1e-3' is read
    # as 'a1', then the switch 'e').
    return "a" + np.format_float_positional(float(a), precision=17, unique=True, trim="-")


def _run_triangle(pslg, opts):
    import triangle

    try:
        out = triangle.triangulate(pslg, opts)
    except Exception as exc:
        raise ValueError(f"Triangle failed to mesh the domain ({exc}); check the geometry") from exc
    if "triangles" not in out or len(out["triangles"]) == 0:
        raise ValueError("Triangle produced no triangles; check the geometry (are the holes inside?)")
    return out


def mesh_pslg(vertices, segments, holes, h, curved=False, projection=None):
    """Quality mesh of a planar straight-line graph by Triangle, seeded with a triangular
    (hexagonal) lattice of spacing ``h``: minimum angle ``MIN_ANGLE``, maximum area
    ``1.2 (√3/4) h²``; ``curved``: no points added on boundary segments (they would lie off the
    curve).  Returns a :class:`TriMesh`.

    Why the lattice: Triangle's own refinement leaves an irregular mesh, on which P1's nodal
    error converges at order ~1.6 (the L-shaped p-Laplacian, n = 17 -> 33); equilateral
    triangles inside keep the nodal superconvergence of a regular mesh (order ~2), with fewer
    nodes for the same h.  Lattice points nearer than ~h/2 to the boundary are dropped (k-d tree
    on the boundary points, spacing <= h), those outside the domain are removed by Triangle
    itself (``j``: it eats the triangles outside the segments and in the holes)."""
    from scipy.spatial import cKDTree  # here: scipy.spatial costs ~0.5 s of import time

    vertices = np.asarray(vertices, np.float64)
    lo, hi = vertices.min(0), vertices.max(0)
    dy = h * np.sqrt(3) / 2
    ys = np.arange(lo[1] + dy / 2, hi[1], dy)
    xs = np.arange(lo[0], hi[0] + h, h)
    X, Y = np.meshgrid(xs, ys)
    X = X + (np.arange(len(ys)) % 2)[:, None] * h / 2
    lattice = np.column_stack([X.ravel(), Y.ravel()])
    # nearest boundary point at distance d_p: the boundary (pieces <= h) is at least
    # sqrt(d_p² - h²/4) away, so d_p >= 0.7 h keeps the lattice >= 0.49 h from it
    lattice = lattice[cKDTree(vertices).query(lattice, distance_upper_bound=0.7 * h)[0] > 0.7 * h]
    pslg = dict(vertices=np.concatenate([vertices, lattice]), segments=np.asarray(segments, np.int32))
    if len(holes):
        pslg["holes"] = np.asarray(holes, np.float64)
    opts = f"pjq{MIN_ANGLE}{_area_option(1.2 * np.sqrt(3) / 4 * h * h)}Q" + ("Y" if curved else "")
    out = _run_triangle(pslg, opts)
    return TriMesh._trusted(out["vertices"], out["triangles"], projection)


def refine_mesh(mesh, max_area):
    """Refine ``mesh`` with Triangle (``r``): triangle ``i`` is split until its pieces have area
    at most ``max_area[i]`` (<= 0: no constraint), keeping the boundary (its edges as segments)
    and the quality bound.  Points Triangle adds on the boundary lie on its edges; on a curved
    domain (``mesh.boundary_projection``, a :class:`Disk` or :class:`Annulus`) they are moved onto
    the curve, so refinement also refines the boundary (unless that would invert a triangle: then
    the chord is kept).  Returns a :class:`TriMesh`."""
    pslg = dict(
        vertices=mesh.nodes,
        triangles=mesh.triangles.astype(np.int32),
        segments=mesh.boundary_edges.astype(np.int32),
        triangle_max_area=np.asarray(max_area, np.float64),
    )
    out = _run_triangle(pslg, f"rpq{MIN_ANGLE}aQ")
    nodes, triangles, project = out["vertices"], out["triangles"], mesh.boundary_projection
    refined = TriMesh._trusted(nodes, triangles, project)
    new = np.unique(refined.boundary_edges)
    new = new[new >= len(mesh.nodes)]  # boundary points added by this refinement
    if project is None or new.size == 0:
        return refined
    moved = nodes.copy()
    moved[new] = project(nodes[new])
    if np.all(_tri_area2(moved[refined.triangles]) > 0):  # (Triangle's output is counter-clockwise)
        refined.nodes = moved
    return refined


def _interior_point(ring):
    """A point strictly inside a simple polygon: the centroid of the largest triangle of its
    constrained triangulation (a hole marker for Triangle)."""
    k = len(ring)
    out = _run_triangle(dict(vertices=ring, segments=np.column_stack([np.arange(k), (np.arange(k) + 1) % k])), "pQ")
    p = out["vertices"][out["triangles"]]
    return p[np.argmax(np.abs(_tri_area2(p)))].mean(axis=0)


# -- Polygon -------------------------------------------------------------------------------------


class Polygon:
    """A polygon, optionally with polygonal holes, meshed by Triangle.

    Parameters
    ----------
    vertices : array_like, shape (k, 2)
        The outer boundary (either orientation, not closed: the last vertex joins the first).
    holes : sequence of array_like, each shape (k_i, 2)
        Holes strictly inside.

    Notes
    -----
    Raises ``ValueError`` when a ring crosses or touches itself (or has a repeated vertex), when
    holes overlap or touch each other or the outer boundary, lie outside the polygon or inside
    another hole.

    Boundary parts: ``"outer"``, ``"hole0"``, ``"hole1"``, ...  ``triangulate(n)`` uses the
    spacing ``h = (bounding-box width) / (n - 1)``: boundary edges cut into pieces of length
    ``<= h``, triangles of area ``<= (√3/4) h²`` and angles ``>= 30°``; polygon vertices are
    always nodes.

    Examples
    --------
    >>> L = Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])
    >>> m = L.triangulate(9); round(float(L.area), 12), round(m.area, 12)
    (3.0, 3.0)
    """

    def __init__(self, vertices: ArrayLike, holes: Sequence[ArrayLike] | np.ndarray = ()) -> None:
        self.rings = [_ring(vertices, "vertices")]
        if isinstance(holes, np.ndarray) and holes.ndim == 2:
            raise ValueError("holes: expected a list of (k, 2) vertex arrays, got one array; wrap it in [...]")
        self.rings += [_ring(h, f"holes[{i}]") for i, h in enumerate(holes)]
        _check_rings(self.rings)
        self._hole_points = None

    def __repr__(self):
        return f"Polygon({len(self.rings[0])} vertices, {len(self.rings) - 1} holes)"

    @property
    def part_names(self) -> tuple[str, ...]:
        return ("outer",) + tuple(f"hole{i}" for i in range(len(self.rings) - 1))

    @property
    def area(self) -> float:
        return abs(_signed_area(self.rings[0])) - sum(abs(_signed_area(r)) for r in self.rings[1:])

    def contains(self, points: ArrayLike) -> np.ndarray:
        """Bool mask (k,): strictly inside the outer ring and outside every hole."""
        p = np.asarray(points, dtype=np.float64)
        inside = _inside_ring(p, self.rings[0])
        for r in self.rings[1:]:
            inside &= ~_inside_ring(p, r)
        return inside

    def _pslg(self, h):
        """Boundary points (edges cut to spacing <= h), segments and hole markers."""
        pts, segs, off = [], [], 0
        for r in self.rings:
            a, b = r, np.roll(r, -1, axis=0)
            k = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / h * (1 - 1e-12)).astype(int))
            t = np.concatenate([np.arange(ki) / ki for ki in k])
            e = np.repeat(np.arange(len(r)), k)
            p = a[e] + t[:, None] * (b[e] - a[e])
            m = len(p)
            segs.append(off + np.column_stack([np.arange(m), (np.arange(m) + 1) % m]))
            pts.append(p)
            off += m
        if self._hole_points is None:
            self._hole_points = [_interior_point(r) for r in self.rings[1:]]
        return np.concatenate(pts), np.concatenate(segs), self._hole_points

    def triangulate(self, n: int | None = None) -> TriMesh:
        lo, hi = self.rings[0].min(0), self.rings[0].max(0)
        h = _spacing((hi - lo).max(), n)
        v, s, holes = self._pslg(h)
        return mesh_pslg(v, s, holes, h)

    def boundary_parts(self, points: ArrayLike) -> dict[str, np.ndarray]:
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
            p = points[s : s + 4096, None, :]
            t = np.clip(((p - a) * d).sum(-1) / (d**2).sum(-1), 0, 1)
            out[s : s + 4096] = np.sqrt((((a + t[..., None] * d) - p) ** 2).sum(-1)).min(1)
        return out


def _ring(v, name):
    r = _as_points(v, name)
    if len(r) < 3:
        raise ValueError(f"{name}: a polygon needs at least 3 vertices, got {len(r)}")
    if np.allclose(r[0], r[-1]):
        r = r[:-1]
    ext = np.ptp(r, axis=0).max()
    step = np.linalg.norm(np.roll(r, -1, axis=0) - r, axis=1)
    if np.any(step <= 1e-12 * ext):
        i = int(np.argmax(step <= 1e-12 * ext))
        raise ValueError(f"{name}: vertices {i} and {(i + 1) % len(r)} coincide ({r[i].tolist()}); remove the repeat")
    return r


def _meeting_point(s, t):
    """Where segments s, t (2, 2) meet: the lines' intersection, or (parallel) t's first end on s."""
    d1, d2 = s[1] - s[0], t[1] - t[0]
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) <= 1e-14 * (np.abs(d1).max() * np.abs(d2).max()):
        return t[0]
    r = t[0] - s[0]
    return s[0] + (r[0] * d2[1] - r[1] * d2[0]) / den * d1


def _check_rings(rings):
    """Rings simple and disjoint; holes inside the outer ring and not inside each other."""
    names = ["vertices"] + [f"holes[{i}]" for i in range(len(rings) - 1)]
    sizes = [len(r) for r in rings]
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    seg = np.concatenate([s + np.column_stack([np.arange(k), (np.arange(k) + 1) % k]) for s, k in zip(start, sizes)])
    ring_of = np.repeat(np.arange(len(rings)), sizes)
    pts = np.concatenate(rings)
    cross = _crossing_segments(pts, seg)
    if len(cross):
        a, b = (int(v) for v in cross[0])
        ra, rb = ring_of[a], ring_of[b]
        ea, eb = a - start[ra], b - start[rb]
        if ra == rb:
            where = np.round(_meeting_point(pts[seg[a]], pts[seg[b]]), 12).tolist()
            raise ValueError(
                f"{names[ra]}: the boundary crosses or touches itself (edges {ea} and {eb}, "
                f"near {where}); a polygon must be simple"
            )
        ra, rb, ea, eb = (rb, ra, eb, ea) if ra > rb else (ra, rb, ea, eb)
        what = "crosses or touches the outer boundary" if ra == 0 else f"overlaps or touches {names[ra]}"
        raise ValueError(f"{names[rb]}: the hole {what} (its edge {eb} meets edge {ea} of {names[ra]})")
    for name, r in zip(names, rings):  # simple, so zero area means all vertices on a line
        if abs(_signed_area(r)) <= 1e-14 * np.ptp(r, axis=0).max() ** 2:
            raise ValueError(f"{name}: the polygon has zero area")
    # no crossings: one vertex per ring tells containment
    for i in range(1, len(rings)):
        if not _inside_ring(rings[i][:1], rings[0])[0]:
            raise ValueError(f"{names[i]}: the hole is not inside the outer polygon")
        for j in range(1, len(rings)):
            if j != i and _inside_ring(rings[i][:1], rings[j])[0]:
                raise ValueError(f"{names[i]}: the hole lies inside {names[j]} (holes must not overlap)")


# -- curved domains --------------------------------------------------------------------------------


def _center(center):
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (2,) or not np.all(np.isfinite(c)):
        raise ValueError(f"center: expected a finite point (x, y), got {center!r}")
    return c


def _radius(r, name):
    try:
        r = float(r)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {r!r}") from None
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"{name}: expected a finite radius > 0, got {r}")
    return r


def _circle(center, radius, h):
    """Points on the circle at spacing about h (at least 8, so the chords stay close)."""
    k = max(8, int(np.ceil(2 * np.pi * radius / h * (1 - 1e-12))))
    t = 2 * np.pi * np.arange(k) / k
    return center + radius * np.column_stack([np.cos(t), np.sin(t)])


class Disk:
    """The disk ``|x - center| <= radius``, meshed by Triangle with its boundary nodes on the
    circle (spacing ``h = 2 radius / (n - 1)``).  Boundary part: ``"boundary"``.

    With ``element="P2"`` the mid-edge nodes of boundary edges lie on the circle and the
    boundary triangles are curved (isoparametric), so P2 keeps its order on the disk.

    >>> d = Disk((0, 0), 1.0); m = d.triangulate(9)
    >>> bool(np.allclose(np.hypot(*m.nodes[np.unique(m.boundary_edges)].T), 1.0))
    True
    """

    def __init__(self, center: ArrayLike, radius: float) -> None:
        self.center = _center(center)
        self.radius = _radius(radius, "radius")

    def __repr__(self):
        return f"Disk({tuple(self.center.tolist())}, {self.radius})"

    part_names = ("boundary",)

    @property
    def area(self) -> float:
        return np.pi * self.radius**2

    def contains(self, points: ArrayLike) -> np.ndarray:
        return np.hypot(*(np.asarray(points, np.float64) - self.center).T) < self.radius

    def project(self, points: ArrayLike) -> np.ndarray:
        """Radial projection (k, 2) of points onto the circle."""
        d = np.asarray(points, np.float64) - self.center
        return self.center + self.radius * d / np.hypot(d[:, 0], d[:, 1])[:, None]

    def _pslg(self, h):
        v = _circle(self.center, self.radius, h)
        k = len(v)
        return v, np.column_stack([np.arange(k), (np.arange(k) + 1) % k]), []

    def triangulate(self, n: int | None = None) -> TriMesh:
        h = _spacing(2 * self.radius, n)
        v, s, holes = self._pslg(h)
        return mesh_pslg(v, s, holes, h, curved=True, projection=self.project)

    def boundary_parts(self, points: ArrayLike) -> dict[str, np.ndarray]:
        r = np.hypot(*(np.asarray(points, np.float64) - self.center).T)
        return {"boundary": np.abs(r - self.radius) <= 1e-9 * self.radius}


class Annulus:
    """The annulus ``r_inner <= |x - center| <= r_outer``, meshed by Triangle with its boundary
    nodes on both circles (spacing ``h = 2 r_outer / (n - 1)``).  Boundary parts: ``"outer"``,
    ``"inner"``.  P2 curves the boundary triangles as for :class:`Disk`.

    >>> a = Annulus((0, 0), 1.0, 2.0); m = a.triangulate(9)
    >>> r = np.hypot(*m.nodes.T); bool(r.min() >= 1 - 1e-12 and r.max() <= 2 + 1e-12)
    True
    """

    def __init__(self, center: ArrayLike, r_inner: float, r_outer: float) -> None:
        self.center = _center(center)
        self.r_inner = _radius(r_inner, "r_inner")
        self.r_outer = _radius(r_outer, "r_outer")
        if not self.r_inner < self.r_outer:
            raise ValueError(f"r_inner: expected r_inner < r_outer, got {self.r_inner} >= {self.r_outer}")

    def __repr__(self):
        return f"Annulus({tuple(self.center.tolist())}, {self.r_inner}, {self.r_outer})"

    part_names = ("outer", "inner")

    @property
    def area(self) -> float:
        return np.pi * (self.r_outer**2 - self.r_inner**2)

    def contains(self, points: ArrayLike) -> np.ndarray:
        r = np.hypot(*(np.asarray(points, np.float64) - self.center).T)
        return (r > self.r_inner) & (r < self.r_outer)

    def project(self, points: ArrayLike) -> np.ndarray:
        """Radial projection (k, 2) onto the nearer circle."""
        d = np.asarray(points, np.float64) - self.center
        r = np.hypot(d[:, 0], d[:, 1])
        R = np.where(np.abs(r - self.r_inner) < np.abs(r - self.r_outer), self.r_inner, self.r_outer)
        return self.center + (R / r)[:, None] * d

    def _pslg(self, h):
        outer = _circle(self.center, self.r_outer, h)
        inner = _circle(self.center, self.r_inner, h)
        ko, ki = len(outer), len(inner)
        seg = np.concatenate(
            [
                np.column_stack([np.arange(ko), (np.arange(ko) + 1) % ko]),
                ko + np.column_stack([np.arange(ki), (np.arange(ki) + 1) % ki]),
            ]
        )
        return np.concatenate([outer, inner]), seg, [self.center]

    def triangulate(self, n: int | None = None) -> TriMesh:
        h = _spacing(2 * self.r_outer, n)
        v, s, holes = self._pslg(h)
        return mesh_pslg(v, s, holes, h, curved=True, projection=self.project)

    def boundary_parts(self, points: ArrayLike) -> dict[str, np.ndarray]:
        r = np.hypot(*(np.asarray(points, np.float64) - self.center).T)
        return {
            "outer": np.abs(r - self.r_outer) <= 1e-9 * self.r_outer,
            "inner": np.abs(r - self.r_inner) <= 1e-9 * self.r_outer,
        }


DOMAINS = (Rectangle, Polygon, Disk, Annulus, TriMesh)  # what a PlanarProblem accepts as its domain
