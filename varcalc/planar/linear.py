"""Sparse linear solves ``H du = -g`` for the planar Newton: one place for the choice.

* ``"direct"``: SciPy's SuperLU with the minimum-degree ordering of ``Hᵀ + H``
  (``MMD_AT_PLUS_A``) and no pivoting (``diag_pivot_thresh=0``, symmetric mode): the Hessian is
  symmetric and, at a descent step, positive definite, so the symmetric ordering and the diagonal
  pivots are safe.  On the 2-D P1 Hessians of the benchmarks this factorisation is several times
  faster than ``spsolve``'s default (COLAMD ordering with partial pivoting).
* ``"cg"``: conjugate gradients preconditioned by one V-cycle of pyamg's smoothed-aggregation
  algebraic multigrid, built from the current Hessian: O(N) work and memory per solve, with an
  iteration count nearly independent of the mesh size.  The relative tolerance is the Newton
  forcing term chosen by the caller (inexact Newton, Eisenstat & Walker 1996).
* ``"auto"``: direct up to :data:`AUTO_DIRECT_MAX` free unknowns, CG above (fill-in and time of
  the 2-D factorisation grow like N log N and N^1.5, AMG-CG's like N).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse.linalg as spla

__all__ = ["solve_linear", "AUTO_DIRECT_MAX", "choose"]

REUSE_MAX_ITER = 6  # CG iterations with a stale factorisation before refactoring
AUTO_DIRECT_MAX = 300_000  # free unknowns; SuperLU was faster than AMG-CG up to 263k on 2 cores (README)


def choose(kind: str, n: int) -> str:
    if kind not in ("auto", "direct", "cg"):
        raise ValueError(f"linear_solver: expected 'auto', 'direct' or 'cg', got {kind!r}")
    if kind == "auto":
        return "direct" if n <= AUTO_DIRECT_MAX else "cg"
    return kind


def solve_linear(H, b, kind, rtol=1e-10, cache=None):
    """Solve ``H x = b`` (H CSR, symmetric).  Returns ``(x, info)`` with ``info`` a dict:
    ``time``, ``iterations`` (CG) and ``converged``.

    ``cache`` (a dict kept by the caller across Newton iterations) keeps the last positive
    definite factorisation (direct), used as a CG preconditioner for the next Hessian, and the
    AMG hierarchy of an earlier Hessian (cg): pyamg's setup costs several CG solves, and near the
    minimiser the Hessian hardly changes.  The hierarchy is rebuilt when CG needed more than
    twice the iterations it took with a fresh one (or 30)."""
    t0 = time.perf_counter()
    cache = {} if cache is None else cache
    if kind == "direct":
        if "lu" in cache:
            # The factorisation of an earlier Hessian as CG preconditioner: a few triangular
            # solves instead of a new factorisation while the Hessian changes little (near the
            # minimiser); refactor when CG does not reach rtol in REUSE_MAX_ITER iterations.
            old = cache["lu"]
            M = spla.LinearOperator(H.shape, old.solve, dtype=np.float64)
            count = [0]
            x, info = spla.cg(H, b, rtol=rtol, atol=0.0, maxiter=REUSE_MAX_ITER, M=M,
                              callback=lambda _: count.__setitem__(0, count[0] + 1))
            if info == 0 and np.all(np.isfinite(x)):
                return x, dict(time=time.perf_counter() - t0, iterations=count[0], converged=True,
                               positive=cache["positive"], reused=True)
        try:
            lu = spla.splu(H.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options=dict(SymmetricMode=True))
            x = lu.solve(b)
            ok = bool(np.all(np.isfinite(x)))
            # Symmetric permutation (perm_r = perm_c) and no pivoting: P H Pᵀ = L U with
            # U's diagonal the LDLᵀ pivots, so H is positive definite iff they are all > 0.
            positive = bool(np.array_equal(lu.perm_r, lu.perm_c) and np.all(lu.U.diagonal() > 0))
            if ok and positive:
                cache["lu"], cache["positive"] = lu, positive
        except RuntimeError:  # exactly singular pivot
            x, ok, positive = np.full_like(b, np.nan), False, False
        return x, dict(time=time.perf_counter() - t0, iterations=0, converged=ok, positive=positive)
    import pyamg

    fresh = "ml" not in cache
    if fresh:
        cache["ml"] = pyamg.smoothed_aggregation_solver(H, symmetry="hermitian", max_coarse=500)
    ml = cache["ml"]
    M = ml.aspreconditioner(cycle="V")
    count = [0]

    def cb(_):
        count[0] += 1

    x, info = spla.cg(H, b, rtol=rtol, atol=0.0, maxiter=500, M=M, callback=cb)
    if fresh:
        cache["fresh_iterations"] = max(count[0], 15)
    elif count[0] > 2 * cache["fresh_iterations"] or info != 0:
        del cache["ml"]  # stale: rebuild at the next solve
    # CG cannot certify definiteness: the caller checks the curvature along the step
    return x, dict(time=time.perf_counter() - t0, iterations=count[0], converged=info == 0,
                   levels=len(ml.levels), positive=True)
