"""The discrete Lagrangian: integrand, side conditions and free ends as one function of the unknowns.

Every capability beyond ``G(f, f', x)`` with fixed ends is a term of one function

    L(V, z) = Σ_cells ∫ G̃(f, f', [f'',] ξ; z) dξ  +  Σ_nodes N_i(V_i; z)  +  E(V_last; z)

of the nodal unknowns ``V`` (shape ``(d, n)``) and a few global unknowns ``z`` (shape ``(k,)``):

* ``G̃`` is the user's integrand (times -1 to maximise) plus ``λ_j (H_j - c_j / length)`` for each
  :class:`~varcalc.Integral` constraint, ``λ_j = z[j]``.  With an end on a curve the grid is the
  reference interval ``ξ ∈ [0, 1]``, ``x = A + (B - A) ξ`` with the free end's abscissa (``A`` or
  ``B``) unknown: ``G̃ = T G(f, f_ξ / T, A + T ξ)``, ``T = B - A``.
  With a singular end mapped away (``degree > 1``, :mod:`varcalc.endmap`) the grid is ``s ∈ [0, 1]``,
  ``x = φ(s)``: ``G̃ = φ'(s) G(f, f_s / φ'(s), φ(s))``.
* ``N_i``: per-node terms — the :class:`~varcalc.Data` least-squares term, and
  ``mass_i μ_i · g(f_i, x_i)`` for a :class:`~varcalc.Pointwise` constraint, whose multipliers
  ``μ_i`` are extra rows of ``V`` (so its Hessian stays block tridiagonal, with indefinite blocks).
* ``E``: ``μ φ(B, f_last)`` (``μ φ(A, f_first)``) for an end on the curve :class:`~varcalc.OnCurve`.

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

from .functional import DiscreteFunctional, HermiteFunctional, mask_cells, zero_padded

__all__ = ["Layout", "DiscreteLagrangian"]


class Layout:
    """Sizes and structure of the unknowns of a problem (static: part of the compile key)."""

    def __init__(self, problem, degree: int = 1, end_powers=(1, 1)):
        self.m = problem.components
        self.shape = problem.shape
        self.order = problem.order
        # Polynomial degree of Lagrange elements (order 1): p > 1 adds the p - 1 interior GLL values
        # of the cell to the right of each node (varcalc.elements).
        self.degree = int(degree)
        self.d_el = self.m * problem.order * self.degree  # element unknowns per node
        # Singular ends mapped away (varcalc.endmap, degree > 1): x - a ∝ s^k; (1, 1) = no map.
        self.end_powers = tuple(int(k) for k in end_powers)
        # Output shape of each Pointwise g: () or (r,) (probed once, here).
        self.pointwise_shapes = tuple(_pointwise_shape(c, problem) for c in problem.pointwise)
        self.pointwise_sizes = tuple(int(np.prod(sh, dtype=int)) for sh in self.pointwise_shapes)
        self.r = sum(self.pointwise_sizes)
        self.d = self.d_el + self.r
        self.k_int = len(problem.integrals)
        # Ends on curves: each adds its abscissa and a multiplier to z, after the integrals.
        self.curve_ends = tuple(e for e in ("left", "right") if problem.end_curve(e) is not None)
        self.free_end = bool(self.curve_ends)  # the grid is the reference interval ξ ∈ [0, 1]
        self.k = self.k_int + 2 * len(self.curve_ends)
        self.has_params = problem.params is not None
        self.has_data = problem.data is not None
        self.has_bound = problem.bound is not None

    @property
    def n_multipliers_global(self):
        """Global unknowns that are multipliers (all but the free end's length)."""
        return self.k_int + len(self.curve_ends)

    def end_index(self, end):
        """Index in ``z`` of the abscissa of a free ``end``; its multiplier follows it."""
        return self.k_int + 2 * self.curve_ends.index(end)

    def ends(self, z, aux):
        """The physical ends ``(A, B)``: unknowns for ends on curves, else the domain's."""
        A = z[self.end_index("left")] if "left" in self.curve_ends else aux["a"]
        B = z[self.end_index("right")] if "right" in self.curve_ends else aux["b"]
        return A, B

    def key(self, problem):
        """Hashable structure: functions by identity, sizes — not values."""
        funs = tuple((type(c).__name__, getattr(c, "fun", None)) for c in problem.constraints)
        ends = tuple(getattr(problem.end_curve(e), "fun", None) for e in ("left", "right"))
        key = (problem.integrand, self.shape, problem.is_vector, self.order, self.has_params,
               funs, ends, self.has_data)
        if self.degree == 1:
            return key
        return key + (("degree", self.degree),) + ((("end_powers", self.end_powers),)
                                                    if self.end_powers != (1, 1) else ())

    def end_map(self, aux):
        """The :class:`~varcalc.endmap.EndMap` on ``[aux["a"], aux["b"]]``, or None."""
        if self.end_powers == (1, 1):
            return None
        from .endmap import EndMap
        return EndMap(self.end_powers, aux["a"], aux["b"])


def _pointwise_shape(constraint, problem):
    """Output shape of a Pointwise constraint's ``g``, ``()`` or ``(r,)`` (probed with eval_shape)."""
    f = jax.ShapeDtypeStruct(problem.shape, jnp.float64)
    x = jax.ShapeDtypeStruct((), jnp.float64)
    try:
        out = jax.eval_shape(constraint.fun, f, x)
    except Exception as exc:
        raise TypeError(f"Pointwise {constraint.name!r}: calling g(f, x) with f of shape {problem.shape} "
                        f"raised {type(exc).__name__}: {exc}") from exc
    if not hasattr(out, "shape") or len(out.shape) > 1:
        raise ValueError(f"Pointwise {constraint.name!r}: g(f, x) must return a scalar or a 1-D array, "
                         f"got {getattr(out, 'shape', type(out).__name__)}")
    r = int(np.prod(out.shape, dtype=int))
    if r >= problem.components:
        raise ValueError(
            f"Pointwise {constraint.name!r}: g imposes {r} equations on an unknown with only "
            f"{problem.components} components, which fixes f entirely; a pointwise constraint needs "
            "fewer equations than components")
    return tuple(out.shape)


def internal_integrand(problem, layout):
    """``G̃(f, df, [d2f,] x, z, aux)`` as described in the module docstring."""
    G, shape, vector = problem.integrand, problem.shape, problem.is_vector
    integrals = [c.fun for c in problem.integrals]
    k_int, free_end, has_params = layout.k_int, layout.free_end, layout.has_params
    mapped = layout.end_powers != (1, 1)
    as_shape = (lambda a: jnp.reshape(a, shape)) if vector else (lambda a: a)

    def assemble(jets, x, z, aux):
        if free_end:
            A, B = layout.ends(z, aux)
            T = B - A
            x = A + T * x
            jets = (jets[0], jets[1] / T) + jets[2:]
        elif mapped:  # x = φ(s): f' = f_s / φ'(s), dx = φ'(s) ds (order 1 only)
            end_map = layout.end_map(aux)
            T = end_map.dx_ds(x)
            x = end_map.x_of_s(x)
            jets = (jets[0], jets[1] / T)
        args = tuple(as_shape(j) for j in jets) + (x,) + ((aux["p"],) if has_params else ())
        value = aux["sign"] * G(*args)
        for j, H in enumerate(integrals):
            value = value + z[j] * H(*args)
        if free_end or mapped:
            value = T * value
        if k_int:
            value = value - jnp.dot(z[:k_int], aux["c"]) / aux["length"]
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
        if problem.order == 1 and layout.degree > 1:
            from .elements import LagrangeFunctional
            self.elements = LagrangeFunctional(G, problem.is_vector, layout.m, layout.degree,
                                               flat_ends=tuple(k > 1 for k in layout.end_powers))
        elif problem.order == 1:
            self.elements = DiscreteFunctional(G, problem.is_vector, blocks)
        else:
            self.elements = HermiteFunctional(G, problem.is_vector, layout.m)
        self.pointwise = [(c.fun, r) for c, r in zip(problem.pointwise, layout.pointwise_sizes)]
        self.end_curves = {e: problem.end_curve(e).fun for e in layout.curve_ends}
        self.has_nodal = bool(self.pointwise) or layout.has_data

    # -- the terms ------------------------------------------------------------------------------
    def _physical(self, x, z, aux):
        """Physical abscissa and length factor (``x = a + T ξ``, ``dx = T dξ``) for a free end."""
        if self.layout.free_end:
            A, B = self.layout.ends(z, aux)
            return A + (B - A) * x, B - A
        return x, 1.0

    def _nodal(self, v, z, x, node, aux):
        """Per-node terms ``N_i``: data misfit and pointwise-constraint multipliers."""
        lay = self.layout
        f = v[:lay.m]
        value = 0.0
        if lay.has_data:
            value = value + aux["sign"] * node["w"] * jnp.sum((f - node["y"]) ** 2)
        xx, jac = self._physical(x, z, aux)
        row = lay.d_el
        F = jnp.reshape(f, lay.shape)
        for g, r in self.pointwise:
            mu = v[row:row + r]
            value = value + jac * node["mass"] * jnp.dot(mu, jnp.reshape(g(F, xx), (r,)))
            row += r
        return value

    def _end(self, end, v, z, aux):
        """``μ φ(x_end, f_end)`` at an end on a curve."""
        lay = self.layout
        i = lay.end_index(end)
        return z[i + 1] * self.end_curves[end](z[i], jnp.reshape(v[:lay.m], lay.shape))

    def _nodes(self, aux):
        return {key: aux[key] for key in ("mass", "w", "y")}

    @staticmethod
    def _end_nodes(aux):
        """Indices of the first and the last (real) node: the last is ``aux["cells"]`` when the
        grid is padded to a size bucket (see :func:`varcalc.functional.real_cells`)."""
        return {"left": 0, "right": aux["cells"] if isinstance(aux, dict) and "cells" in aux else -1}

    def _per_node(self, fun, V, x, aux):
        """``vmap`` of ``fun(v, x, node)`` over the nodes; padded nodes evaluated at node 0 and masked."""
        padded = isinstance(aux, dict) and "cells" in aux
        mask = jnp.arange(x.shape[0]) <= aux["cells"] if padded else None  # real nodes: cells + 1
        nodes = jax.tree.map(lambda a: mask_cells(mask, a, 0), self._nodes(aux))
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
        L = self.elements.value(V[:lay.d_el], x, z, aux)
        if self.has_nodal:
            L = L + jnp.sum(self._per_node(lambda v, xx, node: self._nodal(v, z, xx, node, aux), V, x, aux))
        for end, node in self._end_nodes(aux).items():
            if end in self.end_curves:
                L = L + self._end(end, V[:, node], z, aux)
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
        for end, node in self._end_nodes(aux).items():
            if end not in self.end_curves:
                continue
            fun = lambda v, zz, end=end: self._end(end, v, zz, aux)
            val, gv, gz, Hvv, Hvz, Hzz = _local_derivatives(fun, V[:, node], z)
            out["L"] = out["L"] + val
            out["g"] = out["g"].at[:, node].add(gv)
            out["diag"] = out["diag"].at[:, :, node].add(Hvv)
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
