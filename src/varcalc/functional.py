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

__all__ = ["DiscreteFunctional"]


class DiscreteFunctional:
    """``J_h`` of integrand ``G`` on piecewise-linear trial functions over fixed cell blocks.

    Parameters
    ----------
    integrand : callable ``G(f, df, x)``
    vector : bool
        False: ``G`` receives scalars ``f, df``; True: arrays of shape ``(m,)``.
    blocks : sequence of CellBlock
        Contiguous cell ranges covering all cells in order, each with its quadrature rule.

    All methods take ``U`` (shape ``(m, n)``, components first) and ``x`` (shape ``(n,)``).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.quadrature import assign_rules
    >>> x = jnp.linspace(0.0, 1.0, 5)
    >>> J = DiscreteFunctional(lambda f, df, x: 0.5 * df**2, False, assign_rules(np.asarray(x)))
    >>> float(J.value(x[None, :], x))   # f = x: ½∫1 dx
    0.5
    """

    def __init__(self, integrand: Callable, vector: bool, blocks: Sequence[CellBlock]):
        self.integrand = integrand
        self.vector = vector
        self.blocks = tuple(blocks)

    def _G(self, f, df, x):
        if self.vector:
            return self.integrand(f, df, x)
        return self.integrand(f[0], df[0], x)

    def _block_points(self, block, U, x):
        """``f`` (m, q, k), ``f'`` (m, k), ``x`` (q, k), ``w h`` (q, k) and ``h`` (k,) of a block."""
        r = block.rule
        t, s, w = (jnp.asarray(a)[:, None] for a in (r.t, r.s, r.w))  # (q, 1)
        uL, uR = U[:, block.start:block.stop], U[:, block.start + 1:block.stop + 1]
        xL, xR = x[block.start:block.stop], x[block.start + 1:block.stop + 1]
        h = xR - xL
        f = s * uL[:, None, :] + t * uR[:, None, :]
        df = (uR - uL) / h
        # Measure from the nearer cell end so points 1e-45 from an end are not rounded onto it.
        xq = jnp.where(t <= 0.5, xL + t * h, xR - s * h)
        return f, df, xq, w * h, h

    def _pointwise(self, fun, U, x):
        """Evaluate ``fun(f, df, x)`` at the points of all blocks in ONE vectorised call.

        One call (not one per block) keeps the compiled program small: the integrand and its
        derivatives dominate compile time.  Returns, per block, ``(points, results)`` with
        ``points = (f, df, xq, wh, h)`` from :meth:`_block_points` and results with trailing
        axes ``(q, k)``.
        """
        pts = [self._block_points(b, U, x) for b in self.blocks]
        m = U.shape[0]
        flat_f = jnp.concatenate([f.reshape(m, -1) for f, *_ in pts], axis=-1)
        flat_df = jnp.concatenate(
            [jnp.broadcast_to(df[:, None, :], f.shape).reshape(m, -1) for f, df, *_ in pts], axis=-1)
        flat_x = jnp.concatenate([xq.reshape(-1) for _, _, xq, *_ in pts])
        out = jax.vmap(fun, in_axes=(-1, -1, 0), out_axes=-1)(flat_f, flat_df, flat_x)
        results, start = [], 0
        for (f, *_rest) in pts:
            q, k = f.shape[1:]
            piece = jax.tree.map(lambda a: a[..., start:start + q * k].reshape(a.shape[:-1] + (q, k)), out)
            results.append(piece)
            start += q * k
        return list(zip(pts, results))

    def cell_energies(self, U, x):
        """Energy of each cell, shape ``(n-1,)``."""
        parts = [jnp.sum(p[3] * G, axis=0) for p, G in self._pointwise(self._G, U, x)]
        return jnp.concatenate(parts)

    def value(self, U, x):
        """``J_h(U)``: a scalar."""
        return sum(jnp.sum(p[3] * G) for p, G in self._pointwise(self._G, U, x))

    def gradient(self, U, x):
        """``∂J_h/∂U`` by ``jax.grad``, shape ``(m, n)``: the discrete Euler–Lagrange residual."""
        return jax.grad(self.value)(U, x)

    def derivatives(self, U, x):
        """Value, rounding scale, gradient and Hessian blocks in one pass.

        Returns ``(J, scale, grad (m, n), diag (m, m, n), upper (m, m, n-1))``: the Hessian blocks
        with the node axis last (see :meth:`hessian_blocks` for the ``(n, m, m)`` layout).
        """
        m, n = U.shape
        J, scale = 0.0, 0.0
        gL, gR, hLL, hLR, hRR = [], [], [], [], []

        def local(ff, dd, xx):
            # Per point: G, ∇G and ∇²G in (f, f') by forward-over-reverse (jax.hessian).
            G = lambda a, b_: self.integrand(a, b_, xx)
            # Scalar problems get scalar arguments: a smaller program than (1,)-arrays (~2x faster).
            args = (ff, dd) if self.vector else (ff[0], dd[0])
            v, (gf, gd) = jax.value_and_grad(G, argnums=(0, 1))(*args)
            (hff, hfd), (_, hdd) = jax.hessian(G, argnums=(0, 1))(*args)
            vec, mat = (lambda a: jnp.reshape(a, (m,))), (lambda a: jnp.reshape(a, (m, m)))
            return v, vec(gf), vec(gd), mat(hff), mat(hfd), mat(hdd)

        for b, ((f, df, xq, wh, h), derivs) in zip(self.blocks, self._pointwise(local, U, x)):
            # Per point (trailing axes (q, k)): G, ∇G (m,), ∇²G blocks (m, m).
            G, Gf, Gd, Gff, Gfd, Gdd = derivs
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
        cat = lambda parts: jnp.concatenate(parts, axis=-1)
        gL, gR, hLL, hLR, hRR = cat(gL), cat(gR), cat(hLL), cat(hLR), cat(hRR)
        # Element (cell) contributions -> nodes: node i gets the left end of cell i and the right
        # end of cell i-1.  Cells are in order, so this is a shift, not a scatter.
        pad_end = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 1)])
        pad_start = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 0)])
        grad = pad_end(gL) + pad_start(gR)
        diag = pad_end(hLL) + pad_start(hRR)
        return J, scale, grad, diag, hLR

    def hessian_blocks(self, U, x):
        """Block-tridiagonal Hessian of ``J_h``: ``(diag (n, m, m), upper (n-1, m, m))``.

        ``diag[i]`` couples the components at node ``i``; ``upper[i]`` couples node ``i`` (rows)
        with node ``i+1`` (columns) — with ``U`` flattened node-major.
        """
        _, _, _, diag, upper = self.derivatives(U, x)
        return jnp.moveaxis(diag, -1, 0), jnp.moveaxis(upper, -1, 0)

    def hvp(self, U, x, V):
        """Hessian-vector product by forward-over-reverse: ``jvp(grad J_h)(U)[V]``, shape ``(m, n)``."""
        return jax.jvp(lambda W: self.gradient(W, x), (U,), (V,))[1]


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
