"""The one evaluator of a solution's piecewise polynomial and its derivatives (f, f', f'').

A solution on the grid ``x`` (n,) is one of three piecewise polynomials, with ``m`` components:

* **P1** (``degree=1``, ``order=1``): linear between the nodal values ``values`` (n, m);
* **cubic Hermite** (``order=2``): nodal values ``values`` and slopes ``slopes = df/dx`` (n, m);
* **Lagrange** (``degree=p > 1``): on each cell the polynomial through ``elements`` (n-1, p+1, m),
  its values at the cell's Gauss–Lobatto nodes (:func:`varcalc.elements.gll_nodes`).  With an
  ``end_map`` (:mod:`varcalc.endmap`) the cells are cells of the solver's grid ``grid = s`` (n,),
  the polynomials are in ``s`` and ``x = φ(s)``: derivatives in ``x`` by the chain rule.

:func:`evaluate` gives ``f`` and its ``x``-derivatives up to ``derivatives`` (0, 1 or 2) at points
``xq`` of any shape, each of shape ``xq.shape + (m,)``.  It is written once, in JAX: on concrete
(numpy) input it returns concrete arrays (``np.asarray`` them), inside ``jax.grad``/``jit``/
``vmap`` it is traced and differentiable in the values, slopes, element values and ``xq``.
``sol(xq)`` of every :class:`varcalc.Solution` (plain or traced), the diagnostics (``f, f', f''``),
the plots and the certificate's Jacobi field all evaluate through it.  Points are clipped to
``[x_0, x_{n-1}]`` (callers validate the domain where they need to).

:func:`spline_slopes` serves the diagnostics of a P1 solution: its ``f''`` is zero inside every
cell, so they use the not-a-knot cubic spline through the nodal values instead (``f''`` O(h²)
accurate).  A cubic spline is the cubic Hermite interpolant of its own nodal slopes, so that
reconstruction is the Hermite evaluator given :func:`spline_slopes` — the same code path.

>>> import numpy as np
>>> x = np.linspace(0.0, 1.0, 5)
>>> xq = np.array([0.3, 0.5])
>>> f, df, d2f = evaluate(x, xq, values=x**2, slopes=2 * x, derivatives=2)   # Hermite: exact on x²
>>> np.round(np.asarray(f)[:, 0], 12).tolist(), np.round(np.asarray(df)[:, 0], 12).tolist()
([0.09, 0.25], [0.6, 1.0])
>>> round(float(evaluate(x, 0.3, values=x**2)[0][0]), 12)                  # P1: the chord
0.1
"""

from __future__ import annotations

from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .endmap import EndMap

__all__ = ["evaluate", "spline_slopes", "is_traced"]


def is_traced(*trees) -> bool:
    """True when any leaf of the pytrees is a JAX tracer (inside grad/jvp/jit/vmap)."""
    return any(isinstance(leaf, jax.core.Tracer) for tree in trees for leaf in jax.tree_util.tree_leaves(tree))


def evaluate(x, xq, *, values=None, slopes=None, elements=None, end_map=None, grid=None, derivatives=0):
    """``(f, f', ...)`` up to the ``derivatives``-th (0, 1 or 2) at ``xq``, each ``xq.shape + (m,)``.

    Parameters
    ----------
    x : array (n,)
        The grid (physical abscissae; increasing).
    xq : array, any shape
        Evaluation points (clipped to ``[x_0, x_{n-1}]``).
    values : array (n,) or (n, m)
        Nodal values (P1 and Hermite; ignored when ``elements`` is given).
    slopes : array (n,) or (n, m), optional
        Nodal ``df/dx``: cubic Hermite.
    elements : array (n-1, p+1) or (n-1, p+1, m), optional
        Each cell's values at its ``p + 1`` GLL nodes: degree-``p`` Lagrange.
    end_map : EndMap, optional
        With ``elements``: the cells are in ``s``, ``x = end_map.x_of_s(s)``.
    grid : array (n,), optional
        With ``end_map``: the solver's grid ``s`` (default ``end_map.s_of_x(x)``).
    derivatives : int
        Highest derivative in ``x`` returned.

    Returns
    -------
    tuple of ``derivatives + 1`` JAX arrays, each ``jnp.shape(xq) + (m,)``.
    """
    if derivatives not in (0, 1, 2):
        raise ValueError(f"derivatives: expected 0, 1 or 2, got {derivatives!r}")
    if end_map is not None and grid is None:
        grid = end_map.s_of_x(np.asarray(x))  # (x is concrete whenever grid is not given)
    powers, ends = (None, None) if end_map is None else (end_map.powers, (end_map.a, end_map.b))
    # One compiled program per (kind, shapes), not one per jnp operation: evaluated eagerly, a
    # degree-p solution's ~40 operations each compiled on first use (~0.5 s for a first plot).
    return _evaluate_compiled(x, xq, values, slopes, elements, ends, grid, powers=powers, derivatives=derivatives)


