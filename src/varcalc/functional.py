"""The discrete functional ``J_h(U)`` with its gradient and block-tridiagonal Hessian.

Trial functions are continuous and piecewise linear: nodal values ``U`` of shape ``(n, m)``.
On cell ``e = [x_e, x_{e+1}]`` of width ``h_e``, at reference point ``t ∈ (0, 1)``::

    f = (1 - t) U_e + t U_{e+1},    f' = (U_{e+1} - U_e) / h_e,    x = x_e + t h_e
    J_h(U) = Σ_points  w_q h_e G(f, f', x)

The quadrature points of all cells, whatever rule each cell uses, form one flat list
(:class:`Points`: cell index, ``t``, ``1 - t`` and weight per point), so one vectorised kernel
serves every rule — one compiled function however many rules a grid needs.

* gradient: ``jax.grad(J_h)`` — the discrete Euler–Lagrange residual;
* Hessian (the second variation ``d²J_h[v, w] = vᵀ H w``): per point, the ``2m × 2m`` Hessian
  of ``G`` in ``(f, f')`` (``jax.hessian``, forward-over-reverse), pulled back to the cell's
  nodes by the linear map ``(U_e, U_{e+1}) -> (f, f')`` and summed into a symmetric
  block-tridiagonal matrix: ``diag`` blocks ``(n, m, m)``, ``upper`` blocks ``(n-1, m, m)``
  (node ``i`` rows, node ``i+1`` columns).  O(points · m²) work; no dense ``nm × nm`` matrix;
* Hessian-vector products: ``jvp`` of the gradient (forward-over-reverse), matrix-free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DiscreteFunctional", "Points"]


class Points(NamedTuple):
    """Flat list of quadrature points, shape ``(P,)`` each: cell index, ``t``, ``s = 1 - t``, weight."""

    cell: jax.Array
    t: jax.Array
    s: jax.Array
    w: jax.Array

    @classmethod
    def from_groups(cls, groups) -> "Points":
        """Concatenate the rules of :class:`~varcalc.quadrature.CellGroup` s into one list."""
        cell = np.concatenate([np.repeat(g.cells, g.rule.size) for g in groups])
        t = np.concatenate([np.tile(g.rule.t, g.cells.size) for g in groups])
        s = np.concatenate([np.tile(g.rule.s, g.cells.size) for g in groups])
        w = np.concatenate([np.tile(g.rule.w, g.cells.size) for g in groups])
        return cls(jnp.asarray(cell), jnp.asarray(t), jnp.asarray(s), jnp.asarray(w))


class DiscreteFunctional:
    """``J_h`` of integrand ``G`` on piecewise-linear trial functions.

    Parameters
    ----------
    integrand : callable ``G(f, df, x)``
    vector : bool
        False: ``G`` receives scalars ``f, df``; True: arrays of shape ``(m,)``.

    All methods take ``U`` (shape ``(n, m)``), ``x`` (shape ``(n,)``) and ``pts`` (:class:`Points`).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.quadrature import assign_rules
    >>> x = np.linspace(0.0, 1.0, 5); pts = Points.from_groups(assign_rules(x))
    >>> J = DiscreteFunctional(lambda f, df, x: 0.5 * df**2, vector=False)
    >>> float(J.value(jnp.asarray(x)[:, None], jnp.asarray(x), pts))   # f = x: ½∫1 dx
    0.5
    """

    def __init__(self, integrand: Callable, vector: bool):
        self.integrand = integrand
        self.vector = vector

    def _G(self, f, df, x):
        if self.vector:
            return self.integrand(f, df, x)
        return self.integrand(f[0], df[0], x)

    def _at_points(self, U, x, pts):
        """``f`` (P, m), ``f'`` (P, m), ``x`` (P,) and ``w h`` (P,) at every quadrature point."""
        c = pts.cell
        uL, uR, xL, xR = U[c], U[c + 1], x[c], x[c + 1]
        h = xR - xL
        f = pts.s[:, None] * uL + pts.t[:, None] * uR
        df = (uR - uL) / h[:, None]
        # Measure from the nearer cell end so points 1e-45 from an end are not rounded onto it.
        xq = jnp.where(pts.t <= 0.5, xL + pts.t * h, xR - pts.s * h)
        return f, df, xq, pts.w * h

    def point_values(self, U, x, pts):
        """``w h G`` at every point, shape ``(P,)``."""
        f, df, xq, wh = self._at_points(U, x, pts)
        return wh * jax.vmap(self._G)(f, df, xq)

    def cell_energies(self, U, x, pts):
        """Energy of each cell, shape ``(n-1,)``."""
        return jax.ops.segment_sum(self.point_values(U, x, pts), pts.cell, num_segments=x.shape[0] - 1)

    def value(self, U, x, pts):
        """``J_h(U)``: a scalar."""
        return jnp.sum(self.point_values(U, x, pts))

    def gradient(self, U, x, pts):
        """``∂J_h/∂U``, shape ``(n, m)``: the discrete Euler–Lagrange residual (``jax.grad``)."""
        return jax.grad(self.value)(U, x, pts)

    def hessian_blocks(self, U, x, pts):
        """Block-tridiagonal Hessian of ``J_h``: ``(diag (n, m, m), upper (n-1, m, m))``."""
        n, m = U.shape
        f, df, xq, wh = self._at_points(U, x, pts)
        # ∇²G in (f, f') per point: blocks Gff, Gfd, Gdd of shape (P, m, m).
        hess = jax.vmap(jax.hessian(lambda a, b, xx: self._G(a, b, xx), argnums=(0, 1)))(f, df, xq)
        (Gff, Gfd), (_, Gdd) = hess
        h = (x[pts.cell + 1] - x[pts.cell])[:, None, None]
        s, t = pts.s[:, None, None], pts.t[:, None, None]
        # (U_L, U_R) -> f = s U_L + t U_R, f' = (U_R - U_L)/h: chain rule for each 2x2 block pair.
        Gdf = jnp.swapaxes(Gfd, 1, 2)
        def pull(a, b):  # coefficient pairs (a_f, a_d) for the row node, (b_f, b_d) for the column node
            return a[0] * b[0] * Gff + a[0] * b[1] * Gfd + a[1] * b[0] * Gdf + a[1] * b[1] * Gdd
        left, right = (s, -1.0 / h), (t, 1.0 / h)
        w = wh[:, None, None]
        HLL, HLR, HRR = w * pull(left, left), w * pull(left, right), w * pull(right, right)
        diag = jnp.zeros((n, m, m), U.dtype).at[pts.cell].add(HLL).at[pts.cell + 1].add(HRR)
        upper = jnp.zeros((n - 1, m, m), U.dtype).at[pts.cell].add(HLR)
        return diag, upper

    def hvp(self, U, x, pts, V):
        """Hessian-vector product by forward-over-reverse: ``jvp(grad J_h)(U)[V]``, shape ``(n, m)``."""
        return jax.jvp(lambda W: self.gradient(W, x, pts), (U,), (V,))[1]
