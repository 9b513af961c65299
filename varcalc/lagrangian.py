"""The discrete Lagrangian: integrand, side conditions and free ends as one function of the unknowns.

Every capability beyond ``G(f, f', x)`` with fixed ends is a term of one function

    L(V, z) = Σ_cells ∫ G̃(f, f', [f'',] ξ; z) dξ  +  Σ_nodes N_i(V_i; z)  +  E(V_last; z)

of the nodal unknowns ``V`` (shape ``(d, n)``) and a few global unknowns ``z`` (shape ``(k,)``):

* ``G̃`` is the user's integrand (times -1 to maximise) plus ``λ_j (H_j - c_j / length)`` for each
  :class:`~varcalc.Integral` constraint, ``λ_j = z[j]``.  With an end on a curve the grid is the
  reference interval ``ξ ∈ [0, 1]``, ``x = A + (B - A) ξ`` with the free end's abscissa (``A`` or
  ``B``) unknown: ``G̃ = T G(f, f_ξ / T, A + T ξ)``, ``T = B - A``.
  With a singular end mapped away (``degree > 1``, :mod:`varcalc.endmap`) the grid is ``s ∈ [0, 1]``,
  ``x = φ(s)``: ``G̃ = φ'(s) G(f, f_s / φ'(s), φ(s))``; with a free end as well, ``φ`` maps onto
  ``[A, B]`` with the free end's abscissa unknown.
* ``N_i``: per-node terms — the :class:`~varcalc.Data` least-squares term, and
  ``mass_i μ_i · g(f_i, x_i)`` for a :class:`~varcalc.Pointwise` constraint, whose multipliers
  ``μ_i`` are extra rows of ``V`` (so its Hessian stays block tridiagonal, with indefinite blocks).
* ``E``: ``μ φ(B, f_last)`` (``μ φ(A, f_first)``) for an end on the curve :class:`~varcalc.OnCurve`.

Each term comes from an object: the cells' part from the element (:mod:`varcalc.families`:
``P1``, ``Hermite3``, ``Lagrange(p)`` with its end map), the others from the side conditions
(:mod:`varcalc.sides`: ``Side.in_integrand``/``constant`` in ``G̃``, ``at_node`` in ``N_i``,
``at_point`` in ``E``); :class:`DiscreteLagrangian` sums them, with no branch per kind.

A node's unknowns ``V[:, i]`` are ``[f_i (m)][, f'_i (m) for order 2][, μ_i (r)]``.  The
derivatives are the gradient ``(d, n)``, the block-tridiagonal Hessian in ``V``, and the
bordering ``∂²L/∂V∂z`` ``(d, n, k)`` and ``∂²L/∂z²`` ``(k, k)``: the KKT matrix of the Newton
step, solved in O(n k) by :func:`varcalc.newton.bordered_solve`.

Parameters ``p`` (a pytree) and constants (constraint values, the sign, the node data) travel in
``aux``: traced inputs, so new values do not recompile.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .families import element_for
from .functional import mask_cells, zero_padded
from .sides import sides_for

__all__ = ["Layout", "DiscreteLagrangian"]


class Layout:
    """Sizes and structure of the unknowns of a problem (static: part of the compile key).

    Asks the element (:mod:`varcalc.families`) for its rows per node and its compile key, and the
    side conditions (:mod:`varcalc.sides`) for theirs; assigns each side its rows of ``V`` (after
    the element's) and its entries of ``z`` (in the order of their ``rank``)."""

    def __init__(self, problem, degree: int = 1, end_powers=(1, 1), element=None):
        self.m = problem.components
        self.shape = problem.shape
        self.order = problem.order
        self.element = element_for(problem.order, degree, end_powers) if element is None else element
        self.degree = self.element.degree
        self.end_powers = self.element.end_powers
        self.d_el = self.element.rows(self.m)  # element unknowns per node
        sides = sides_for(problem)
        for s in sides:
            s.prepare(problem)
            s.on_element(self.element)
        self.sides = tuple(sorted(sides, key=lambda s: s.rank))  # stable: the problem's order within a rank
        row, k = self.d_el, 0
        for s in self.sides:
            s.row0, s.z0 = row, k
            row, k = row + s.rows, k + len(s.z)
            s.bind(self)
        self.d, self.k = row, k
        self.r = self.d - self.d_el
        pointwise = [s for s in self.sides if s.kind == "Pointwise"]
        self.pointwise_shapes = tuple(s.shape for s in pointwise)
        self.pointwise_sizes = tuple(s.rows for s in pointwise)
        self.k_int = sum(len(s.z) for s in self.sides if s.kind == "Integral")
        # Ends on curves: each adds its abscissa and a multiplier to z, after the integrals.
        self._curves = {s.end: s for s in self.sides if s.free_end}
        self.curve_ends = tuple(e for e in ("left", "right") if e in self._curves)
        self.free_end = bool(self.curve_ends)  # the grid is the reference interval ξ ∈ [0, 1]
        self.has_params = problem.params is not None
        self.has_data = any(s.kind == "Data" for s in self.sides)
        self.has_bound = any(s.box for s in self.sides)  # the minimising step keeps a box

    @property
    def multiplier_mask(self):
        """``(k,)`` bool: which global unknowns are multipliers (not a free end's abscissa)."""
        out = []
        for s in self.sides:
            out.extend(s.z)
        return np.array(out, dtype=bool)

    @property
    def n_multipliers_global(self):
        """Global unknowns that are multipliers (all but the free end's length)."""
        return int(np.sum(self.multiplier_mask))

    def end_index(self, end):
        """Index in ``z`` of the abscissa of a free ``end``; its multiplier follows it."""
        return self._curves[end].z0

    def ends(self, z, aux):
        """The physical ends ``(A, B)``: unknowns for ends on curves, else the domain's."""
        A = z[self.end_index("left")] if "left" in self.curve_ends else aux["a"]
        B = z[self.end_index("right")] if "right" in self.curve_ends else aux["b"]
        return A, B

    def key(self, problem):
        """Hashable structure: functions by identity, sizes — not values."""
        sides = tuple(s.key() for s in self.sides)
        return (
            problem.integrand,
            self.shape,
            problem.is_vector,
            self.order,
            self.has_params,
            sides,
        ) + self.element.key()

    def end_map(self, aux):
        """The :class:`~varcalc.endmap.EndMap` on ``[aux["a"], aux["b"]]``, or None."""
        return self.element.end_map(aux)


def internal_integrand(problem, layout):
    """``G̃(f, df, [d2f,] x, z, aux)`` as described in the module docstring."""
    G, shape, vector = problem.integrand, problem.shape, problem.is_vector
    integrals = [s for s in layout.sides if s.integrand]
    free_end, has_params, element = layout.free_end, layout.has_params, layout.element
    as_shape = (lambda a: jnp.reshape(a, shape)) if vector else (lambda a: a)

    def assemble(jets, x, z, aux):
        T = None
        A, B = layout.ends(z, aux)  # a free end's abscissa is an unknown
        # The element's own change of variable (a mapped singular end) on [A, B], if any.
        chart = element.chart(x, jets, {"a": A, "b": B})
        if chart is not None:
            x, jets, T = chart
        elif free_end:  # the reference interval ξ ∈ [0, 1]
            T = B - A
            x = A + T * x
            jets = (jets[0], jets[1] / T) + jets[2:]
        args = tuple(as_shape(j) for j in jets) + (x,) + ((aux["p"],) if has_params else ())
        value = aux["sign"] * G(*args)
        for s in integrals:
            value = value + s.in_integrand(args, z, aux)
        if T is not None:
            value = T * value
        for s in integrals:
            value = value + s.constant(z, aux)
        return value

    if problem.order == 1:
        return lambda f, df, x, z, aux: assemble((f, df), x, z, aux)
    return lambda f, df, d2f, x, z, aux: assemble((f, df, d2f), x, z, aux)


class DiscreteLagrangian:
    """``L(V, z)`` of a problem on a fixed cell-block layout; see the module docstring.

    Methods take ``V`` (d, n), ``z`` (k,), ``x`` (n,) — the grid (``ξ`` for a free end) — and
    ``aux`` (dict: ``p``, ``c``, ``sign``, ``a``, ``length``, and per node ``mass``, ``w``, ``y``).
    """

    def __init__(self, problem, layout, blocks):
        self.layout = layout
        G = internal_integrand(problem, layout)
        self.elements = layout.element.functional(G, problem.is_vector, layout.m, blocks)
        self.nodal_sides = [s for s in layout.sides if s.nodal]
        self.point_sides = [s for s in layout.sides if s.point]
        self.has_nodal = bool(self.nodal_sides)

    # -- the terms ------------------------------------------------------------------------------
    def _physical(self, x, z, aux):
        """Physical abscissa and length factor of grid points ``x``: ``x = a + T ξ``, ``dx = T dξ``
        for a free end; ``x = φ(s)``, ``dx = φ'(s) ds`` for an element's end map; else ``x``, 1."""
        A, B = self.layout.ends(z, aux)
        chart = self.layout.element.chart(x, (x, x), {"a": A, "b": B})
        if chart is not None:
            return chart[0], chart[2]
        if self.layout.free_end:
            return A + (B - A) * x, B - A
        return x, 1.0

    def _nodal(self, v, z, x, node, aux):
        """Per-node terms ``N_i`` of the sides (data misfit, pointwise-constraint multipliers).

        ``node`` gets the element's collocation points of the node's column (the node, and for
        high-order elements its cell's interior points): values ``F`` (P, m), physical abscissae
        ``x`` and quadrature weights ``w`` (P,) (:meth:`varcalc.families.Element.collocation`)."""
        lay = self.layout
        xx, jac = self._physical(x, z, aux)
        F, t, wn, wh = lay.element.collocation(v, lay.m)
        px, pjac = self._physical(x + jnp.asarray(t) * node["h"], z, aux)
        node = dict(
            node, points=dict(F=F, x=px, w=pjac * (jnp.asarray(wn) * node["mass"] + jnp.asarray(wh) * node["h"]))
        )
        F = jnp.reshape(v[: lay.m], lay.shape)
        value = 0.0
        for s in self.nodal_sides:
            value = value + s.at_node(v, F, xx, jac, node, z, aux)
        return value

    def _nodes(self, aux, x):
        """Per-node data: the lumped mass, the data weight and site value, and ``h``, the width of
        the cell to the node's right (0 at the last node)."""
        h = jnp.concatenate([jnp.diff(x), jnp.zeros(1, x.dtype)])
        return dict({key: aux[key] for key in ("mass", "w", "y")}, h=h)

    def _per_node(self, fun, V, x, aux):
        """``vmap`` of ``fun(v, x, node)`` over the nodes; padded nodes evaluated at node 0 and masked."""
        padded = isinstance(aux, dict) and "cells" in aux
        mask = jnp.arange(x.shape[0]) <= aux["cells"] if padded else None  # real nodes: cells + 1
        nodes = jax.tree.map(lambda a: mask_cells(mask, a, 0), self._nodes(aux, x))
        out = jax.vmap(fun)(mask_cells(mask, V.T, 0), mask_cells(mask, x, 0), nodes)
        if mask is None:
            return out
        return zero_padded(mask, out)

    def admissible(self, z):
        """False where ``z`` leaves the problem's domain: a free end's length must stay positive."""
        if self.layout.free_end:
            A, B = self.layout.ends(z, {"a": -jnp.inf, "b": jnp.inf})
            return B > A
        return jnp.ones((), bool)

    # -- value and derivatives -----------------------------------------------------------------
    def value(self, V, z, x, aux):
        lay = self.layout
        L = self.elements.value(V[: lay.d_el], x, z, aux)
        if self.has_nodal:
            L = L + jnp.sum(self._per_node(lambda v, xx, node: self._nodal(v, z, xx, node, aux), V, x, aux))
        for side in self.point_sides:
            L = L + side.at_point(V[:, side.point_node(aux)], z, aux)
        return L

    def gradient(self, V, z, x, aux):
        """``(∂L/∂V (d, n), ∂L/∂z (k,))``."""
        return jax.grad(self.value, argnums=(0, 1))(V, z, x, aux)

    def derivatives(self, V, z, x, aux):
        """Dict: ``L``, ``scale`` (Σ|terms|, for rounding), ``g`` (d, n), ``diag`` (d, d, n),
        ``upper`` (d, d, n-1), and when ``k > 0``: ``gz`` (k,), ``B`` (d, n, k), ``C`` (k, k)."""
        lay = self.layout
        d, d_el, k = lay.d, lay.d_el, lay.k
        L, scale, g, diag, upper, extra = self.elements.derivatives(V[:d_el], x, z, aux)
        if d > d_el:  # rows of the pointwise multipliers: no element terms
            pad = d - d_el
            g = jnp.pad(g, ((0, pad), (0, 0)))
            diag = jnp.pad(diag, ((0, pad), (0, pad), (0, 0)))
            upper = jnp.pad(upper, ((0, pad), (0, pad), (0, 0)))
            if extra is not None:
                extra = (extra[0], jnp.pad(extra[1], ((0, pad), (0, 0), (0, 0))), extra[2])
        out = dict(L=L, scale=scale, g=g, diag=diag, upper=upper)
        if k:
            out["gz"], out["B"], out["C"] = extra
        if self.has_nodal:
            fun = lambda v, zz, xx, node: self._nodal(v, zz, xx, node, aux)
            per_node = lambda v, xx, node: _local_derivatives(fun, v, z, xx, node)
            val, gv, gz, Hvv, Hvz, Hzz = self._per_node(per_node, V, x, aux)
            out["L"] = out["L"] + jnp.sum(val)
            out["scale"] = out["scale"] + jnp.sum(jnp.abs(val))
            out["g"] = out["g"] + gv.T
            out["diag"] = out["diag"] + jnp.moveaxis(Hvv, 0, -1)
            if k:
                out["gz"] = out["gz"] + jnp.sum(gz, axis=0)
                out["B"] = out["B"] + jnp.moveaxis(Hvz, 0, 1)
                out["C"] = out["C"] + jnp.sum(Hzz, axis=0)
        for side in self.point_sides:
            node = side.point_node(aux)
            fun = lambda v, zz, side=side: side.at_point(v, zz, aux)
            val, gv, gz, Hvv, Hvz, Hzz = _local_derivatives(fun, V[:, node], z)
            out["L"] = out["L"] + val
            out["g"] = out["g"].at[:, node].add(gv)
            out["diag"] = out["diag"].at[:, :, node].add(Hvv)
            if k:
                out["gz"] = out["gz"] + gz
                out["B"] = out["B"].at[:, node, :].add(Hvz)
                out["C"] = out["C"] + Hzz
        return out


def _local_derivatives(fun, v, z, *args):
    """Value, gradient and Hessian of ``fun(v, z, *args)`` in ``(v, z)``, split into blocks."""
    d = v.shape[0]
    E = lambda w: fun(w[:d], w[d:], *args)
    w0 = jnp.concatenate([v, z])
    val, g = jax.value_and_grad(E)(w0)
    H = jax.hessian(E)(w0)
    return val, g[:d], g[d:], H[:d, :d], H[:d, d:], H[d:, d:]
