"""High-order (degree-p) Lagrange elements on Gauss–Lobatto–Legendre nodes, for ``order=1`` problems.

On each cell ``[x_i, x_{i+1}]`` the trial function is the polynomial of degree ``p`` through its
values at the ``p + 1`` Gauss–Lobatto–Legendre (GLL) nodes ``ξ_0 = 0 < ξ_1 < … < ξ_p = 1`` (reference
coordinate ``t = (x - x_i) / h_i``); it is continuous across nodes (the end values are shared).

Unknowns, nodes last as everywhere in varcalc: ``V`` of shape ``(m p, n)``.  Column ``i`` holds
``[f at node i (m); f at the interior GLL nodes ξ_1 … ξ_{p-1} of cell i (m each)]``, so cell ``i``
depends on column ``i`` and the first ``m`` rows of column ``i + 1``: the Hessian stays block
tridiagonal with ``(mp × mp)`` blocks (each upper block nonzero in its first ``m`` columns only),
factored in O(n (mp)³) by the same block LDLᵀ as piecewise-linear elements.  The last column has
no cell to its right: its interior rows are dummies with no energy, kept fixed by the solver.

Quadrature: Gauss–Legendre with ``p + 2`` points per cell by default.  For a smooth integrand the
nodal and L² errors are O(h^{p+1}) and ``|J_h - J|`` is O(h^{2p}) (the functional is stationary at
the extremal, so its error is the square of the energy-norm error, O(h^p)²; the quadrature with
``p + 2`` points is exact to degree ``2p + 3`` and does not spoil it).

>>> import numpy as np
>>> np.round(gll_nodes(2), 12).tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from .functional import mask_cells, real_cells, zero_padded

__all__ = [
    "LagrangeFunctional",
    "HermitePFunctional",
    "hermite_points",
    "gll_nodes",
    "lagrange_basis",
    "evaluate_elements",
]


def gll_nodes(p: int) -> np.ndarray:
    """The ``p + 1`` Gauss–Lobatto–Legendre nodes on ``[0, 1]``, increasing, shape ``(p + 1,)``.

    The interior nodes are the roots of ``P_p'`` (Legendre), refined by Newton in float64.

    >>> np.round(gll_nodes(3), 6).tolist()
    [0.0, 0.276393, 0.723607, 1.0]
    """
    return _gll_nodes(int(p)).copy()


@cache
def _gll_nodes(p: int) -> np.ndarray:  # cached: every solve builds its elements from these
    if p < 1:
        raise ValueError(f"degree: expected an integer >= 1, got {p}")
    if p == 1:
        return np.array([0.0, 1.0])
    from numpy.polynomial import legendre as leg

    dP = leg.legder(np.eye(p + 1)[p])
    r = np.sort(np.real(leg.legroots(dP)))
    d2P = leg.legder(dP)
    for _ in range(3):  # polish the roots (legroots is accurate to ~1e-15 only for small p)
        r = r - leg.legval(r, dP) / leg.legval(r, d2P)
    s = np.concatenate([[-1.0], r, [1.0]])
    s = 0.5 * (s - s[::-1])  # exactly symmetric
    return 0.5 * (s + 1.0)


def gll_weights(p: int) -> np.ndarray:
    """Quadrature weights of the ``p + 1`` Gauss–Lobatto–Legendre nodes on ``[0, 1]`` (sum 1):
    ``w_j = 1 / (p (p + 1) P_p(s_j)²)`` at ``s_j = 2 t_j - 1``; the lumped element mass.

    >>> gll_weights(2).tolist()
    [0.16666666666666666, 0.6666666666666666, 0.16666666666666666]
    """
    from numpy.polynomial import legendre as leg

    s = 2.0 * gll_nodes(p) - 1.0
    return 1.0 / (p * (p + 1) * leg.legval(s, np.eye(p + 1)[p]) ** 2)


def lagrange_basis(nodes: np.ndarray, t: np.ndarray):
    """Lagrange basis on ``nodes`` (k,) and its derivative at points ``t`` (q,) off the nodes or on them.

    Returns ``(phi, dphi)``, each of shape ``(k, q)``: ``phi[j, a] = ℓ_j(t_a)``, ``dphi`` = ``dℓ_j/dt``.
    (numpy, once per element type: the basis is a constant of the compiled program.)
    """
    nodes, t = np.asarray(nodes, float), np.asarray(t, float)
    k = nodes.size
    # Coefficients in the monomial basis are ill-conditioned for large k; use the product form.
    phi = np.ones((k, t.size))
    dphi = np.zeros((k, t.size))
    for j in range(k):  # k <= ~20: a loop over the basis, not over cells
        others = np.delete(nodes, j)
        denom = np.prod(nodes[j] - others)
        terms = t[None, :] - others[:, None]  # (k-1, q)
        phi[j] = np.prod(terms, axis=0) / denom
        for l in range(k - 1):
            dphi[j] += np.prod(np.delete(terms, l, axis=0), axis=0) / denom
    return phi, dphi


def evaluate_elements(x, values, xq):
    """Evaluate the piecewise polynomial with ``values`` (n-1, p+1, m) at each cell's GLL nodes.

    ``x`` (n,) are the cell ends, ``xq`` any shape inside ``[x_0, x_{n-1}]``; returns
    ``xq.shape + (m,)`` (numpy).  A numpy view of :func:`varcalc.piecewise.evaluate` (the one
    evaluator; JAX, differentiable).

    >>> x = np.array([0.0, 1.0, 2.0]); t = gll_nodes(2)
    >>> vals = np.stack([(x[i] + t)**2 for i in range(2)])[:, :, None]   # f = x², exact at degree 2
    >>> float(evaluate_elements(x, vals, np.array(1.5))[0])
    2.25
    """
    from .piecewise import evaluate

    with jax.ensure_compile_time_eval():  # concrete in, concrete out (also inside a traced function)
        return np.asarray(evaluate(np.asarray(x, float), np.asarray(xq, float), elements=np.asarray(values, float))[0])


@cache
def _element_tables(p: int, q: int):
    """Basis ``(phi, dphi)`` (p+1, q) at the ``q`` Gauss points, and the two flat-end maps: zero
    slope at t = 0 (t = 1) sets c_1 (c_{p-1}) = -Σ_{j≠1} c_j ℓ_j'(0) / ℓ_1'(0), a (p+1, p+1) matrix
    acting on a cell's coefficients.  Cached per (p, q): numpy work done once, not per solve."""
    from .quadrature import gauss_rule

    nodes = gll_nodes(p)
    phi, dphi = lagrange_basis(nodes, np.asarray(gauss_rule(q).t))
    _, d_ends = lagrange_basis(nodes, np.array([0.0, 1.0]))  # (p+1, 2)
    flat_maps = []
    for side, j in ((0, 1), (1, p - 1)):
        P = np.eye(p + 1)
        P[j] = -d_ends[:, side] / d_ends[j, side]
        P[j, j] = 0.0
        flat_maps.append(P)
    return phi, dphi, tuple(flat_maps)