@partial(jax.jit, static_argnames=("powers", "derivatives"))
def _evaluate_compiled(x, xq, values, slopes, elements, ends, grid, *, powers, derivatives):
    end_map = None if powers is None else EndMap(powers, *ends)
    xq = jnp.asarray(xq, dtype=jnp.float64)
    shape = xq.shape
    flat = jnp.reshape(xq, (-1,))
    x = jnp.asarray(x, dtype=jnp.float64)
    flat = jnp.clip(flat, x[0], x[-1])
    if elements is not None:
        jets = _lagrange(x, flat, elements, end_map, grid, derivatives)
    elif slopes is not None:
        jets = _hermite(x, flat, values, slopes, derivatives)
    else:
        jets = _linear(x, flat, values, derivatives)
    return tuple(jnp.reshape(j, shape + (j.shape[-1],)) for j in jets)


def _cells(grid, t_points):
    """Cell index (N,) of each point (the last cell holds the right end), and its local ``t ∈ [0, 1]``
    and width ``h`` (N,)."""
    n = grid.shape[0]
    cell = jnp.clip(jnp.searchsorted(grid, t_points, side="right") - 1, 0, n - 2)
    h = grid[cell + 1] - grid[cell]
    return cell, (t_points - grid[cell]) / h, h


def _columns(a, n):
    return jnp.reshape(jnp.asarray(a, dtype=jnp.float64), (n, -1))  # (n, m)


def _linear(x, xq, values, derivatives):
    F = _columns(values, x.shape[0])
    i, t, h = _cells(x, xq)
    t = t[:, None]
    f = (1.0 - t) * F[i] + t * F[i + 1]  # exact nodal values at t = 0 and t = 1
    jets = [f, (F[i + 1] - F[i]) / h[:, None], jnp.zeros_like(f)]
    return jets[: derivatives + 1]


def _hermite(x, xq, values, slopes, derivatives):
    n = x.shape[0]
    F, S = _columns(values, n), _columns(slopes, n)
    i, t, h = _cells(x, xq)
    t, h = t[:, None], h[:, None]
    a, b, c, d = F[i], h * S[i], F[i + 1], h * S[i + 1]  # the cubic's data in the cell's t
    f = (2 * t**3 - 3 * t**2 + 1) * a + (t**3 - 2 * t**2 + t) * b + (-2 * t**3 + 3 * t**2) * c + (t**3 - t**2) * d
    jets = [f]
    if derivatives >= 1:
        jets.append(
            ((6 * t**2 - 6 * t) * a + (3 * t**2 - 4 * t + 1) * b + (6 * t - 6 * t**2) * c + (3 * t**2 - 2 * t) * d) / h
        )
    if derivatives >= 2:
        jets.append(((12 * t - 6) * a + (6 * t - 4) * b + (6 - 12 * t) * c + (6 * t - 2) * d) / h**2)
    return jets


@cache
def _gll_tables(p: int):
    """GLL nodes (p+1,), barycentric weights ``w_j = 1 / Π_{k≠j} (ξ_j - ξ_k)`` and the
    differentiation matrix ``D`` (p+1, p+1) (``D @ values`` = the derivative's values at the
    nodes, exact for degree p); numpy, once per degree."""
    from .elements import gll_nodes

    nodes = gll_nodes(p)
    diff = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(diff, 1.0)
    w = 1.0 / np.prod(diff, axis=1)
    D = (w[None, :] / w[:, None]) / diff
    np.fill_diagonal(D, 0.0)
    np.fill_diagonal(D, -D.sum(axis=1))
    return nodes, w, D


