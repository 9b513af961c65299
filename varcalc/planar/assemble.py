"""The discrete functional on a triangulation and its sparse Hessian.

``J_h(U) = Σ_T Σ_q |T| 2 w_q G(u_h(x_q), ∇u_h(x_q), x_q)`` is written once, for one triangle
(:func:`element_energy`), and ``vmap``-ped over triangles.  Its gradient is ``jax.grad`` of the
sum; the element Hessians are ``vmap(jax.hessian(element_energy))`` — shape (T, nl, nl) with
``nl = nloc·m`` — and are scattered into a CSR matrix whose pattern is computed once per mesh
(:class:`Pattern`): the COO (row, col) pairs of all element blocks restricted to free unknowns,
sorted once with ``np.unique``; its inverse map sends every COO entry to its CSR slot, so each
Newton iteration costs one ``np.bincount`` over the element values.

Unknown numbering: node-major, ``dof = node·m + component``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from .domain import TriMesh
from .elements import Element, element

__all__ = ["Discretization", "Pattern", "functions", "edge_midpoints", "refine_uniform"]


def edge_midpoints(mesh):
    """The vertices followed by the edge midpoints (N + E, 2), each triangle's midpoint nodes (T, 3)
    (of edges 01, 12, 20) and the sorted edge keys ``a·N + b`` (a < b): the P2 nodes, and the
    nodes of the uniform refinement."""
    t, nv = mesh.triangles, len(mesh.nodes)
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    e.sort(axis=1)
    ukey, inv = np.unique(e[:, 0] * nv + e[:, 1], return_inverse=True)
    a, b = ukey // nv, ukey % nv
    points = np.concatenate([mesh.nodes, 0.5 * (mesh.nodes[a] + mesh.nodes[b])])
    return points, nv + inv.reshape(3, -1).T, ukey


def refine_uniform(mesh):
    """Every triangle cut into four by its edge midpoints: ``(TriMesh, parent (4T,))``, the fine
    nodes being the coarse ones followed by the edge midpoints (those of boundary edges moved
    onto the curve of a mesh with a ``boundary_projection``: Disk, Annulus).

    >>> from varcalc.planar import TriMesh
    >>> fine, parent = refine_uniform(TriMesh([[0, 0], [1, 0], [0, 1]], [[0, 1, 2]]))
    >>> fine.nodes.shape, fine.triangles.shape, parent.tolist()
    ((6, 2), (4, 3), [0, 0, 0, 0])
    """
    points, mid, ukey = edge_midpoints(mesh)
    t, nv = mesh.triangles, len(mesh.nodes)
    project = getattr(mesh, "boundary_projection", None)
    if project is not None:  # a curved boundary (Disk, Annulus): the new boundary nodes go onto it
        b = np.sort(mesh.boundary_edges, axis=1)
        bmid = nv + np.searchsorted(ukey, b[:, 0] * nv + b[:, 1])
        points[bmid] = project(points[bmid])
    v0, v1, v2, m01, m12, m20 = t[:, 0], t[:, 1], t[:, 2], mid[:, 0], mid[:, 1], mid[:, 2]
    kids = np.stack([np.stack(c, 1) for c in ((v0, m01, m20), (m01, v1, m12), (m20, m12, v2), (m01, m12, m20))], 1)
    # the children of a valid counter-clockwise mesh are one: no need for TriMesh's checks
    return TriMesh._trusted(points, kids.reshape(-1, 3), boundary_projection=project), np.repeat(np.arange(len(t)), 4)


class Discretization:
    """A mesh with an element: the unknowns' coordinates, element connectivity and Dirichlet data.

    Attributes
    ----------
    mesh : TriMesh
    element : Element
    points : ndarray, shape (N, 2)
        Coordinates of the nodes (P2: vertices first, then edge midpoints).
    edofs : ndarray of int, shape (T, nloc)
        Nodes of each triangle in the element's local order.
    X : ndarray, shape (T, 3, 2) or (T, 6, 2)
        Vertex coordinates of each triangle; for P2 on a mesh with a ``boundary_projection``
        (curved boundary) the six node coordinates (isoparametric).
    on_boundary : ndarray of bool, shape (N,)
    fixed : ndarray of bool, shape (N·m,)
        Dirichlet unknowns.
    values : ndarray, shape (N·m,)
        Dirichlet values (0 elsewhere).
    mass : ndarray, shape (N·m,)
        Lumped mass ``Σ |T| / nloc`` (turns the gradient into a pointwise residual).
    """

    def __init__(self, problem, mesh: TriMesh, element_name="P1"):
        self.mesh = mesh
        self.element = el = element(element_name)
        t = mesh.triangles
        nv = len(mesh.nodes)
        bedges = np.sort(mesh.boundary_edges, axis=1)
        if el.order == 1:
            self.points = mesh.nodes
            self.edofs = t
            on_b = np.zeros(nv, bool)
            on_b[bedges.ravel()] = True
        else:
            self.points, mid, ukey = edge_midpoints(mesh)
            self.edofs = np.concatenate([t, mid], axis=1)
            on_b = np.zeros(len(self.points), bool)
            on_b[bedges.ravel()] = True
            bmid = nv + np.searchsorted(ukey, bedges[:, 0] * nv + bedges[:, 1])
            on_b[bmid] = True
        self.X = mesh.nodes[t]  # (T, 3, 2)
        project = getattr(mesh, "boundary_projection", None)
        if el.order == 2 and project is not None:
            # Curved boundary (Disk, Annulus): the boundary mid-edge nodes go onto the curve and
            # every triangle is mapped by its six nodes (isoparametric P2, X shape (T, 6, 2)).
            # With the straight chords instead, the O(h²) gap between polygon and curve would
            # cap P2 at order 2.
            self.points[bmid] = project(self.points[bmid])
            self.X = self.points[self.edofs]
        self.on_boundary = on_b
        self.shape = problem.shape
        self.m = m = 1 if problem.shape == () else problem.shape[0]
        N = len(self.points)
        mask, vals = problem.dirichlet(self.points, on_b)
        self.fixed = np.repeat(mask, m)
        self.values = vals.reshape(N * m)
        self.free = np.flatnonzero(~self.fixed)
        p = self.X
        area = 0.5 * (
            (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
            - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
        )
        self.area = area
        mass = np.bincount(self.edofs.ravel(), np.repeat(area / el.nloc, el.nloc), minlength=N)
        self.mass = np.repeat(mass, m)
        self.n_nodes = N
        self._pattern = None

    @property
    def pattern(self) -> Pattern:
        if self._pattern is None:
            self._pattern = Pattern(self.edofs, self.m, self.fixed)
        return self._pattern

    def gdofs(self):
        """Global unknown indices (T, nloc·m) of each element, node-major."""
        m = self.m
        return (self.edofs[:, :, None] * m + np.arange(m)).reshape(len(self.edofs), -1)


class Pattern:
    """Sparsity pattern of the free-free block of the Hessian, computed once per mesh (numpy).

    ``assemble(vals)`` turns element Hessians (T, nl, nl) into the CSR matrix (n_free, n_free):
    one ``np.bincount`` through the precomputed map ``slot`` from element entries to CSR slots
    (entries in a Dirichlet row or column go to a dropped slot ``nnz``).

    The pattern is built from the unordered pairs ``{i, j}`` (i < j) of free unknowns sharing an
    element: one integer sort of the ``T·nl(nl-1)/2`` pair keys and one stable sort of the unique
    pairs by their larger end give each row's columns in order (lower neighbours, the diagonal,
    upper neighbours) — at 10⁶ P1 nodes 6M keys instead of ``np.unique`` over all 18M entries.

    >>> import numpy as np
    >>> P = Pattern(np.array([[0, 1, 2], [0, 2, 3]]), 1, np.array([False, False, False, True]))
    >>> H = P.assemble(np.ones((2, 3, 3))).toarray()
    >>> H.tolist()
    [[2.0, 1.0, 2.0], [1.0, 1.0, 1.0], [2.0, 1.0, 2.0]]
    """

    def __init__(self, edofs, m, fixed):
        T, nloc = edofs.shape
        nl = nloc * m
        nfree = int(np.sum(~fixed))
        # int32 indices where they fit: at 10⁶ nodes the element entries number 18M
        it = np.int32 if max(len(fixed), T * nl * nl) < 2**31 else np.int64
        gd = (edofs[:, :, None] * m + np.arange(m)).reshape(T, nl).astype(it)
        ridx = np.full(len(fixed), -1, it)
        ridx[~fixed] = np.arange(nfree, dtype=it)
        lr = ridx[gd]  # (T, nl) free index of each local unknown, -1 if Dirichlet
        del gd
        a, b = np.triu_indices(nl, 1)
        lo = np.minimum(lr[:, a], lr[:, b]).ravel()  # (T·npairs,) each local pair's two ends
        hi = np.maximum(lr[:, a], lr[:, b]).ravel()
        both = lo >= 0
        key = lo[both].astype(np.int64) * nfree + hi[both]
        del lo, hi
        ukey, pid = np.unique(key, return_inverse=True)  # the pairs i < j, sorted by (i, j)
        del key
        pi, pj = (ukey // nfree).astype(it), (ukey % nfree).astype(it)
        del ukey
        n_up = np.bincount(pi, minlength=nfree)  # per row: columns right of the diagonal
        n_low = np.bincount(pj, minlength=nfree)  # and left of it
        indptr = np.zeros(nfree + 1, np.int64)
        np.cumsum(n_low + n_up + 1, out=indptr[1:])
        dslot = indptr[:-1] + n_low  # the diagonal's slot in each row
        first_up = np.concatenate([[0], np.cumsum(n_up)[:-1]])  # pairs are grouped by i
        up = dslot[pi] + 1 + (np.arange(len(pi)) - first_up[pi])  # slot of (i, j) in row i
        order = np.argsort(pj, kind="stable")  # the pairs by (j, i)
        first_low = np.concatenate([[0], np.cumsum(n_low)[:-1]])
        low = np.empty_like(up)
        low[order] = indptr[pj[order]] + (np.arange(len(pj)) - first_low[pj[order]])  # (j, i) in row j
        del order
        self.nnz = nnz = int(indptr[-1])
        indices = np.empty(nnz, np.int32 if nfree < 2**31 else np.int64)
        indices[up], indices[low] = pj, pi
        free_rows = np.arange(nfree)
        indices[dslot] = free_rows
        # element entry (t, r, c) -> its CSR slot; nnz for entries in a Dirichlet row or column
        slot = np.full((T, nl, nl), nnz, it)
        d = lr >= 0
        slot[:, np.arange(nl), np.arange(nl)] = np.where(d, dslot[np.maximum(lr, 0)], nnz)
        pid_full = np.full(len(both), -1, np.int64)
        pid_full[both] = pid
        del pid, both
        pid_full = pid_full.reshape(T, len(a))
        ok = pid_full >= 0
        pidc = np.maximum(pid_full, 0)
        del pid_full
        r_is_lo = lr[:, a] < lr[:, b]  # entry (a, b) lies above the diagonal
        s_up = np.where(ok, up[pidc], nnz)
        s_low = np.where(ok, low[pidc], nnz)
        slot[:, a, b] = np.where(r_is_lo, s_up, s_low)
        slot[:, b, a] = np.where(r_is_lo, s_low, s_up)
        self.slot = slot.reshape(-1)
        self.indices, self.indptr = indices, indptr.astype(indices.dtype)
        self.shape = (nfree, nfree)
        self.diag = dslot  # CSR slots of the diagonal (one per row)

    def assemble(self, elem_hess):
        data = np.bincount(self.slot, np.asarray(elem_hess).reshape(-1), minlength=self.nnz + 1)[: self.nnz]
        return sp.csr_matrix((data, self.indices, self.indptr), shape=self.shape)


def functions(integrand, el: Element, shape, with_params):
    """Jitted ``energy(U, X, edofs, p)``, ``grad(U, X, edofs, p)`` -> (J, ∇J),
    ``hessians(U, X, edofs, p)`` -> (T, nl, nl), ``derivatives`` (all three in one pass) and
    ``step_derivatives`` (the same with ``Σ_T |J_T|``: the Newton step's kernel) for ``U`` of
    shape (N,) + shape; cached per
    (integrand, element, shape, with_params) so that one compilation serves every mesh of the
    same size and every parameter value."""
    from .. import cache

    return cache.get(
        ("planar", integrand, el.name, shape, with_params), lambda: _functions(integrand, el, shape, with_params)
    )


def _functions(integrand, el, shape, with_params):
    phi = jnp.asarray(el.phi)
    dphi = jnp.asarray(el.dphi)
    lam = jnp.asarray(el.lam)
    w = jnp.asarray(el.weights)
    G = integrand if with_params else (lambda u, du, x, p: integrand(u, du, x))
    Gq = jax.vmap(G, in_axes=(0, 0, 0, None))

    def element_energy(uloc, Xe, p):
        """Energy of one triangle: uloc (nloc,) + shape, Xe (3, 2) vertices (affine) or, for
        isoparametric P2 on curved domains, (6, 2) nodes."""
        if Xe.shape[0] == 6:
            return curved_energy(uloc, Xe, p)
        e1, e2 = Xe[1] - Xe[0], Xe[2] - Xe[0]
        det = e1[0] * e2[1] - e2[0] * e1[1]  # 2·area (> 0: counter-clockwise)
        # ∇_x φ = J^{-T} ∇_ξ φ with J = [e1 e2]; as rows: ∇_ξ φ · J^{-1}
        inv = jnp.array([[e2[1], -e2[0]], [-e1[1], e1[0]]]) / det
        grads = dphi @ inv  # (Q, nloc, 2)
        xq = lam @ Xe  # (Q, 2)
        if shape == ():
            uq = phi @ uloc
            gq = jnp.einsum("qai,a->qi", grads, uloc)
        else:
            uq = phi @ uloc  # (Q, m)
            gq = jnp.einsum("qai,am->qmi", grads, uloc)
        # ∫_T G = det · Σ_q w_q G(x_q): reference weights sum to 1/2, |T| = det / 2
        return det * jnp.sum(w * Gq(uq, gq, xq, p))

    def curved_energy(uloc, Xe, p):
        """Isoparametric P2: x(ξ) = Σ_a X_a φ_a(ξ); the Jacobian J_q = Σ_a X_a ⊗ ∇_ξ φ_a varies
        over the triangle, so it is formed at every quadrature point (Xe (6, 2))."""
        Jq = jnp.einsum("ai,qaj->qij", Xe, dphi)  # (Q, 2, 2): ∂x_i/∂ξ_j
        det = Jq[:, 0, 0] * Jq[:, 1, 1] - Jq[:, 0, 1] * Jq[:, 1, 0]
        inv = (
            jnp.stack([jnp.stack([Jq[:, 1, 1], -Jq[:, 0, 1]], -1), jnp.stack([-Jq[:, 1, 0], Jq[:, 0, 0]], -1)], -2)
            / det[:, None, None]
        )
        grads = jnp.einsum("qaj,qji->qai", dphi, inv)  # ∇_x φ = J^{-T} ∇_ξ φ, as rows
        xq = phi @ Xe
        uq = phi @ uloc
        gq = jnp.einsum("qai,a->qi", grads, uloc) if shape == () else jnp.einsum("qai,am->qmi", grads, uloc)
        return jnp.sum(w * det * Gq(uq, gq, xq, p))

    batched = jax.vmap(element_energy, in_axes=(0, 0, None))

    def energy(U, X, edofs, p):
        return jnp.sum(batched(U[edofs], X, p))

    hess_one = jax.hessian(element_energy)

    def hessians(U, X, edofs, p):
        H = jax.vmap(hess_one, in_axes=(0, 0, None))(U[edofs], X, p)
        nl = edofs.shape[1] * (1 if shape == () else shape[0])
        return H.reshape(H.shape[0], nl, nl)

    vg = jax.value_and_grad(energy)

    def derivatives(U, X, edofs, p):
        J, g = vg(U, X, edofs, p)
        return J, g, hessians(U, X, edofs, p)

    def energy_and_scale(U, X, edofs, p):
        e = batched(U[edofs], X, p)
        return jnp.sum(e), jnp.sum(jnp.abs(e))

    vgs = jax.value_and_grad(energy_and_scale, has_aux=True)

    def step_derivatives(U, X, edofs, p):
        """What the Newton step needs: ``J``, ``Σ_T |J_T|`` (the rounding scale of ``J``), ``∇J``
        and the element Hessians, in one pass."""
        (J, scale), g = vgs(U, X, edofs, p)
        return J, scale, g, hessians(U, X, edofs, p)

    out = dict(
        energy=jax.jit(energy),
        energies=jax.jit(lambda U, X, edofs, p: batched(U[edofs], X, p)),
        grad=jax.jit(vg),
        hessians=jax.jit(hessians),
        derivatives=jax.jit(derivatives),
        step_derivatives=jax.jit(step_derivatives),
        element_energy=element_energy,
    )
    return out


# Triangles per kernel call.  The element kernels are compiled for one chunk shape and run over the
# mesh chunk by chunk (the last one padded), so one compilation serves every mesh of any size —
# every level of grid sequencing, every refinement — and JAX's intermediates stay O(CHUNK), not
# O(T).  Meshes below CHUNK triangles use the next power of two (small problems stay cheap).
CHUNK = 2**15


def _element_kernels(integrand, el, shape, with_params, size):
    """Jitted per-element kernels on ``size`` triangles: ``energies(uloc, X, p) -> (size,)`` and
    ``derivatives(uloc, X, p) -> (e (size,), g (size, nl), H (size, nl, nl))`` (gradient and
    Hessian of each triangle's energy in one forward-over-reverse pass)."""
    from .. import cache

    def make():
        element_energy = _functions(integrand, el, shape, with_params)["element_energy"]

        def vgh(uloc, Xe, p):
            def grad_aux(u):
                e, g = jax.value_and_grad(element_energy)(u, Xe, p)
                return g, (e, g)

            H, (e, g) = jax.jacfwd(grad_aux, has_aux=True)(uloc)
            return e, g, H

        def derivatives(uloc, X, p):
            e, g, H = jax.vmap(vgh, in_axes=(0, 0, None))(uloc, X, p)
            nl = g[0].size
            return e, g.reshape(-1, nl), H.reshape(-1, nl, nl)

        def gradients(uloc, X, p):
            e, g = jax.vmap(jax.value_and_grad(element_energy), in_axes=(0, 0, None))(uloc, X, p)
            return e, g.reshape(len(e), -1)

        energies = jax.vmap(element_energy, in_axes=(0, 0, None))
        return dict(energies=jax.jit(energies), derivatives=jax.jit(derivatives), gradients=jax.jit(gradients))

    return cache.get(("planar-chunk", integrand, el.name, shape, with_params, size), make)


class Kernels:
    """The discrete functional ``J_h`` of one integrand on one discretization, evaluated chunk by
    chunk (:data:`CHUNK`) by kernels compiled once per integrand (not per mesh size).  The
    gather ``U[edofs]`` and the scatter of element gradients (``np.bincount``) run in numpy.

    ``energy(U, p) -> (J, Σ_T |J_T|)``; ``energies(U, p) -> (T,)``;
    ``derivatives(U, p, hessians=True) -> (J, Σ_T |J_T|, ∇J (N·m,), element Hessians (T, nl, nl)
    or None)``;
    ``U`` of shape (N·m,) or (N,) + shape.

    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.planar import PlanarProblem, Rectangle
    >>> p = PlanarProblem(lambda u, du, x: 0.5 * du @ du, Rectangle((0, 1), (0, 1)), bc=lambda x: x[:, 0])
    >>> disc = Discretization(p, p.domain.triangulate(5), "P1")
    >>> J, scale, g, H = Kernels(p.integrand, disc, False).derivatives(disc.points[:, 0], None)
    >>> round(J, 12), H.shape                                   # ½ ∫|∇x|² = ½
    (0.5, (32, 3, 3))
    """

    def __init__(self, integrand, disc, with_params):
        T = len(disc.edofs)
        self.T, self.disc = T, disc
        self.size = CHUNK if T >= CHUNK else max(64, 1 << (T - 1).bit_length())
        n_chunks = -(-T // self.size)
        pad = n_chunks * self.size - T
        edofs = np.concatenate([disc.edofs, np.repeat(disc.edofs[:1], pad, axis=0)])
        X = np.concatenate([disc.X, np.repeat(disc.X[:1], pad, axis=0)])
        self.edofs = edofs.reshape(n_chunks, self.size, -1)
        # device_put (not jnp.asarray: that compiles a staging program per shape), once per mesh
        self.X = [jax.device_put(X[i * self.size : (i + 1) * self.size]) for i in range(n_chunks)]
        self.fns = _element_kernels(integrand, disc.element, disc.shape, with_params, self.size)
        self.gd = disc.gdofs().reshape(-1)  # (T·nl,) global unknowns of the element vectors

    def _chunks(self, U):
        Un = np.asarray(U, dtype=np.float64).reshape((self.disc.n_nodes,) + self.disc.shape)
        for i, Xc in enumerate(self.X):
            yield i, jax.device_put(Un[self.edofs[i]]), Xc

    def energies(self, U, p):
        out = np.concatenate([np.asarray(self.fns["energies"](u, Xc, p)) for _, u, Xc in self._chunks(U)])
        return out[: self.T]

    def energy(self, U, p):
        e = self.energies(U, p)
        return float(np.sum(e)), float(np.sum(np.abs(e)))

    def derivatives(self, U, p, hessians=True):
        T, s = self.T, self.size
        e = np.empty(len(self.X) * s)
        g = None
        H = None
        kernel = self.fns["derivatives" if hessians else "gradients"]
        for i, u, Xc in self._chunks(U):
            ec, gc, *Hc = kernel(u, Xc, p)
            e[i * s : (i + 1) * s] = ec
            gc = np.asarray(gc)
            if g is None:
                g = np.empty((len(self.X) * s, gc.shape[1]))
                H = np.empty((T, gc.shape[1], gc.shape[1])) if hessians else None
            g[i * s : (i + 1) * s] = gc
            if hessians:
                stop = min((i + 1) * s, T)
                H[i * s : stop] = np.asarray(Hc[0])[: stop - i * s]
        e, g = e[:T], g[:T]
        grad = np.bincount(self.gd, g.reshape(-1), minlength=self.disc.n_nodes * self.disc.m)
        return float(np.sum(e)), float(np.sum(np.abs(e))), grad, H