class LagrangeFunctional:
    """``J_h`` of an integrand ``G(f, f', x, z, aux)`` on continuous degree-``p`` Lagrange elements.

    Parameters
    ----------
    integrand : callable ``G(f, df, x, z, aux)``
        The internal integrand (:func:`varcalc.lagrangian.internal_integrand`).
    vector : bool
        False: ``G`` gets scalars; True: arrays of shape ``(m,)``.
    m : int
        Components of ``f``.
    degree : int
        Polynomial degree ``p >= 2``.
    points : int, optional
        Gauss–Legendre points per cell (default ``p + 2``).
    flat_ends : (bool, bool)
        Impose ``df/dx = 0`` at the left / right end of the grid (the grid of a mapped singular
        end, :mod:`varcalc.endmap`): the end cell's GLL value next to that end is not an unknown
        but follows from the others (:meth:`complete`); its row of ``V`` is a dummy.

    Methods take ``V`` (shape ``(m p, n)``, see the module docstring), ``x`` (n,), ``z`` (k,), ``aux``.

    >>> import jax.numpy as jnp, numpy as np
    >>> x = jnp.linspace(0.0, 1.0, 3)
    >>> J = LagrangeFunctional(lambda f, df, x, z, aux: df**2, False, 1, 2)
    >>> V = J.interpolate(lambda s: s**2, np.asarray(x))   # f = x²: ∫ 4x² = 4/3
    >>> round(float(J.value(jnp.asarray(V), x, jnp.zeros(0), None)), 12)
    1.333333333333
    """

    def __init__(
        self, integrand, vector: bool, m: int, degree: int, points: int | None = None, flat_ends=(False, False)
    ):
        from .quadrature import gauss_rule

        self.integrand = integrand
        self.vector = vector
        self.m = m
        self.p = int(degree)
        self.rule = gauss_rule(self.p + 2 if points is None else points)
        self.nodes = gll_nodes(self.p)
        self.phi, self.dphi, self.flat_maps = _element_tables(self.p, self.rule.size)
        self.blocks = ()
        self.flat_ends = tuple(bool(e) for e in flat_ends)
        self.shared = m  # rows of the right node's column a cell reads (its value f_{i+1})

    def _flatten_end_cells(self, coef, first, last):
        """Coefficients (p+1, m) of a cell with the flat-end constraint applied where it holds."""
        for flat, at, P in zip(self.flat_ends, (first, last), self.flat_maps):
            if flat:
                coef = jnp.where(at, jnp.asarray(P) @ coef, coef)
        return coef

    def complete(self, V):
        """``V`` (m p, n) with the dummy rows of flat ends filled in, for reporting (numpy in,
        numpy out; a JAX array — traced under ``jax.grad`` — in, JAX out)."""
        traced = isinstance(V, jax.Array)
        V = V if traced else np.array(V, dtype=np.float64)
        m, p = self.m, self.p
        for flat, cell, P, j in zip(self.flat_ends, (0, V.shape[1] - 2), self.flat_maps, (1, p - 1)):
            if flat:  # the cell's coefficients (p+1, m), as local() lays them out
                xp = jnp if traced else np
                coef = xp.concatenate([V[:, cell], V[:m, cell + 1]]).reshape(p + 1, m)
                row = (xp.asarray(P) @ coef)[j]
                if traced:
                    V = V.at[m * j : m * (j + 1), cell].set(row)
                else:
                    V[m * j : m * (j + 1), cell] = row
        return V

    # -- layout ----------------------------------------------------------------------------------
    @property
    def rows(self):
        """Element rows of ``V`` per node (``d_el``)."""
        return self.m * self.p

    def local(self, V):
        """Per-cell local unknowns, flattened: its column and the shared rows of the next one,
        shape ``(n-1, rows + shared)`` (here the values at the ``p + 1`` GLL nodes)."""
        return jnp.concatenate([V[:, :-1].T, V[: self.shared, 1:].T], axis=1)

    def interpolate(self, fun, x):
        """Unknowns ``V`` (m p, n) of the interpolant of ``fun`` (vectorised, ``x -> (…,) or (…, m)``)."""
        x = np.asarray(x, float)
        xi = x[:-1, None] + self.nodes[None, 1:-1] * np.diff(x)[:, None]  # (n-1, p-1)
        return self.unknowns(
            np.asarray(fun(x), float).reshape(x.size, self.m), np.asarray(fun(xi), float).reshape(xi.shape + (self.m,))
        )

    def unknowns(self, nodal, interior):
        """``V`` (m p, n) from nodal values (n, m) and interior values (n-1, p-1, m) (dummies: 0)."""
        n, m = nodal.shape
        inner = np.concatenate([interior.reshape(n - 1, -1), np.zeros((1, (self.p - 1) * m))], axis=0)
        return np.concatenate([nodal, inner], axis=1).T

    def element_values(self, V, x=None):
        """Each cell's values at its GLL nodes, ``(n-1, p+1, m)``: ``[f_i, interior, f_{i+1}]``, from
        ``V`` (m p, n) with the dummy rows of flat ends filled in (numpy or JAX, as ``V``; the
        grid ``x`` is not needed here, :class:`HermitePFunctional` reads its cell widths)."""
        V = self.complete(V)
        xp = jnp if isinstance(V, jax.Array) else np
        m, p, n = self.m, self.p, V.shape[1]
        inner = V[m : m * p, :-1].T.reshape(n - 1, p - 1, m)
        return xp.concatenate([V[:m, :-1].T[:, None], inner, V[:m, 1:].T[:, None]], axis=1)

    # -- energies --------------------------------------------------------------------------------
    def _cell_energy(self, loc, xL, h, z, aux, first=False, last=False):
        t, w = jnp.asarray(self.rule.t), jnp.asarray(self.rule.w)
        coef = self._flatten_end_cells(loc.reshape(self.p + 1, self.m), first, last)
        f = jnp.asarray(self.phi).T @ coef  # (q, m)
        df = (jnp.asarray(self.dphi).T @ coef) / h
        xq = xL + t * h

        def G(ff, dd, xx):
            if not self.vector:
                ff, dd = ff[0], dd[0]
            return self.integrand(ff, dd, xx, z, aux)

        return h * jnp.sum(w * jax.vmap(G)(f, df, xq))

    def cell_energies(self, V, x, z, aux):
        """Energy of each cell, shape ``(n-1,)``."""
        mask = real_cells(aux, x.shape[0] - 1)
        loc, xL, h = (mask_cells(mask, a, 0) for a in (self.local(V), x[:-1], jnp.diff(x)))
        first, last = self._end_cells(x, aux)
        E = jax.vmap(self._cell_energy, in_axes=(0, 0, 0, None, None, 0, 0))(loc, xL, h, z, aux, first, last)
        return E if mask is None else jnp.where(mask, E, 0.0)

    @staticmethod
    def _end_cells(x, aux=None):
        """Boolean masks (n-1,) of the first and the last (real) cell."""
        cells = jnp.arange(x.shape[0] - 1)
        count = aux["cells"] if isinstance(aux, dict) and "cells" in aux else x.shape[0] - 1
        return cells == 0, cells == count - 1

    def value(self, V, x, z, aux):
        return jnp.sum(self.cell_energies(V, x, z, aux))

    def gradient(self, V, x, z, aux):
        return jax.grad(self.value)(V, x, z, aux)

    def derivatives(self, V, x, z, aux):
        """As :meth:`varcalc.functional.DiscreteFunctional.derivatives`, with ``mp × mp`` blocks.

        Returns ``(J, scale, grad (d, n), diag (d, d, n), upper (d, d, n-1), extra)``, ``d = m p``.
        """
        d = self.rows
        s = self.shared
        D = d + s  # local unknowns of a cell: its left column and the shared rows of the right one
        k = z.shape[0]
        h = jnp.diff(x)

        def cell(loc, xL, hh, first, last):
            E = lambda w: self._cell_energy(w[:D], xL, hh, w[D:], aux, first, last)
            w0 = jnp.concatenate([loc, z])
            v, g = jax.value_and_grad(E)(w0)
            return v, g, jax.hessian(E)(w0)

        mask = real_cells(aux, x.shape[0] - 1)
        loc, xL, h = (mask_cells(mask, a, 0) for a in (self.local(V), x[:-1], h))
        E, g, H = jax.vmap(cell)(loc, xL, h, *self._end_cells(x, aux))  # (c,), (c, D+k), (c, D+k, D+k)
        if mask is not None:  # padded cells contribute nothing
            E, g, H = zero_padded(mask, (E, g, H))
        pad_end = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, 1)])
        pad_start = lambda a: jnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 0)])
        rows = lambda a, axis: jnp.pad(a, [(0, d - s) if ax == axis else (0, 0) for ax in range(a.ndim)])
        nodes_last = lambda a: jnp.moveaxis(a, 0, -1)
        grad = pad_end(nodes_last(g[:, :d])) + pad_start(nodes_last(rows(g[:, d:D], 1)))
        HRR = rows(rows(H[:, d:D, d:D], 1), 2)
        diag = pad_end(nodes_last(H[:, :d, :d])) + pad_start(nodes_last(HRR))
        upper = nodes_last(rows(H[:, :d, d:D], 2))
        extra = None
        if k:
            bL = nodes_last(H[:, :d, D:])  # (d, k, c)
            bR = nodes_last(rows(H[:, d:D, D:], 1))
            B = jnp.moveaxis(pad_end(bL) + pad_start(bR), 1, 2)  # (d, n, k)
            extra = (jnp.sum(g[:, D:], axis=0), B, jnp.sum(H[:, D:, D:], axis=0))
        return jnp.sum(E), jnp.sum(jnp.abs(E)), grad, diag, upper, extra


