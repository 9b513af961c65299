"""Sparse linear solves ``H du = -g`` for the planar Newton: one place for the choice.

* ``"direct"``: SciPy's SuperLU with the minimum-degree ordering of ``Hᵀ + H``
  (``MMD_AT_PLUS_A``) and no pivoting (``diag_pivot_thresh=0``, symmetric mode): the Hessian is
  symmetric and, at a descent step, positive definite, so the symmetric ordering and the diagonal
  pivots are safe.  On the 2-D P1 Hessians of the benchmarks this factorisation is several times
  faster than ``spsolve``'s default (COLAMD ordering with partial pivoting).
* ``"cg"``: conjugate gradients preconditioned by one V-cycle of pyamg's classical (Ruge–Stüben)
  algebraic multigrid (:func:`amg_hierarchy`), built from the current Hessian: O(N) work and memory per solve, with an
  iteration count nearly independent of the mesh size.  The relative tolerance is the Newton
  forcing term chosen by the caller (inexact Newton, Eisenstat & Walker 1996).
* ``"auto"``: direct up to :data:`AUTO_DIRECT_MAX` free unknowns, CG above (fill-in and time of
  the 2-D factorisation grow like N log N and N^1.5, AMG-CG's like N).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse.linalg as spla

from ..newton import host_while_loop

__all__ = ["solve_linear", "AUTO_DIRECT_MAX", "choose", "SparseHessian"]

REUSE_MAX_ITER = 6  # CG iterations with a stale factorisation before refactoring
# Free unknowns up to which "auto" factorises.  On Scherk's P1 Hessians (2 cores, shared) the
# AMG-CG solve (own PCG, bare V-cycle) took 3.4 s of CPU at 66k nodes against 3.8 direct, 7.6
# against 8.9 at 263k with 0.8 against 1.4 GB (benchmarks/bench_planar.py); the direct path is
# kept below this size for the pivots' inertia (the certificate reads it).
AUTO_DIRECT_MAX = 150_000


def choose(kind: str, n: int) -> str:
    if kind not in ("auto", "direct", "cg"):
        raise ValueError(f"linear_solver: expected 'auto', 'direct' or 'cg', got {kind!r}")
    if kind == "auto":
        return "direct" if n <= AUTO_DIRECT_MAX else "cg"
    return kind


def solve_linear(H, b, kind, rtol=1e-10, cache=None):
    """Solve ``H x = b`` (H CSR, symmetric).  Returns ``(x, info)`` with ``info`` a dict:
    ``time``, ``iterations`` (CG), ``converged``, ``positive`` (direct: all pivots > 0; CG: True,
    it cannot tell) and, from a fresh symmetric factorisation, ``negative`` (negative pivots =
    negative eigenvalues).

    ``cache`` (a dict kept by the caller across Newton iterations) keeps the last positive
    definite factorisation (direct), used as a CG preconditioner for the next Hessian, and the
    AMG hierarchy of an earlier Hessian (cg): near the minimiser the Hessian hardly changes.  The
    hierarchy is rebuilt when CG needed more than twice the iterations per digit of ``rtol`` that
    it took with a fresh one (at least 3 per digit), plus 5."""
    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    if kind == "direct":
        if "lu" in cache:
            # The factorisation of an earlier Hessian as CG preconditioner: a few triangular
            # solves instead of a new factorisation while the Hessian changes little (near the
            # minimiser); refactor when CG does not reach rtol in REUSE_MAX_ITER iterations.
            old = cache["lu"]
            x, info, count = pcg(H, b, old.solve, rtol, REUSE_MAX_ITER)
            if info == 0 and np.all(np.isfinite(x)):
                return x, dict(
                    time=time.perf_counter() - t0,
                    iterations=count,
                    converged=True,
                    positive=cache["positive"],
                    reused=True,
                )
        try:
            lu = spla.splu(
                H.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=dict(SymmetricMode=True)
            )
            x = lu.solve(b)
            ok = bool(np.all(np.isfinite(x)))
            # Symmetric permutation (perm_r = perm_c) and no pivoting: P H Pᵀ = L U with
            # U's diagonal the LDLᵀ pivots, so H is positive definite iff they are all > 0.
            symmetric = bool(np.array_equal(lu.perm_r, lu.perm_c))
            pivots = lu.U.diagonal()
            positive = symmetric and bool(np.all(pivots > 0))
            # Sylvester's law of inertia: as many negative pivots as negative eigenvalues
            negative = int(np.sum(pivots < 0)) if symmetric else None
            if ok and positive:
                cache["lu"], cache["positive"] = lu, positive
        except RuntimeError:  # exactly singular pivot
            x, ok, positive, negative = np.full_like(b, np.nan), False, False, None
        return x, dict(time=time.perf_counter() - t0, iterations=0, converged=ok, positive=positive, negative=negative)
    fresh = "ml" not in cache
    if fresh:
        cache["ml"] = amg_hierarchy(H)
    ml = cache["ml"]
    x, info, count = pcg(H, b, lambda r: vcycle(ml, r), rtol, 500)
    digits = max(-np.log10(rtol), 1.0)
    if fresh:  # CG iterations per digit with a fresh hierarchy (the looser first solves say little)
        cache["per_digit"] = max(count / digits, 3.0)
    elif count > 2 * cache["per_digit"] * digits + 5 or info != 0:
        del cache["ml"]  # stale: rebuild at the next solve
    # CG cannot certify definiteness: the caller checks the curvature along the step
    return x, dict(
        time=time.perf_counter() - t0, iterations=count, converged=info == 0, levels=len(ml.levels), positive=True
    )


def vcycle(ml, b, level=0):
    """One V-cycle of the pyamg hierarchy ``ml`` on ``A x = b`` from ``x = 0`` (the
    preconditioner of :func:`pcg`).  pyamg's own ``aspreconditioner`` wraps the cycle in its
    ``solve``, which also forms the residual twice and takes three BLAS norms per application."""
    if len(ml.levels) == 1:  # a small matrix: the hierarchy is its sparse LU
        return np.asarray(ml.coarse_solver(ml.levels[0].A, b)).reshape(b.shape)
    lv = ml.levels[level]
    x = np.zeros_like(b)
    lv.presmoother(lv.A, x, b)
    rc = lv.R @ (b - lv.A @ x)
    if level == len(ml.levels) - 2:
        xc = np.asarray(ml.coarse_solver(ml.levels[-1].A, rc)).reshape(rc.shape)
    else:
        xc = vcycle(ml, rc, level + 1)
    x += lv.P @ xc
    lv.postsmoother(lv.A, x, b)
    return x


def _dot(a, b):
    # einsum's own loop, not BLAS: OpenBLAS's threaded ddot spins its threads on every call, and
    # on a loaded 2-core machine that tripled the CPU time of SciPy's cg (0.98 of 4.1 s at 261k
    # unknowns in 136 dot products; the whole solve 1.4 s with one BLAS thread)
    return float(np.einsum("i,i->", a, b))


def pcg(A, b, M, rtol, maxiter):
    """Preconditioned conjugate gradients from ``x = 0`` until ``‖r‖₂ <= rtol ‖b‖₂``:
    ``(x, info, iterations)`` with ``info`` 0 when converged, 1 when ``maxiter`` ran out, -1 on
    a breakdown (non-finite or non-positive ``rᵀ M r``).  ``A`` a sparse matrix, ``M`` a
    callable applying the preconditioner.  SciPy's ``cg`` without its BLAS dot products
    (:func:`_dot`).

    >>> import scipy.sparse as sp
    >>> A = sp.diags([[-1.0] * 4, [2.0] * 5, [-1.0] * 4], [-1, 0, 1], format="csr")
    >>> x, info, k = pcg(A, np.ones(5), lambda r: r, 1e-12, 10)
    >>> info, k, bool(np.allclose(A @ x, 1.0))
    (0, 3, True)
    """
    x = np.zeros_like(b)
    bnorm = np.sqrt(_dot(b, b))
    if bnorm == 0:
        return x, 0, 0
    r = b.copy()
    z = M(r)
    p = z.copy()
    rz = _dot(r, z)
    for k in range(1, maxiter + 1):
        if not np.isfinite(rz) or rz <= 0:
            return x, -1, k - 1
        q = A @ p
        pq = _dot(p, q)
        if not np.isfinite(pq) or pq == 0:
            return x, -1, k - 1
        alpha = rz / pq
        x += alpha * p
        r -= alpha * q
        if np.sqrt(_dot(r, r)) <= rtol * bnorm:
            return x, 0, k
        z = M(r)
        rz, rz_old = _dot(r, z), rz
        p *= rz / rz_old
        p += z
    return x, 1, maxiter


def amg_hierarchy(H):
    """pyamg's classical (Ruge–Stüben) AMG hierarchy of ``H``.  On the P1 Hessians of the
    benchmark (Scherk, 261k unknowns) its setup took 0.36 s of CPU against 3.6 s for smoothed
    aggregation, for 34 CG iterations to 1e-8 against 29 at the same cost per iteration
    (``benchmarks/bench_planar.py``): the setup dominated, and a Newton solve sets up once per
    level (more when the hierarchy goes stale)."""
    import pyamg

    # the coarsest level by a sparse LU: pyamg's default dense pseudo-inverse applies a dense
    # matrix-vector product per cycle (BLAS, threaded) and its SVD took 1.7 s at 10⁶ nodes
    # strength θ = 0.5 (pyamg's default 0.25) and one forward Gauss-Seidel sweep before, one
    # backward after (a symmetric V-cycle; the default does a symmetric sweep pair each side): on
    # the Scherk Hessian at 261k unknowns 33 CG iterations to 1e-8 in 0.83 s of CPU against 34 in
    # 1.13 s, for an operator complexity of 2.72 against 2.31
    return pyamg.ruge_stuben_solver(
        H,
        strength=("classical", {"theta": 0.5}),
        max_coarse=500,
        max_levels=30,
        coarse_solver="splu",
        presmoother=("gauss_seidel", {"sweep": "forward"}),
        postsmoother=("gauss_seidel", {"sweep": "backward"}),
    )


# S = diag(|H_jj|) of the inertia correction, floored at this fraction of its mean where a row of H
# vanishes (e.g. the p-Laplacian where ∇u = 0).  The 1-D operator adds 1e-14 of the mean instead:
# kept as it was on each side (each operator owns the scaling of its shift; the schedule of τ is
# the shared one).
SHIFT_SCALE_FLOOR = 1e-6


class SparseHessian:
    """The 2-D Hessian operator: CSR over the free unknowns, solved on the host (SuperLU or AMG-CG).

    The planar implementation of the operator interface of the generic Newton step (described at
    :class:`varcalc.newton.BlockTridiagonal`), so :func:`varcalc.newton.shifted_solve` (the
    inertia correction) and :class:`varcalc.steps.MinimizeStep` (line search, convergence test,
    histories) run on it unchanged, in numpy (``xp``) with a Python ``while_loop``.

    ``pattern`` (:class:`~varcalc.planar.assemble.Pattern`) and the element Hessians ``elem_hess``
    give ``H`` (assembled on the first solve, after the finiteness test); ``free`` indexes the free
    unknowns in the step's vectors (of ``size`` unknowns, shape (1, size)); ``kind``: ``"direct"``
    or ``"cg"``; ``rtol``: CG's relative tolerance (the inexact-Newton forcing term); ``cache``:
    kept across iterations by the caller (see :func:`solve_linear`).  ``attempt`` certifies
    ``H + τ S`` positive definite by its pivots (direct; their signs give the inertia) and, for
    both kinds, by the curvature along the step (``gᵀdu < 0``, ``duᵀ (H + τ S) du > 0``): the only
    test CG has.  It counts linear iterations, linear-solve time and assembly time in
    ``iterations``, ``time`` and ``time_assembly``.
    """

    xp = np
    while_loop = staticmethod(host_while_loop)

    def __init__(self, pattern, elem_hess, free, size, kind, *, finite=True, rtol=1e-10, cache=None):
        self.pattern, self.elem_hess, self.free, self.size, self.kind = pattern, elem_hess, free, int(size), kind
        self._finite = bool(finite)
        self.rtol, self.cache = rtol, cache
        self.iterations, self.time, self.time_assembly = 0, 0.0, 0.0
        self._matrix = None
        self._diagonal = None  # added to H's diagonal (the bounds' barrier), over the free unknowns
        self._keep = None  # positions (into free) of the unknowns solved for; None: all (no contact)

    @property
    def matrix(self):
        """``H`` on the free unknowns (CSR), assembled once (plus the barrier's diagonal)."""
        if self._matrix is None:
            t0 = time.perf_counter()
            self._matrix = self.pattern.assemble(self.elem_hess)
            if self._diagonal is not None:
                self._matrix.data[self.pattern.diag] += self._diagonal
            self.time_assembly += time.perf_counter() - t0
        return self._matrix

    def add_diagonal(self, v):
        """``H + diag(v)`` (``v`` of the step's shape (1, size); only its free entries count): the
        log barrier of the bounds.  Before the first solve only (the matrix is built lazily)."""
        v = np.asarray(v).reshape(-1)[self.free]
        if np.any(v):
            if self._matrix is not None:
                raise RuntimeError("add_diagonal: the matrix was already assembled")
            self._diagonal = v if self._diagonal is None else self._diagonal + v
        return self

    def restrict(self, frozen):
        """Hold the ``frozen`` unknowns (Dirichlet ones, and with bounds the active contact set):
        the step solves on the rest only.  The frozen set must contain the Dirichlet unknowns."""
        frozen = np.asarray(frozen).reshape(-1)
        fixed = np.ones(self.size, bool)
        fixed[self.free] = False
        if np.any(fixed & ~frozen):
            raise NotImplementedError("the planar operator cannot free a Dirichlet unknown")
        keep = ~frozen[self.free]
        self._keep = None if keep.all() else np.flatnonzero(keep)
        self._sub = None
        if self.cache is not None:
            # a factorisation / AMG hierarchy belongs to one active set: drop it when that changes
            key = None if self._keep is None else hash(self._keep.tobytes())
            if self.cache.get("active_key", None) != key:
                for name in ("lu", "ml", "positive", "fresh_iterations"):
                    self.cache.pop(name, None)
                self.cache["active_key"] = key
        return self

    def _system(self):
        """``(H, diagonal slots)`` on the unknowns solved for."""
        H = self.matrix
        if self._keep is None:
            return H, self.pattern.diag
        if getattr(self, "_sub", None) is None:
            Hk = H[self._keep][:, self._keep].tocsr()
            Hk.sort_indices()
            rows = np.repeat(np.arange(Hk.shape[0]), np.diff(Hk.indptr))
            self._sub = (Hk, np.flatnonzero(rows == Hk.indices))
        return self._sub

    def finite(self, ok=True):
        return ok & np.bool_(self._finite)

    def prepare(self, g, gz):
        b = -np.asarray(g).reshape(-1)[self.free]
        if self._keep is not None:
            b = b[self._keep]
        if not self._finite or len(b) == 0:
            return b, None
        H, diag = self._system()
        dvals = np.abs(H.data[diag])
        dvals = np.maximum(dvals, SHIFT_SCALE_FLOOR * max(float(np.mean(dvals)), 1e-300))
        return b, dvals

    def attempt(self, prepared, tau):
        b, dvals = prepared
        shape = (1, -1)
        if not self._finite:
            return np.full(self.size, np.nan).reshape(shape), np.zeros(0), np.int32(0), -1.0
        dV = np.zeros(self.size)
        if len(b) == 0:
            return dV.reshape(shape), np.zeros(0), np.int32(0), 1.0
        H, diag = self._system()
        Hs = H
        if tau > 0:
            Hs = H.copy()
            Hs.data[diag] += tau * dvals
        gnorm = float(np.linalg.norm(b))
        # Reuse/keep factorisations of unshifted Hessians only; at g = 0 the curvature test says
        # nothing, so definiteness must come from a fresh factorisation.
        cache = self.cache if (tau == 0 and gnorm > 0) else None
        x, info = solve_linear(Hs, b, self.kind, rtol=self.rtol, cache=cache)
        self.iterations += info["iterations"]
        self.time += info["time"]
        finite = bool(np.all(np.isfinite(x)))
        # The curvature of the matrix solved, H + τ S: a shifted step of an indefinite H may have
        # negative curvature under H itself and still be the modified Newton step.
        gdu, curv = float(-(b @ x)), (float(x @ (Hs @ x)) if finite else np.nan)
        positive = finite and info["positive"] and ((gdu < 0 and curv > 0) or gnorm == 0)
        negative = info.get("negative")
        if negative is None or (not positive and negative == 0):
            negative = 0 if positive else 1  # CG (or a failed test along the step): at least one
        dV[self.free if self._keep is None else self.free[self._keep]] = x
        return dV.reshape(shape), np.zeros(0), np.int32(negative), (1.0 if positive else -1.0)
