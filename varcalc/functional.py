"""The discrete functional ``J_h(U)`` with its gradient and block-tridiagonal Hessian.

Trial functions are continuous and piecewise linear: nodal values ``U`` of shape ``(m, n)`` —
components first, so each component is contiguous (on CPU, XLA runs the ``m = 1`` case about
five times faster than with an ``(n, 1)`` layout).
On cell ``e = [x_e, x_{e+1}]`` of width ``h_e``, at reference point ``t ∈ (0, 1)``::

    f = (1 - t) U_e + t U_{e+1},    f' = (U_{e+1} - U_e) / h_e,    x = x_e + t h_e
    J_h(U) = Σ_e Σ_q  w_q h_e G(f(t_q), f', x(t_q))

The cells form a few contiguous *blocks* (:class:`~varcalc.quadrature.CellBlock`), each with
one quadrature rule: for a smooth problem a single block with the midpoint rule; near a
singular end a block with the tanh-sinh rule.  Within a block everything is a dense
``(cells, points)`` array, so nothing is gathered or scattered: element quantities come out in
cell order and are assembled by shifting (``pad``) — the pattern is fixed by the blocks.

* gradient: ``jax.grad(J_h)`` (:meth:`gradient`) — the discrete Euler–Lagrange residual.
  Newton uses :meth:`derivatives`, which gets the same vector from the per-point gradient of
  ``G`` in ``(f, f')`` pulled back to the nodes (a test checks they agree);
* Hessian (the second variation ``d²J_h[v, w] = vᵀ H w``): per point the ``2m × 2m`` Hessian of
  ``G`` in ``(f, f')`` (``jax.hessian``: forward-over-reverse), pulled back to the cell's two
  nodes by the linear map ``(U_e, U_{e+1}) -> (f, f')`` and summed into a symmetric
  block-tridiagonal matrix: ``diag`` blocks ``(n, m, m)`` and ``upper`` blocks ``(n-1, m, m)``
  (node ``i`` rows, node ``i+1`` columns).  O(points · m²) work; never a dense ``nm × nm`` matrix;
* Hessian-vector products: ``jvp`` of the gradient (forward-over-reverse), matrix-free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from .quadrature import CellBlock

__all__ = ["DiscreteFunctional", "real_cells", "mask_cells", "zero_padded"]


def real_cells(aux, ncell):
    """``(ncell,)`` bool: which cells are real when the grid is padded to a size bucket (the
    kernel's ``aux["cells"]`` holds the real count, :mod:`varcalc.drivers`), or None unpadded.

    Padded cells continue the grid past its end; their contributions are masked to zero, and
    they are evaluated at the first cell's points (``mask_cells``), where the integrand is
    defined, so no NaN can enter a sum or a derivative."""
    if isinstance(aux, dict) and "cells" in aux:
        return jnp.arange(ncell) < aux["cells"]
    return None


def zero_padded(mask, tree):
    """The leaves of ``tree`` (leading axis: cells or nodes) set to 0 where ``mask`` is False."""
    return jax.tree.map(lambda a: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, 0.0), tree)


def mask_cells(mask, a, axis=-1):
    """``a`` with the entries of padded cells (along ``axis``) replaced by the first cell's."""
    if mask is None:
        return a
    shape = [1] * a.ndim
    shape[axis] = mask.shape[0]
    first = jnp.take(a, jnp.array([0]), axis=axis)
    return jnp.where(mask.reshape(shape), a, first)


class DiscreteFunctional:
    """``J_h`` of integrand ``G`` on piecewise-linear trial functions over fixed cell blocks.

    Parameters
    ----------
    integrand : callable ``G(f, df, x, z, aux)``
        The *internal* integrand (see :mod:`varcalc.lagrangian`): ``z`` (k,) are global unknowns
        (multipliers, a free end) that the Hessian also differentiates in; ``aux`` is a pytree of
        constants (parameters) that it does not.
    vector : bool
        False: ``G`` receives scalars ``f, df``; True: arrays of shape ``(m,)``.
    blocks : sequence of CellBlock
        Contiguous cell ranges covering all cells in order, each with its quadrature rule.

    All methods take ``U`` (shape ``(m, n)``, components first), ``x`` (shape ``(n,)``), ``z``
    (shape ``(k,)``, possibly ``k = 0``) and ``aux``.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.quadrature import assign_rules
    >>> x = jnp.linspace(0.0, 1.0, 5)
    >>> J = DiscreteFunctional(lambda f, df, x, z, aux: 0.5 * df**2, False, assign_rules(np.asarray(x)))
    >>> float(J.value(x[None, :], x, jnp.zeros(0), None))   # f = x: ½∫1 dx
    0.5
    """

    def __init__(self, integrand: Callable, vector: bool, blocks: Sequence[CellBlock]):
        self.integrand = integrand
        self.vector = vector
        self.blocks = tuple(blocks)

    def _G(self, f, df, x, z, aux):
        if self.vector:
            return self.integrand(f, df, x, z, aux)
        return self.integrand(f[0], df[0], x, z, aux)

    def _block_points(self, block, U, x, mask=None):
        """``f`` (m, q, k), ``f'`` (m, k), ``x`` (q, k), ``w h`` (q, k) and ``h`` (k,) of a block
        (padded cells, ``mask`` False: the first cell's points with weight 0)."""
        r = block.rule
        t, s, w = (jnp.asarray(a)[:, None] for a in (r.t, r.s, r.w))  # (q, 1)
        if mask is None:
            cells = slice(block.start, block.stop)
            right = slice(block.start + 1, block.stop + 1)
        else:  # padded cells read the block's first cell (one gather, not a mask per quantity)
            mk = mask[block.start : block.stop]
            cells = jnp.where(mk, jnp.arange(block.start, block.stop), block.start)
            right = cells + 1
        uL, uR = U[:, cells], U[:, right]
        xL, xR = x[cells], x[right]
        h = xR - xL
        f = s * uL[:, None, :] + t * uR[:, None, :]
        df = (uR - uL) / h
        # Measure from the nearer cell end so points 1e-45 from an end are not rounded onto it.
        xq = jnp.where(t <= 0.5, xL + t * h, xR - s * h)
        if mask is not None:
            return f, df, xq, jnp.where(mk, w * h, 0.0), h
        return f, df, xq, w * h, h

    def _pointwise(self, fun, U, x, aux=None):
        """Evaluate ``fun(f, df, x)`` at the points of all blocks in ONE vectorised call.

        One call (not one per block) keeps the compiled program small: the integrand and its
        derivatives dominate compile time.  Returns, per block, ``(points, results)`` with
        ``points = (f, df, xq, wh, h)`` from :meth:`_block_points` and results with trailing
        axes ``(q, k)``.
        """
        mask = real_cells(aux, x.shape[0] - 1)
        pts = [self._block_points(b, U, x, mask) for b in self.blocks]
        m = U.shape[0]
        flat_f = jnp.concatenate([f.reshape(m, -1) for f, *_ in pts], axis=-1)
        flat_df = jnp.concatenate(
            [jnp.broadcast_to(df[:, None, :], f.shape).reshape(m, -1) for f, df, *_ in pts], axis=-1
        )
        flat_x = jnp.concatenate([xq.reshape(-1) for _, _, xq, *_ in pts])
        out = jax.vmap(fun, in_axes=(-1, -1, 0), out_axes=-1)(flat_f, flat_df, flat_x)
        results, start = [], 0
        for f, *_rest in pts:
            q, k = f.shape[1:]
            piece = jax.tree.map(lambda a: a[..., start : start + q * k].reshape(a.shape[:-1] + (q, k)), out)
            results.append(piece)
            start += q * k
        return list(zip(pts, results))

    def cell_energies(self, U, x, z, aux):
        """Energy of each cell, shape ``(n-1,)``."""
        G = lambda f, df, xx: self._G(f, df, xx, z, aux)
        parts = [jnp.sum(p[3] * v, axis=0) for p, v in self._pointwise(G, U, x, aux)]
        return jnp.concatenate(parts)

    def value(self, U, x, z, aux):
        """``J_h(U)``: a scalar."""
        G = lambda f, df, xx: self._G(f, df, xx, z, aux)
        return sum(jnp.sum(p[3] * v) for p, v in self._pointwise(G, U, x, aux))

    def gradient(self, U, x, z, aux):
        """``∂J_h/∂U`` by ``jax.grad``, shape ``(m, n)``: the discrete Euler–Lagrange residual."""
        return jax.grad(self.value)(U, x, z, aux)

    def derivatives(self, U, x, z, aux):
        """Value, rounding scale, gradient and Hessian blocks in one pass.

        Returns ``(J, scale, grad (m, n), diag (m, m, n), upper (m, m, n-1), globals)``: the
        Hessian blocks with the node axis last (see :meth:`hessian_blocks` for the ``(n, m, m)``
        layout).  ``globals`` is None when ``z`` is empty, else ``(gz (k,), B (m, n, k), C (k, k))``:
        ``∂J_h/∂z``, the mixed second derivatives ``∂²J_h/∂U∂z`` and ``∂²J_h/∂z²``.
        """
        m, n = U.shape
        k = z.shape[0]
        J, scale = 0.0, 0.0
        gL, gR, hLL, hLR, hRR = [], [], [], [], []
        bL, bR, gz, C = [], [], 0.0, 0.0

        def local(ff, dd, xx):
            # Per point: G, ∇G and ∇²G in (f, f'[, z]) by forward-over-reverse (jax.hessian).
            G = lambda a, b_, zz: self.integrand(a, b_, xx, zz, aux)
            # Scalar problems get scalar arguments: a smaller program than (1,)-arrays (~2x faster).
            args = (ff, dd) if self.vector else (ff[0], dd[0])
            vec, mat = (lambda a: jnp.reshape(a, (m,))), (lambda a: jnp.reshape(a, (m, m)))
            if k == 0:
                G2 = lambda a, b_: G(a, b_, z)
                v, (gf, gd) = jax.value_and_grad(G2, argnums=(0, 1))(*args)
                (hff, hfd), (_, hdd) = jax.hessian(G2, argnums=(0, 1))(*args)
                return v, vec(gf), vec(gd), mat(hff), mat(hfd), mat(hdd)
            v, (gf, gd, gzz) = jax.value_and_grad(G, argnums=(0, 1, 2))(*args, z)
            (hff, hfd, hfz), (_, hdd, hdz), (_, _, hzz) = jax.hessian(G, argnums=(0, 1, 2))(*args, z)
            mk = lambda a: jnp.reshape(a, (m, k))
            return v, vec(gf), vec(gd), mat(hff), mat(hfd), mat(hdd), gzz, mk(hfz), mk(hdz), hzz

        for b, ((_, _, _, wh, h), derivs) in zip(self.blocks, self._pointwise(local, U, x, aux)):
            # Per point (trailing axes (q, k)): G, ∇G (m,), ∇²G blocks (m, m).
            G, Gf, Gd, Gff, Gfd, Gdd = derivs[:6]
            terms = wh * G
            J, scale = J + jnp.sum(terms), scale + jnp.sum(jnp.abs(terms))
            r = b.rule
            s, t = jnp.asarray(r.s)[:, None], jnp.asarray(r.t)[:, None]  # (q, 1)
            ih = 1.0 / h
            # Chain rule through f = s U_L + t U_R, f' = (U_R - U_L)/h; sum over the points q.
            q_sum = _quadrature_sum(wh)
            gL.append(q_sum(s, Gf) - ih * q_sum(1.0, Gd))
            gR.append(q_sum(t, Gf) + ih * q_sum(1.0, Gd))
            Gdf = jnp.swapaxes(Gfd, 0, 1)
            ss, st, tt = q_sum(s * s, Gff), q_sum(s * t, Gff), q_sum(t * t, Gff)
            sfd, tfd, sdf, tdf = q_sum(s, Gfd), q_sum(t, Gfd), q_sum(s, Gdf), q_sum(t, Gdf)
            dd = q_sum(1.0, Gdd)
            hLL.append(ss - ih * (sfd + sdf) + ih**2 * dd)
            hLR.append(st + ih * (sfd - tdf) - ih**2 * dd)
            hRR.append(tt + ih * (tfd + tdf) + ih**2 * dd)
            if k:
                Gz, Gfz, Gdz, Gzz = derivs[6:]
                bL.append(q_sum(s, Gfz) - ih * q_sum(1.0, Gdz))
                bR.append(q_sum(t, Gfz) + ih * q_sum(1.0, Gdz))
                gz = gz + jnp.einsum("qc,zqc->z", wh, Gz)
                C = C + jnp.einsum("qc,yzqc->yz", wh, Gzz)
        cat = lambda parts: jnp.concatenate(parts, axis=-1)
        gL, gR, hLL, hLR, hRR = cat(gL), cat(gR), cat(hLL), cat(hLR), cat(hRR)
        # Element (cell) contributions -> nodes: node i gets the left end of cell i and the right
        # end of cell i-1.  Cells are in order, so this is a shift, not a scatter.
        pad_end = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 1)])
        pad_start = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 0)])
        grad = pad_end(gL) + pad_start(gR)
        diag = pad_end(hLL) + pad_start(hRR)
        extra = None
        if k:
            bL, bR = cat(bL), cat(bR)  # (m, k, cells)
            B = jnp.moveaxis(pad_end(bL) + pad_start(bR), 1, 2)  # (m, n, k)
            extra = (gz, B, C)
        return J, scale, grad, diag, hLR, extra

    def hessian_blocks(self, U, x, z=None, aux=None):
        """Block-tridiagonal Hessian of ``J_h``: ``(diag (n, m, m), upper (n-1, m, m))``.

        ``diag[i]`` couples the components at node ``i``; ``upper[i]`` couples node ``i`` (rows)
        with node ``i+1`` (columns) — with ``U`` flattened node-major.
        """
        z = jnp.zeros(0, U.dtype) if z is None else z
        _, _, _, diag, upper, _ = self.derivatives(U, x, z, aux)
        return jnp.moveaxis(diag, -1, 0), jnp.moveaxis(upper, -1, 0)

    def hvp(self, U, x, V, z=None, aux=None):
        """Hessian-vector product by forward-over-reverse: ``jvp(grad J_h)(U)[V]``, shape ``(m, n)``."""
        z = jnp.zeros(0, U.dtype) if z is None else z
        return jax.jvp(lambda W: self.gradient(W, x, z, aux), (U,), (V,))[1]