def hermite_points(p: int) -> np.ndarray:
    """The ``p - 3`` interior points ``τ`` (in ``(0, 1)``) whose values, with the values and slopes
    at both cell ends, are the unknowns of a C¹ degree-``p`` cell: the interior Gauss–Lobatto
    nodes of degree ``p - 2`` (well spread, so the cell's basis stays well conditioned).

    >>> hermite_points(3).tolist(), hermite_points(4).tolist()
    ([], [0.5])
    """
    return gll_nodes(p - 2)[1:-1] if p > 3 else np.zeros(0)


@cache
def _hermite_tables(p: int, q: int):
    """The C¹ degree-``p`` cell's basis on ``t ∈ [0, 1]``: one polynomial per local unknown, in the
    order ``[f(0), f_t(0), f(τ_1) … f(τ_{p-3}), f(1), f_t(1)]`` (Hermite–Birkhoff interpolation,
    :func:`hermite_points`), built in the Legendre basis (monomials are ill-conditioned at p ~ 16).

    Returns ``(psi, dpsi, d2psi, gll)``: values and first and second ``t``-derivatives at the
    ``q`` Gauss points, each ``(p+1, q)``, and the values at the ``p + 1`` GLL nodes ``(p+1, p+1)``
    (the cell as a degree-``p`` Lagrange polynomial: what :mod:`varcalc.piecewise` evaluates)."""
    from numpy.polynomial import legendre as leg

    from .quadrature import gauss_rule

    eye = np.eye(p + 1)  # Legendre P_k(2t - 1), k = 0..p: d/dt = 2 d/ds
    val = lambda t: np.stack([leg.legval(2 * np.asarray(t) - 1, eye[k]) for k in range(p + 1)])
    der = lambda t, r: np.stack(
        [2.0**r * leg.legval(2 * np.asarray(t) - 1, leg.legder(eye[k], r)) for k in range(p + 1)]
    )
    tau = hermite_points(p)
    C = np.concatenate([val([0.0]), der([0.0], 1), val(tau), val([1.0]), der([1.0], 1)], axis=1).T  # (dof, k)
    A = np.linalg.inv(C)  # column j: the coefficients of the basis polynomial of unknown j
    t = np.asarray(gauss_rule(q).t)
    return A.T @ val(t), A.T @ der(t, 1), A.T @ der(t, 2), A.T @ val(gll_nodes(p))


