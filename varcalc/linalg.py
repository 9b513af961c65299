"""Symmetric block-tridiagonal solves with inertia, in pure JAX (jit/vmap-able).

The Hessian of a 1-D functional with piecewise-linear elements is block tridiagonal::

    ⎡ D_0  B_0                ⎤
    ⎢ B_0ᵀ D_1  B_1           ⎥        D_i : (m, m) symmetric   (``diag[i]``)
    ⎢      B_1ᵀ D_2  ⋱        ⎥        B_i : (m, m)             (``upper[i]``)
    ⎣            ⋱   ⋱        ⎦

We factor it as ``L P Lᵀ`` (block LDLᵀ, no pivoting) with one ``lax.scan``:
``P_0 = D_0``, ``L_i = B_{i-1}ᵀ P_{i-1}^{-1}``, ``P_i = D_i - L_i B_{i-1}``.  By Sylvester's law
of inertia the matrix is positive definite exactly when every pivot block ``P_i`` is, so the same
pass that solves ``H du = -g`` tells Newton whether the Newton direction is a descent direction
(and how many negative directions the second variation has).  O(n m³) work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "block_tridiag_solve",
    "solve_nodes_last",
    "host_solve_nodes_last",
    "host_scalar_pivots",
    "block_tridiag_dense",
    "block_tridiag_matvec",
]


def block_tridiag_solve(diag, upper, rhs):
    """Solve ``H x = rhs`` for symmetric block-tridiagonal ``H``; report its inertia.

    Parameters
    ----------
    diag : array, shape (n, m, m)
    upper : array, shape (n-1, m, m)
    rhs : array, shape (n, m) or (n, m, r)
        One right-hand side, or ``r`` of them (solved with one factorisation).

    Returns
    -------
    x : array, shape of ``rhs``
        Garbage (possibly non-finite) when a pivot block is singular; check ``min_pivot``.
    n_negative : int array
        Number of negative eigenvalues of ``H`` (valid when no pivot is zero).
    min_pivot : float array
        Smallest eigenvalue over all pivot blocks; ``H`` is positive definite iff ``> 0``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> d = jnp.full((4, 1, 1), 2.0); u = jnp.full((3, 1, 1), -1.0)
    >>> x, neg, piv = block_tridiag_solve(d, u, jnp.ones((4, 1)))
    >>> [round(float(v), 6) for v in x[:, 0]], int(neg)
    ([2.0, 3.0, 3.0, 2.0], 0)
    """
    n, m, _ = diag.shape
    if rhs.ndim == 2:
        x, n_negative, min_pivot = block_tridiag_solve(diag, upper, rhs[..., None])
        return x[..., 0], n_negative, min_pivot
    if m == 1:
        x, n_negative, min_pivot = _scalar(diag[:, 0, 0], upper[:, 0, 0], rhs[:, 0])
        return x[:, None], n_negative, min_pivot
    r_count = rhs.shape[-1]
    lower = jnp.concatenate([jnp.zeros((1, m, m), diag.dtype), jnp.swapaxes(upper, 1, 2)])

    def forward(carry, xs):
        p_prev_inv, y_prev = carry
        d, b_t, r = xs  # b_t = B_{i-1}ᵀ (zero for i = 0)
        l = b_t @ p_prev_inv
        p = d - l @ b_t.T
        p = 0.5 * (p + p.T)
        y = r - l @ y_prev  # (m, r)
        p_inv = jnp.linalg.inv(p)
        return (p_inv, y), (p, p_inv, l, y)

    init = (jnp.zeros((m, m), diag.dtype), jnp.zeros((m, r_count), diag.dtype))
    _, (pivots, pivots_inv, ls, ys) = lax.scan(forward, init, (diag, lower, rhs))
    z = jnp.einsum("nij,njr->nir", pivots_inv, ys)
    l_next = jnp.concatenate([ls[1:], jnp.zeros((1, m, m), diag.dtype)])

    def backward(x_next, xs):
        zi, l_n = xs
        x = zi - l_n.T @ x_next
        return x, x

    _, x = lax.scan(backward, jnp.zeros((m, r_count), diag.dtype), (z, l_next), reverse=True)
    eig = jnp.linalg.eigvalsh(pivots)
    return x, jnp.sum(eig < 0), jnp.min(eig)


def solve_nodes_last(diag, upper, rhs):
    """:func:`block_tridiag_solve` for the components-first layout used by the Newton loop.

    ``diag`` (m, m, n), ``upper`` (m, m, n-1), ``rhs`` (m, n) or (m, n, r); returns ``x`` (shape
    of ``rhs``), ``n_negative``, ``min_pivot``.  For ``m = 1`` no transposes are made.
    """
    m = diag.shape[0]
    many = rhs.ndim == 3
    R = rhs if many else rhs[..., None]  # (m, n, r)
    if m == 1:
        x, n_negative, min_pivot = _scalar(diag[0, 0], upper[0, 0], R[0])
        x = x[None]
    else:
        x, n_negative, min_pivot = block_tridiag_solve(
            jnp.moveaxis(diag, -1, 0), jnp.moveaxis(upper, -1, 0), jnp.moveaxis(R, 1, 0)
        )
        x = jnp.moveaxis(x, 0, 1)
    return (x if many else x[..., 0]), n_negative, min_pivot


def _scalar_solve(d, e, r):
    """``m = 1``: the tridiagonal LDLᵀ with scalar pivots (about 3x faster than 1×1 blocks).

    ``d`` (n,), ``e`` (n-1,), ``r`` (n, R) for R right-hand sides; returns ``x`` (n, R)."""
    e_prev = jnp.concatenate([jnp.zeros((1,), d.dtype), e])

    def forward(carry, xs):
        p_prev, y_prev = carry
        di, ei, ri = xs
        l = ei / p_prev
        p = di - l * ei
        y = ri - l * y_prev
        return (p, y), (p, l, y)

    one = jnp.ones((), d.dtype)
    _, (p, l, y) = lax.scan(forward, (one, jnp.zeros(r.shape[1:], d.dtype)), (d, e_prev, r))
    z = y / p[:, None]
    l_next = jnp.concatenate([l[1:], jnp.zeros((1,), d.dtype)])

    def backward(x_next, xs):
        zi, ln = xs
        x = zi - ln * x_next
        return x, x

    _, x = lax.scan(backward, jnp.zeros(r.shape[1:], d.dtype), (z, l_next), reverse=True)
    return x, jnp.sum(p < 0), jnp.min(p)


# The scalar (m = 1) solver: None = chosen by backend (parallel on GPU, the sequential scan on
# CPU, where it is fastest); True / False force one (read when a solver is traced, so set it
# before the first solve).
PARALLEL_TRIDIAGONAL = None


def _scalar(d, e, r):
    use = PARALLEL_TRIDIAGONAL if PARALLEL_TRIDIAGONAL is not None else jax.default_backend() == "gpu"
    return _scalar_solve_parallel(d, e, r) if use else _scalar_solve(d, e, r)


def _scalar_solve_parallel(d, e, r):
    """``m = 1`` without a sequential scan over the nodes (for GPUs): same results as
    :func:`_scalar_solve`.

    ``x`` comes from ``jax.lax.linalg.tridiagonal_solve`` (cuSPARSE ``gtsv`` on GPU, LAPACK on
    CPU).  The inertia needs the LDLᵀ pivots ``p_i = d_i - e_{i-1}² / p_{i-1}``: ``p_i`` is the
    Möbius map ``M_i = [[d_i, -e_{i-1}²], [1, 0]]`` applied to ``p_{i-1}`` (``p_{-1} = ∞``), so
    ``p_i = a_i / c_i`` for ``[[a_i, b_i], [c_i, ·]] = M_i ⋯ M_0``: a prefix product of 2×2
    matrices, ``O(log n)`` steps deep.  A Möbius map does not change when
    its matrix is scaled, so each partial product is divided by its largest entry (no overflow).

    >>> import jax.numpy as jnp
    >>> x, neg, piv = _scalar_solve_parallel(jnp.full(4, 2.0), jnp.full(3, -1.0), jnp.ones((4, 1)))
    >>> [round(float(v), 6) for v in x[:, 0]], int(neg), round(float(piv), 6)
    ([2.0, 3.0, 3.0, 2.0], 0, 1.25)
    """
    zero = jnp.zeros((1,), d.dtype)
    p = _ldl_pivots(d, e, jnp)
    x = lax.linalg.tridiagonal_solve(jnp.concatenate([zero, e]), d, jnp.concatenate([e, zero]), r)
    return x, jnp.sum(p < 0), jnp.min(p)


def block_tridiag_dense(diag, upper):
    """The dense ``(n m, n m)`` matrix (node-major), for tests and small diagnostics only."""
    n, m, _ = diag.shape
    eye = jnp.eye(n, dtype=diag.dtype)
    sup = jnp.eye(n, k=1, dtype=diag.dtype)
    H = jnp.einsum("ab,aij->aibj", eye, diag).reshape(n * m, n * m)
    up = jnp.concatenate([upper, jnp.zeros((1, m, m), diag.dtype)])
    U = jnp.einsum("ab,aij->aibj", sup, up).reshape(n * m, n * m)
    return H + U + U.T


def block_tridiag_matvec(diag, upper, v):
    """``H v`` for the block-tridiagonal ``H``; ``v`` shape ``(n, m)``."""
    out = jnp.einsum("nij,nj->ni", diag, v)
    out = out.at[:-1].add(jnp.einsum("nij,nj->ni", upper, v[1:]))
    out = out.at[1:].add(jnp.einsum("nji,nj->ni", upper, v[:-1]))
    return out


# -- on the host: block cyclic reduction in numpy (no compile, no loop over the nodes) -------------
def host_solve_nodes_last(diag, upper, rhs):
    """:func:`solve_nodes_last` in numpy, on concrete arrays: what the Python-loop driver's step
    solves with, so that no generic program is compiled for it (only the integrand's kernel is).

    Block cyclic reduction: the odd nodes are eliminated (their pivots are the diagonal blocks
    there), which leaves a block-tridiagonal Schur complement on the even nodes, halved again until
    one node is left.  That is a block LDLᵀ of the matrix with its nodes reordered (odd first, level
    by level), so by Sylvester's law the pivots' eigenvalues give the inertia, as the sequential
    scan's do.  ``log2 n`` levels of vectorised numpy, O(n m³) work.  Non-finite entries or a
    singular pivot give a non-finite ``x`` (and ``min_pivot`` NaN or ``<= 0``), as in the scan.

    >>> import numpy as np
    >>> x, neg, piv = host_solve_nodes_last(np.full((1, 1, 4), 2.0), np.full((1, 1, 3), -1.0), np.ones((1, 4)))
    >>> [round(float(v), 6) for v in x[0]], int(neg), round(float(piv), 6)
    ([2.0, 3.0, 3.0, 2.0], 0, 1.0)
    """
    many = rhs.ndim == 3
    R = np.moveaxis(rhs if many else rhs[..., None], 1, 0)  # (n, m, r)
    D, U = np.moveaxis(diag, -1, 0), np.moveaxis(upper, -1, 0)  # (n, m, m), (n - 1, m, m)
    if not (np.all(np.isfinite(D)) and np.all(np.isfinite(U))):
        return np.full(rhs.shape, np.nan), np.int64(0), np.float64(np.nan)
    with np.errstate(all="ignore"):  # a zero pivot shows as a non-finite x, which the caller checks
        if D.shape[1] == 1:  # scalar pivots: elementwise arithmetic, ~2x faster than 1x1 blocks
            x, negative, min_pivot = _cyclic_reduction_scalar(D[:, 0, 0], U[:, 0, 0], R[:, 0])
            x = x[:, None]
        else:
            x, negative, min_pivot = _cyclic_reduction(D, U, R)
    x = np.moveaxis(x, 0, 1)
    return (x if many else x[..., 0]), np.int64(negative), np.float64(min_pivot)


def _pivot_inverse(P):
    """Inverses (via eigh) and eigenvalues of the symmetric pivot blocks ``P`` (k, m, m)."""
    if P.shape[1] == 1:
        return 1.0 / P, P[:, 0, :]
    P = 0.5 * (P + np.swapaxes(P, 1, 2))
    if not np.all(np.isfinite(P)):
        nan = np.full(P.shape, np.nan)
        return nan, nan[:, :, 0]
    eig, Q = np.linalg.eigh(P)
    return (Q / eig[:, None, :]) @ np.swapaxes(Q, 1, 2), eig


def _cyclic_reduction(D, U, R):
    """Solve the block-tridiagonal system (``D`` (n, m, m), ``U`` (n - 1, m, m) with
    ``H[i, i+1] = U[i]``, ``R`` (n, m, r)); returns ``x``, the negatives and the smallest pivot."""
    n = D.shape[0]
    P_inv, eig = _pivot_inverse(D[1::2])  # the odd nodes' pivots
    negative, min_pivot = int(np.sum(eig < 0)), (np.min(eig) if eig.size else np.inf)
    if n == 1:
        P_inv, eig = _pivot_inverse(D)
        return P_inv @ R, int(np.sum(eig < 0)), np.min(eig)
    odd = D.shape[0] // 2
    left = U[0::2][:odd]  # H[2j, 2j+1]: each odd node's coupling to the even node on its left
    right = U[1::2]  # H[2j+1, 2j+2]: to the even node on its right (not for a last odd node)
    A = P_inv @ np.swapaxes(left, 1, 2)  # P⁻¹ H[i, i-1]
    B = P_inv[: right.shape[0]] @ right  # P⁻¹ H[i, i+1]
    Y = P_inv @ R[1::2]
    # The Schur complement on the even nodes.
    D_even, R_even = D[0::2].copy(), R[0::2].copy()
    D_even[:odd] -= left @ A
    R_even[:odd] -= left @ Y
    D_even[1 : 1 + right.shape[0]] -= np.swapaxes(right, 1, 2) @ B
    R_even[1 : 1 + right.shape[0]] -= np.swapaxes(right, 1, 2) @ Y[: right.shape[0]]
    U_even = -left[: right.shape[0]] @ B
    x_even, neg_even, min_even = _cyclic_reduction(D_even, U_even, R_even)
    x_odd = Y - A @ x_even[:odd]
    x_odd[: right.shape[0]] -= B @ x_even[1 : 1 + right.shape[0]]
    x = np.empty((n,) + R.shape[1:])
    x[0::2], x[1::2] = x_even, x_odd
    return x, negative + neg_even, min(min_pivot, min_even)


def _cyclic_reduction_scalar(d, u, R):
    """:func:`_cyclic_reduction` for scalar blocks: ``d`` (n,), ``u`` (n - 1,), ``R`` (n, r)."""
    n = d.size
    if n == 1:
        return R / d[0], int(d[0] < 0), d[0]
    p = d[1::2]  # the odd nodes' pivots
    negative, min_pivot = int(np.sum(p < 0)), (np.min(p) if p.size else np.inf)
    odd = p.size
    left, right = u[0::2][:odd], u[1::2]
    nr = right.size
    a, b, y = left / p, right / p[:nr], R[1::2] / p[:, None]
    d_even, R_even = d[0::2].copy(), R[0::2].copy()
    d_even[:odd] -= left * a
    R_even[:odd] -= left[:, None] * y
    d_even[1 : 1 + nr] -= right * b
    R_even[1 : 1 + nr] -= right[:, None] * y[:nr]
    x_even, neg_even, min_even = _cyclic_reduction_scalar(d_even, -left[:nr] * b, R_even)
    x_odd = y - a[:, None] * x_even[:odd]
    x_odd[:nr] -= b[:, None] * x_even[1 : 1 + nr]
    x = np.empty_like(R)
    x[0::2], x[1::2] = x_even, x_odd
    return x, negative + neg_even, min(min_pivot, min_even)


def host_scalar_pivots(d, e):
    """The sequential LDLᵀ pivots ``p_i = d_i - e_{i-1}² / p_{i-1}`` of a symmetric tridiagonal
    matrix (``d`` (n,), ``e`` (n-1,)), in numpy without a loop over the nodes: ``p_i`` is the Möbius
    map ``[[d_i, -e_{i-1}²], [1, 0]]`` applied to ``p_{i-1}``, so the pivots come from prefix
    products of 2×2 matrices by doubling (``log2 n`` vectorised steps, each product rescaled by its
    largest entry: a Möbius map is unchanged by scaling; :func:`_ldl_pivots`, which
    :func:`_scalar_solve_parallel` traces for its inertia).  The Jacobi test reads the running count
    of negatives.

    >>> [round(float(p), 6) for p in host_scalar_pivots(np.full(4, 2.0), np.full(3, -1.0))]
    [2.0, 1.5, 1.333333, 1.25]
    """
    with np.errstate(all="ignore"):
        return _ldl_pivots(np.asarray(d, dtype=np.float64), np.asarray(e, dtype=np.float64), np)


def _ldl_pivots(d, e, xp):
    """The pivots ``p_i = d_i - e_{i-1}² / p_{i-1}`` by prefix products of their Möbius maps, in
    ``xp`` (``jax.numpy`` traced, or ``numpy``): inclusive products by doubling (Hillis–Steele),
    ``log2 n`` steps of elementwise work.  (``lax.associative_scan`` gives the same in O(n) work
    but took 10-20 s to compile here.)"""
    zero = xp.zeros((1,), d.dtype)
    P = (d, -xp.concatenate([zero, e * e]), xp.ones_like(d), xp.zeros_like(d))  # entries a, b, c, d
    n, k = d.shape[0], 1
    while k < n:
        # the map "earlier, then later" = later @ earlier, entrywise; the identity before the start
        a1, b1, c1, d1 = (
            xp.concatenate([xp.full((k,), ident, d.dtype), v[:-k]]) for v, ident in zip(P, (1.0, 0.0, 0.0, 1.0))
        )
        a2, b2, c2, d2 = P
        Q = (a2 * a1 + b2 * c1, a2 * b1 + b2 * d1, c2 * a1 + d2 * c1, c2 * b1 + d2 * d1)
        scale = xp.maximum(xp.maximum(xp.abs(Q[0]), xp.abs(Q[1])), xp.maximum(xp.abs(Q[2]), xp.abs(Q[3])))
        scale = xp.where(scale > 0, scale, 1.0)  # a Möbius map is unchanged by scaling: no overflow
        P, k = tuple(v / scale for v in Q), 2 * k
    return P[0] / P[2]