def _quadrature_sum(wh):
    """``(c, a) -> Σ_q wh_q c_q a[..., q, :]``: the sum over a block's quadrature points.

    Short rules are summed term by term: XLA:CPU reduces a short middle axis about 3x slower than
    it adds a few slices (measured on the brachistochrone's 4-point cells).
    """
    q = wh.shape[0]
    if q > 8:
        return lambda c, a: jnp.sum(wh * c * a, axis=-2)

    def unrolled(c, a):
        c = jnp.broadcast_to(jnp.asarray(c, wh.dtype), (q, 1))
        return sum(wh[i] * c[i] * a[..., i, :] for i in range(q))

    return unrolled


def hermite_basis(t, h):
    """Cubic Hermite shape functions on a cell of width ``h`` at reference points ``t`` (q,).

    Returns ``(phi, dphi, d2phi)``, each (4, q): values, first and second ``x``-derivatives of the
    functions multiplying ``(f_L, f'_L, f_R, f'_R)``.
    """
    t2, t3 = t * t, t * t * t
    phi = jnp.stack([1 - 3 * t2 + 2 * t3, h * (t - 2 * t2 + t3), 3 * t2 - 2 * t3, h * (t3 - t2)])
    dphi = jnp.stack([(6 * t2 - 6 * t) / h, 1 - 4 * t + 3 * t2, (6 * t - 6 * t2) / h, 3 * t2 - 2 * t])
    d2phi = jnp.stack([(12 * t - 6) / h**2, (6 * t - 4) / h, (6 - 12 * t) / h**2, (6 * t - 2) / h])
    return phi, dphi, d2phi