class HermitePFunctional(LagrangeFunctional):
    """``J_h`` of an integrand ``G(f, f', f'', x, z, aux)`` on C¹ elements of degree ``p >= 3``.

    Per node ``[f_i (m), f'_i (m), f at the p - 3 points τ of cell i (m each)]`` (``V`` of shape
    ``(m (p-1), n)``; the last column's interior rows are dummies); cell ``i`` reads column ``i``
    and the value and slope of node ``i + 1``, so the Hessian stays block tridiagonal.  Values and
    slopes are shared by neighbouring cells: the trial functions are C¹, conforming for ``f''``.
    ``p = 3`` is the cubic Hermite space.  Gauss–Legendre with ``p + 2`` points per cell.  For a
    smooth problem the ``f''`` error is O(h^(p-1)), the L² error O(h^(p+1)) and ``|J_h - J|``
    O(h^(2p-2)).

    >>> import jax.numpy as jnp, numpy as np
    >>> J = HermitePFunctional(lambda f, df, d2f, x, z, aux: d2f**2, False, 1, 5)
    >>> x = np.linspace(0.0, 1.0, 3); tau = hermite_points(5)
    >>> inner = (x[:-1, None] + tau * np.diff(x)[:, None])**3      # f = x³: ∫ (6x)² = 12
    >>> V = J.unknowns(x**3, 3 * x**2, inner[:, :, None])
    >>> round(float(J.value(jnp.asarray(V), jnp.asarray(x), jnp.zeros(0), None)), 12)
    12.0
    """

    def __init__(self, integrand, vector: bool, m: int, degree: int, points: int | None = None):
        super().__init__(integrand, vector, m, degree, points)
        if self.p < 3:
            raise ValueError(f"degree: C¹ elements need degree >= 3, got {self.p}")
        self.shared = 2 * m  # the right node's value and slope
        self.psi, self.dpsi, self.d2psi, self.gll = _hermite_tables(self.p, self.rule.size)
        slope = np.zeros(self.p + 1, bool)
        slope[[1, self.p]] = True  # f_t = h f' at both ends
        self.slope_dofs = slope

    @property
    def rows(self):
        return self.m * (self.p - 1)

    def complete(self, V):
        return V  # no dummy rows to fill in

    def _coef(self, loc, h, xp=jnp):
        """Cells' local unknowns ``(..., (p+1) m)`` — the rows they read, already in the basis's order
        ``[f_i, f'_i, f(τ…), f_{i+1}, f'_{i+1}]`` — as coefficients ``(..., p+1, m)``, slopes times
        the widths ``h`` (...,) (``f_t = h f'``)."""
        coef = xp.reshape(loc, xp.shape(loc)[:-1] + (self.p + 1, self.m))
        h = xp.asarray(h)[..., None, None]
        return coef * xp.where(xp.asarray(self.slope_dofs)[:, None], h, 1.0)

    def _cell_energy(self, loc, xL, h, z, aux, first=False, last=False):
        t, w = jnp.asarray(self.rule.t), jnp.asarray(self.rule.w)
        coef = self._coef(loc, h)
        f = jnp.asarray(self.psi).T @ coef  # (q, m)
        df = (jnp.asarray(self.dpsi).T @ coef) / h
        d2f = (jnp.asarray(self.d2psi).T @ coef) / h**2
        xq = xL + t * h

        def G(ff, dd, d2, xx):
            if not self.vector:
                ff, dd, d2 = ff[0], dd[0], d2[0]
            return self.integrand(ff, dd, d2, xx, z, aux)

        return h * jnp.sum(w * jax.vmap(G)(f, df, d2f, xq))

    def unknowns(self, nodal, slopes, interior):
        """``V`` (m (p-1), n) from nodal values and slopes (n,) or (n, m) and the values at the
        points τ (n-1, p-3, m) (dummies: 0)."""
        n = np.shape(nodal)[0]
        nodal, slopes = (np.reshape(a, (n, self.m)) for a in (nodal, slopes))
        inner = np.concatenate([np.reshape(interior, (n - 1, -1)), np.zeros((1, (self.p - 3) * self.m))], axis=0)
        return np.concatenate([nodal, slopes, inner], axis=1).T

    def element_values(self, V, x=None):
        """Each cell's values at its ``p + 1`` GLL nodes, ``(n-1, p+1, m)`` (numpy or JAX, as ``V``;
        ``x`` (n,): the grid, whose cell widths scale the slopes)."""
        xp = jnp if isinstance(V, jax.Array) or isinstance(x, jax.Array) else np
        loc = xp.concatenate([V[:, :-1].T, V[: self.shared, 1:].T], axis=1)
        coef = self._coef(loc, xp.diff(xp.asarray(x)), xp)
        return xp.einsum("jk,cjm->ckm", xp.asarray(self.gll), coef)