def _lagrange_basis(nodes, w, t):
    """``ℓ_j(t) = w_j Π_{k≠j} (t - ξ_k)``, (N, p+1): the product form (no division by ``t - ξ_j``,
    so smooth in ``t`` at the nodes too), the products over ``k ≠ j`` from prefix and suffix
    cumulative products, O(N p) memory."""
    diffs = t[:, None] - jnp.asarray(nodes)[None, :]  # (N, p+1)
    one = jnp.ones_like(diffs[:, :1])
    before = jnp.concatenate([one, jnp.cumprod(diffs[:, :-1], axis=1)], axis=1)
    after = jnp.concatenate([jnp.cumprod(diffs[:, :0:-1], axis=1)[:, ::-1], one], axis=1)
    return jnp.asarray(w)[None, :] * before * after


def _lagrange(x, xq, elements, end_map, grid, derivatives):
    E = jnp.asarray(elements, dtype=jnp.float64)
    E = jnp.reshape(E, E.shape[:2] + (-1,))  # (cells, p+1, m)
    p = E.shape[1] - 1
    nodes, w, D = _gll_tables(p)
    sq = xq
    if end_map is not None:  # the polynomials live on the s-grid
        grid = end_map.s_of_x(np.asarray(x)) if grid is None else grid
        sq = _s_of_x(end_map, xq)
    s_grid = x if end_map is None else jnp.asarray(grid, dtype=jnp.float64)
    cell, t, h = _cells(s_grid, sq)
    basis = _lagrange_basis(nodes, w, t)  # (N, p+1)
    hs = jnp.diff(s_grid)[:, None, None]
    node_jets = [E]  # values of f, f_s, f_ss at every cell's GLL nodes
    for _ in range(derivatives):
        node_jets.append(jnp.einsum("jk,ckm->cjm", jnp.asarray(D), node_jets[-1]) / hs)
    jets = [jnp.einsum("nj,njm->nm", basis, v[cell]) for v in node_jets]
    if end_map is None or derivatives == 0:
        return jets
    d1 = end_map.dx_ds(sq)[:, None]  # x = φ(s): f' = f_s / φ', f'' = (f_ss - f' φ'') / φ'²
    df = jets[1] / d1
    out = [jets[0], df]
    if derivatives == 2:
        out.append((jets[2] - df * end_map.d2x_ds2(sq)[:, None]) / d1**2)
    return out


def _s_of_x(end_map, xq):
    """``s = φ⁻¹(xq)``: the end map's numpy inverse on concrete points; traced, the same
    bisection in JAX, then Newton steps (which also carry the derivative ``ds/dx = 1/φ'``)."""
    if not is_traced(xq):
        return jnp.asarray(end_map.s_of_x(np.asarray(xq)))

    def bisect(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = end_map.x_of_s(mid) < lax.stop_gradient(xq)
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = lax.fori_loop(0, 60, bisect, (jnp.zeros_like(xq), jnp.ones_like(xq)))
    s = 0.5 * (lo + hi)
    for _ in range(2):  # where φ' is not tiny (at a mapped end it is 0: s is exact there anyway)
        d = end_map.dx_ds(s)
        ok = d > 1e-300
        s = jnp.where(ok, s - (end_map.x_of_s(s) - xq) / jnp.where(ok, d, 1.0), s)
    return jnp.clip(s, 0.0, 1.0)


def spline_slopes(x, values):
    """Nodal slopes (n, m) of the not-a-knot cubic spline through ``values`` (n,) or (n, m) on
    ``x`` (n >= 4), concrete (numpy; a banded solve in SciPy).  :func:`evaluate` with these slopes
    is that spline.

    >>> x = np.linspace(0.0, 1.0, 6)
    >>> (np.round(spline_slopes(x, x**3)[:, 0], 12) + 0.0).tolist()      # cubics are reproduced
    [0.0, 0.12, 0.48, 1.08, 1.92, 3.0]
    """
    from scipy.interpolate import CubicSpline

    x = np.asarray(x, dtype=np.float64)
    F = np.asarray(values, dtype=np.float64).reshape(x.size, -1)
    return CubicSpline(x, F, axis=0)(x, 1)
