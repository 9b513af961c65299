"""Second-variation certificate of a planar solution (``sol.certificate``), the 2-D counterpart of
:func:`varcalc.certify.certificate`, returning the same :class:`~varcalc.certify.Certificate`.

The second variation ``δ²J[v, v] = vᵀ K v`` is the sparse Hessian of ``J_h`` (of the Lagrangian
``J + λ·C`` with integral constraints) on the admissible variations: the free unknowns, less the
nodes in contact with an obstacle (held as the solve holds them), and with integral constraints
the tangent space ``Cᵀ v = 0``.

* **Inertia** (direct path, up to ``AUTO_DIRECT_MAX`` unknowns): Sylvester's law on SuperLU's
  symmetric factorisation (minimum-degree ordering, no pivoting: its pivots are those of an LDLᵀ)
  of the pencils ``K ∓ tol·M`` (``M`` the lumped mass, ``tol`` the zero tolerance), so a
  rounding-sized eigenvalue counts as zero; with ``k`` integral constraints Haynsworth's formula
  adds the inertia of the k × k Schur complement ``-Cᵀ (K - σM)⁻¹ C`` and subtracts ``k``.
  SciPy has no sparse LDLᵀ with pivoting (Bunch–Kaufman): where a pivot is exactly zero the
  factorisation fails and the inertia is reported as unknown (``None``).
* **Smallest eigenvalues** of ``K v = λ M v``: shift-invert subspace iteration
  (:func:`varcalc.certify._nearest_eigenpairs`, the 1-D one) on the bordered matrix (constraint
  rows carry no mass, which restricts the pencil to the tangent space); on the CG path (large
  meshes) LOBPCG preconditioned by smoothed-aggregation AMG, with the constraints as LOBPCG's
  ``Y`` (M-orthogonal complement of ``M⁻¹C``).  There the inertia is read off the computed
  eigenvalues only (a lower bound on the negative count; said in ``evidence``).
* **Legendre condition**: the smallest eigenvalue of ``∂²G/∂(∇u)²`` over the quadrature points
  (``legendre_at``: the point (x, y)).  There is no Jacobi sweep in 2-D (``jacobi`` says so): the
  inertia over the whole domain decides.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..certify import MAX_EIGENPAIRS, ZERO_TOLERANCE, Certificate, _nearest_eigenpairs

__all__ = ["certificate"]

NEV = 4  # eigenpairs computed (nearest zero from below)


def _refused(reason):
    nan = float("nan")
    return Certificate(
        verdict=f"not certified: {reason}",
        negative=None,
        zero=None,
        positive=None,
        dimension=None,
        smallest_eigenvalue=nan,
        eigenfunction=np.zeros(0),
        eigenvalues=np.zeros(0),
        legendre_min=nan,
        legendre_at=None,
        conjugate_point=None,
        jacobi="not computed",
        evidence=reason,
        certified=False,
    )


def certificate(sol) -> Certificate:
    """The :class:`~varcalc.certify.Certificate` of a :class:`~varcalc.planar.PlanarSolution`."""
    from .assemble import Kernels
    from .constrained import lagrangian_integrand

    disc = sol._state
    if disc is None:
        raise ValueError("sol: no discretization attached (a loaded PlanarSolution); re-solve it")
    if not sol.converged:
        return _refused(f"the solve did not converge ({sol.status.name}): its last iterate is not an extremal")
    problem = sol.problem
    U = np.asarray(sol.u, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(U)):
        return _refused("non-finite values")
    cons = problem.integrals
    if cons:
        lam = jnp.asarray([sol.multipliers[c.name] for c in cons])
        Hel = Kernels(lagrangian_integrand(problem), disc, True).derivatives(U, (sol.params, lam))[3]
        C = np.stack(
            [Kernels(c.fun, disc, problem.with_params).derivatives(U, sol.params, hessians=False)[2] for c in cons],
            axis=1,
        )
    else:
        Hel = Kernels(problem.integrand, disc, problem.with_params).derivatives(U, sol.params)[3]
        C = np.zeros((len(U), 0))
    K = disc.pattern.assemble(Hel)  # free x free
    free = disc.free
    keep = np.ones(len(free), bool)
    held = 0
    if problem.bound is not None:  # the contact set, as the solve holds it
        lo, hi = problem.bound_values(disc.points)
        near = np.sqrt(np.finfo(float).eps) * (1.0 + np.abs(U))
        contact = ((U - lo.reshape(-1) <= near) | (hi.reshape(-1) - U <= near))[free]
        keep = ~contact
        held = int(contact.sum())
    idx = np.flatnonzero(keep)
    K = K[idx][:, idx].tocsr() if held else K
    mass = disc.mass[free][idx]
    C = C[free][idx]
    n, k = K.shape[0], C.shape[1]
    dimension = n - k
    if dimension < 1:
        return _refused("no admissible variation (every unknown is fixed or in contact)")
    scale = float(np.max(np.asarray(abs(K).sum(axis=1)).ravel() / mass))  # Gershgorin bound of M⁻¹K
    tol = ZERO_TOLERANCE * scale
    direct = sol.stats.get("linear_solver") == "direct"
    note = ""
    if direct:
        below = [_count_below(K, mass, C, s) for s in (-tol, tol)]
        if None in below:
            negative = n_zero = None
            note = "; a zero pivot without pivoting: inertia unknown"
        else:
            negative, n_zero = below[0], below[1] - below[0]
        nev = min((negative or 0) + (n_zero or 0), MAX_EIGENPAIRS) + 2
        lam, vecs = _shift_invert(K, mass, C, -tol, min(nev, dimension))
        method = "SuperLU LDLᵀ inertia (Sylvester" + (", Haynsworth for the constraints" if k else "") + ")"
    else:
        lam, vecs = _lobpcg(K, mass, C, min(NEV, dimension))
        negative = int(np.sum(lam < -tol))
        n_zero = int(np.sum(np.abs(lam) <= tol))
        method = f"LOBPCG + AMG, the {lam.size} smallest eigenvalues only (the CG path factorises nothing)"
        if negative == lam.size:
            note = "; at least this many negative"
    positive = None if negative is None else dimension - negative - n_zero
    i = int(np.argmin(lam)) if lam.size else 0
    eig_min = float(lam[i]) if lam.size else float("nan")
    ef = np.zeros(len(U))
    if lam.size:
        ef[free[idx]] = vecs[:n, i]
        big = ef[np.argmax(np.abs(ef))]
        ef = ef / big if big != 0 else ef
    ef = ef.reshape(sol.u.shape)
    leg_min, leg_at = _legendre(sol, disc)
    if negative is None:
        verdict = "degenerate" if abs(eig_min) <= tol else ("strict local minimum" if eig_min > 0 else "saddle")
    elif negative > 0:
        verdict = f"saddle of index {negative}"
    elif n_zero > 0:
        verdict = "degenerate"
    else:
        verdict = "strict local minimum"
    lines = [
        f"second variation of J on {dimension} admissible directions: {negative} negative, {n_zero} zero, "
        f"{positive} positive ({method}"
        + (f"; {held} node(s) in contact held" if held else "")
        + (f"; {k} integral constraint(s)" if k else "")
        + f"{note})",
        f"smallest eigenvalue of δ²J[v, v] = λ ∫|v|²: λ = {eig_min:.6g} (zero tolerance {tol:.2g})",
        f"Legendre: min eig ∂²G/∂(∇u)² = {leg_min:.6g} at (x, y) = ({leg_at[0]:.4g}, {leg_at[1]:.4g})"
        + ("" if leg_min > 0 else "  (not positive: no strong minimum)"),
        "Jacobi: not applicable in 2-D (no conjugate-point sweep; the inertia covers the whole domain)",
    ]
    return Certificate(
        verdict=verdict,
        negative=negative,
        zero=n_zero,
        positive=positive,
        dimension=dimension,
        smallest_eigenvalue=eig_min,
        eigenfunction=ef,
        eigenvalues=lam,
        legendre_min=leg_min,
        legendre_at=leg_at,
        conjugate_point=None,
        jacobi="not applicable in 2-D",
        evidence="\n".join(lines),
    )


def _splu_sym(A):
    """SuperLU of a symmetric matrix with a symmetric ordering and no pivoting: ``(lu, pivots)``,
    or ``(None, None)`` at an exactly zero pivot or when the row and column orders differ."""
    try:
        lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=dict(SymmetricMode=True))
    except RuntimeError:
        return None, None
    if not np.array_equal(lu.perm_r, lu.perm_c):
        return None, None
    return lu, lu.U.diagonal()


def _count_below(K, mass, C, sigma):
    """Eigenvalues of ``K v = λ M v`` below ``sigma`` on ``{Cᵀv = 0}`` (Sylvester, Haynsworth)."""
    lu, piv = _splu_sym(K - sigma * sp.diags(mass))
    if lu is None:
        return None
    count = int(np.sum(piv < 0))
    k = C.shape[1]
    if k:
        S = -C.T @ lu.solve(C)  # Schur complement of the bordered matrix
        count += int(np.sum(np.linalg.eigvalsh(0.5 * (S + S.T)) < 0)) - k
    return max(count, 0)


def _bordered(K, mass, C):
    k = C.shape[1]
    if not k:
        return K, mass
    Cs = sp.csr_matrix(C)
    return sp.bmat([[K, Cs], [Cs.T, None]], format="csr"), np.concatenate([mass, np.zeros(k)])


def _shift_invert(K, mass, C, sigma, nev):
    Kb, mb = _bordered(K, mass, C)
    if nev < 1 or Kb.shape[0] < 3:
        return np.zeros(0), np.zeros((Kb.shape[0], 0))
    lam, vec, _ = _nearest_eigenpairs(Kb.tocsc(), mb, sigma, nev)
    order = np.argsort(lam)
    return lam[order], vec[:, order]


def _lobpcg(K, mass, C, nev):
    import pyamg

    M = sp.diags(mass)
    ml = pyamg.smoothed_aggregation_solver(K.tocsr(), symmetry="hermitian", max_coarse=500)
    X = np.random.default_rng(0).standard_normal((K.shape[0], nev))
    Y = C / mass[:, None] if C.shape[1] else None  # Yᵀ M v = Cᵀ v: the tangent space
    lam, vec = spla.lobpcg(K, X, B=M, M=ml.aspreconditioner(), Y=Y, tol=1e-8, maxiter=300, largest=False)
    order = np.argsort(lam)
    return lam[order], vec[:, order]


def _legendre(sol, disc):
    """Smallest eigenvalue of ``∂²G/∂(∇u)²`` over all quadrature points, and where."""
    el, problem = disc.element, sol.problem
    Xv = disc.X[:, :3]  # the vertices (isoparametric P2 on a curved boundary: its affine part, a diagnostic)
    xq = np.einsum("qv,tvi->tqi", el.lam, Xv)
    e1, e2 = Xv[:, 1] - Xv[:, 0], Xv[:, 2] - Xv[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], -1), np.stack([-e1[:, 1], e1[:, 0]], -1)], -2) / det[:, None, None]
    grads = np.einsum("qai,tij->tqaj", el.dphi, inv)  # (T, Q, nloc, 2)
    uloc = np.asarray(sol.u)[disc.edofs]  # (T, nloc) + shape
    uq = np.einsum("qa,ta...->tq...", el.phi, uloc)
    if problem.shape == ():
        gq = np.einsum("tqaj,ta->tqj", grads, uloc)
    else:
        gq = np.einsum("tqaj,tam->tqmj", grads, uloc)
    ev = _legendre_kernel(problem.integrand, problem.with_params)(
        jnp.asarray(uq.reshape((-1,) + problem.shape)),
        jnp.asarray(gq.reshape((-1,) + problem.shape + (2,))),
        jnp.asarray(xq.reshape(-1, 2)),
        sol.params,
    )
    ev = np.asarray(ev)
    j = int(np.argmin(ev))
    return float(ev[j]), tuple(float(c) for c in xq.reshape(-1, 2)[j])


def _legendre_kernel(G, wp):
    """Jitted ``(u, du, x, p) -> smallest eigenvalue of ∂²G/∂(du)²`` per point, cached per integrand."""
    from .. import cache

    def make():
        def one(u, du, x, p):
            h = jax.hessian(lambda d: G(u, d, x, p) if wp else G(u, d, x))(du)
            return jnp.linalg.eigvalsh(h.reshape(du.size, du.size))[0]

        return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None)))

    return cache.get(("planar-legendre", G, wp), make)