class HermiteFunctional:
    """``J_h`` for integrands ``G(f, f', f'', x, z, aux)`` on C¹ cubic Hermite elements.

    Nodal unknowns ``V`` of shape ``(2m, n)``: rows ``0..m-1`` are the values ``f_i``, rows
    ``m..2m-1`` the slopes ``f'_i``.  Functions in this space are C¹, so ``f''`` is square
    integrable and the discretisation is conforming for second-order functionals; the nodal error
    of a smooth problem is O(h⁴).  Each cell's energy is a function of its 4m local unknowns (and
    ``z``); its gradient and Hessian come from ``jax.hessian`` of that function per cell (vmapped),
    so the Hessian is block tridiagonal with ``2m × 2m`` blocks, as for piecewise-linear
    elements.  Gauss–Legendre with ``q`` points per cell (default 4: exact for polynomials of
    degree 7).

    >>> import jax.numpy as jnp
    >>> x = jnp.linspace(0.0, 1.0, 3)
    >>> J = HermiteFunctional(lambda f, df, d2f, x, z, aux: d2f**2, False, 1)
    >>> V = jnp.stack([x**2, 2 * x])   # f = x², f' = 2x at the nodes: f'' = 2
    >>> float(J.value(V, x, jnp.zeros(0), None))
    4.0
    """

    def __init__(self, integrand, vector: bool, m: int, points: int = 4):
        from .quadrature import gauss_rule

        self.integrand = integrand
        self.vector = vector
        self.m = m
        self.rule = gauss_rule(points)
        self.blocks = ()

    def _cell_energy(self, loc, xL, h, z, aux):
        m = self.m
        t, w = jnp.asarray(self.rule.t), jnp.asarray(self.rule.w)
        phi, dphi, d2phi = hermite_basis(t, h)
        coef = loc.reshape(4, m)  # (f_L, f'_L, f_R, f'_R), each (m,)
        f, df, d2f = (jnp.einsum("aq,am->qm", b, coef) for b in (phi, dphi, d2phi))
        xq = xL + t * h

        def G(ff, dd, d2, xx):
            if not self.vector:
                ff, dd, d2 = ff[0], dd[0], d2[0]
            return self.integrand(ff, dd, d2, xx, z, aux)

        return h * jnp.sum(w * jax.vmap(G)(f, df, d2f, xq))

    def _local(self, V):
        """Per cell local unknowns ``(f_L, f'_L, f_R, f'_R)`` flattened: shape ``(n-1, 4m)``."""
        L, R = V[:, :-1].T, V[:, 1:].T  # (cells, 2m) each: [f (m), f' (m)]
        return jnp.concatenate([L, R], axis=1)

    def cell_energies(self, V, x, z, aux):
        mask = real_cells(aux, x.shape[0] - 1)
        loc, xL, h = (mask_cells(mask, a, 0) for a in (self._local(V), x[:-1], jnp.diff(x)))
        E = jax.vmap(self._cell_energy, in_axes=(0, 0, 0, None, None))(loc, xL, h, z, aux)
        return E if mask is None else jnp.where(mask, E, 0.0)

    def value(self, V, x, z, aux):
        return jnp.sum(self.cell_energies(V, x, z, aux))

    def gradient(self, V, x, z, aux):
        return jax.grad(self.value)(V, x, z, aux)

    def derivatives(self, V, x, z, aux):
        """As :meth:`DiscreteFunctional.derivatives`, with ``2m × 2m`` blocks."""
        d = 2 * self.m
        k = z.shape[0]
        h = jnp.diff(x)

        def cell(loc, xL, hh):
            E = lambda w: self._cell_energy(w[: 2 * d], xL, hh, w[2 * d :], aux)
            w0 = jnp.concatenate([loc, z])
            v, g = jax.value_and_grad(E)(w0)
            return v, g, jax.hessian(E)(w0)

        mask = real_cells(aux, x.shape[0] - 1)
        E, g, H = jax.vmap(cell)(*(mask_cells(mask, a, 0) for a in (self._local(V), x[:-1], h)))
        if mask is not None:  # padded cells contribute nothing
            E, g, H = zero_padded(mask, (E, g, H))
        pad_end = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 1)])
        pad_start = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 0)])
        nodes_last = lambda a: jnp.moveaxis(a, 0, -1)
        grad = pad_end(nodes_last(g[:, :d])) + pad_start(nodes_last(g[:, d : 2 * d]))
        diag = pad_end(nodes_last(H[:, :d, :d])) + pad_start(nodes_last(H[:, d : 2 * d, d : 2 * d]))
        upper = nodes_last(H[:, :d, d : 2 * d])
        extra = None
        if k:
            bL, bR = nodes_last(H[:, :d, 2 * d :]), nodes_last(H[:, d : 2 * d, 2 * d :])  # (d, k, c)
            B = jnp.moveaxis(pad_end(bL) + pad_start(bR), 1, 2)
            extra = (jnp.sum(g[:, 2 * d :], axis=0), B, jnp.sum(H[:, 2 * d :, 2 * d :], axis=0))
        return jnp.sum(E), jnp.sum(jnp.abs(E)), grad, diag, upper, extra
