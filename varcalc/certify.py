"""Is it a minimum?  Second-variation certificates for a computed extremal.

Newton finds a stationary point; the second variation ``δ²J[v, v] = vᵀ H v`` (the Hessian as a
bilinear form, on the admissible variations) says what kind.  :func:`certificate` (a function of
a solution; ``sol.certificate`` caches it) reports:

* **Inertia** of the discrete second variation on the admissible subspace (Dirichlet values and
  obstacle contact held, constraints linearised): the numbers of negative, zero and positive
  directions.  The negatives come from the block LDLᵀ of the (bordered) Hessian by Sylvester's
  law, minus one per Lagrange multiplier (Haynsworth's inertia formula for the KKT matrix).
* The **smallest eigenvalue** of ``H v = λ M v`` (``M`` the lumped mass of ``f``, so ``λ``
  converges with the grid), with its eigenfunction: shift-invert Lanczos (ARPACK) on the sparse
  bordered matrix, O(n) per step; constraint rows have zero mass, which restricts the pencil to
  the constraints' tangent space.
* The **Legendre condition**: the smallest eigenvalue of ``G_{f'f'}`` (``G_{f''f''}`` for order 2)
  on every cell, its minimum and where it is attained.
* The **Jacobi condition**: the first point ``c`` conjugate to the left end, where the problem on
  ``[a, c]`` with ``v(c) = 0`` first admits a negative direction.  Discretely, the leading block
  of the Hessian through node ``j`` is the second variation on ``[a, x_{j+1}]``, and its
  negative count is the running count of negative LDLᵀ pivots; for a scalar unknown the discrete
  Jacobi field ``v_{i+1} / v_i = -p_i / u_i`` (pivot ``p_i``, off-diagonal ``u_i``) locates the
  sign change inside the cell.  With a free left end the same count gives the focal point.
* A **verdict**: ``"strict local minimum"`` (no negative or zero direction), ``"saddle of index
  k"``, or ``"degenerate"`` (a zero direction and no negative one), with the evidence as text.

>>> import jax.numpy as jnp, varcalc as vc
>>> osc = vc.Problem(lambda f, df, x: 0.5 * (df**2 - f**2), (0.0, 4.0), bc={"left": 0.0, "right": 1.0})
>>> cert = vc.solve(osc, n=201, mode="stationary").certificate
>>> cert.verdict, round(cert.conjugate_point, 2)          # π: the conjugate point of ω = 1
('saddle of index 1', 3.14)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax import lax

from . import cache
from ._entry import entry
from .drivers import _BASELINE_OPTIONS, BASELINE_MAX_NODES
from .lagrangian import internal_integrand
from .newton import Newton, bordered_solve, restrict
from .piecewise import evaluate

__all__ = ["Certificate", "certificate", "certify"]

# An eigenvalue |λ| <= ZERO_TOLERANCE · ‖M⁻¹K‖ counts as zero: shift-invert computes the small
# eigenvalues to about machine epsilon times the largest, and ‖M⁻¹K‖ ~ 1/h² grows with n.
ZERO_TOLERANCE = 1e-12


@dataclass
class Certificate:
    """What the second variation says about an extremal (see the module docstring).

    ``negative``/``zero``/``positive``: inertia on the admissible subspace of dimension
    ``dimension``.  ``smallest_eigenvalue`` and ``eigenfunction`` (n,) + shape (max-norm 1),
    ``eigenvalues`` (the few nearest zero that were computed).  ``legendre_min`` and
    ``legendre_at`` (``x``).  ``conjugate_point`` (``x``, or ``None`` when there is none in
    ``(a, b)``), ``jacobi`` (``"conjugate"``, ``"focal"`` with a free left end, or a reason it was
    not computed).  ``verdict`` and ``evidence`` (text).
    """

    verdict: str
    negative: int
    zero: int
    positive: int
    dimension: int
    smallest_eigenvalue: float
    eigenfunction: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    legendre_min: float
    legendre_at: float
    conjugate_point: float | None
    jacobi: str
    mode: str = "minimize"
    evidence: str = field(repr=False, default="")

    @property
    def is_minimum(self) -> bool:
        """A strict local minimum (of ``-J`` in maximisation mode)."""
        return self.negative == 0 and self.zero == 0

    def __str__(self) -> str:
        return f"{self.verdict}\n{self.evidence}"


def certificate(sol) -> Certificate:
    """The :class:`Certificate` of a :class:`~varcalc.Solution` (``sol.certificate`` calls this, once,
    and caches it)."""
    if sol._state is None:
        raise ValueError("sol: no discretization attached (a loaded or hand-made Solution); re-solve it")
    disc, V, z = sol._state
    lay, problem = disc.layout, disc.problem
    x = np.asarray(disc.x)
    aux = disc.aux()
    frozen = np.asarray(disc.fixed).copy()
    if lay.has_bound:  # obstacle contact is held: admissible variations keep it
        frozen |= (V <= disc.lower) | (V >= disc.upper)
    # device_put, not jnp.asarray: jnp.asarray of a numpy array compiles a staging program per shape
    D = _second_variation(disc)(V, jax.device_put(z), x, frozen)
    n = x.size
    n_mult = lay.n_multipliers_global + int(np.sum(~frozen[lay.d_el:]))
    negative = int(D["negative"]) - n_mult
    n_primal = int(np.sum(~frozen[:lay.d_el])) + (lay.k - lay.n_multipliers_global)
    dimension = n_primal - n_mult

    lam, vecs, scale = _smallest_eigenpairs(D, frozen, lay, aux["mass"] * _length_factor(sol, disc),
                                            max(negative, 0) + 2, dimension, x * _length_factor(sol, disc),
                                            disc.end_map)
    zero_tol = ZERO_TOLERANCE * scale
    n_zero = int(np.sum(np.abs(lam) <= zero_tol))
    positive = dimension - max(negative, 0) - n_zero
    i_min = int(np.argmin(lam)) if lam.size else 0
    eig_min = float(lam[i_min]) if lam.size else np.nan
    ef = np.zeros((n,) + problem.shape)
    if lam.size:
        rows = vecs[:, i_min][: lay.d * n].reshape(n, lay.d)[:, : lay.m]
        big = rows.reshape(-1)[np.argmax(np.abs(rows))]
        ef = (rows / big).reshape((n,) + problem.shape) if big != 0 else ef

    legendre = np.asarray(D["legendre"])
    x_phys = np.asarray(sol.x)
    j = int(np.argmin(legendre))
    legendre_min = float(legendre[j])
    legendre_at = float(0.5 * (x_phys[j] + x_phys[j + 1]))

    conj, jacobi = _conjugate_point(D, frozen, lay, x_phys, problem, x, disc.end_map)
    mode = disc.mode
    if negative > 0:
        verdict = f"saddle of index {negative}"
    elif n_zero > 0:
        verdict = "degenerate"
    else:
        verdict = "strict local maximum" if mode == "maximize" else "strict local minimum"
    of = "(-J)" if mode == "maximize" else "J"
    lines = [
        f"second variation of {of} on {dimension} admissible directions: {max(negative, 0)} negative, "
        f"{n_zero} zero, {positive} positive (block LDLᵀ inertia"
        + (f", less {n_mult} multiplier(s))" if n_mult else ")"),
        f"smallest eigenvalue of δ²{of}[v, v] = λ ∫|v|²: λ = {eig_min:.6g} (zero tolerance {zero_tol:.2g})",
        f"Legendre: min eig ∂²G/∂f{'′′' if lay.order == 2 else '′'}² = {legendre_min:.6g} at x = {legendre_at:.6g}"
        + ("" if legendre_min > 0 else "  (violated: no minimum)"),
    ]
    if jacobi in ("conjugate", "focal"):
        point = f"at x ≈ {conj:.6g}" if conj is not None else "none in (a, b)"
        lines.append(f"Jacobi: {jacobi} point to the left end {point}")
    else:
        lines.append(f"Jacobi: {jacobi}")
    return Certificate(verdict=verdict, negative=max(negative, 0), zero=n_zero, positive=positive,
                       dimension=dimension, smallest_eigenvalue=eig_min, eigenfunction=ef, eigenvalues=lam,
                       legendre_min=legendre_min, legendre_at=legendre_at, conjugate_point=conj,
                       jacobi=jacobi, mode=mode, evidence="\n".join(lines))


certify = certificate  # its former name


def _length_factor(sol, disc):
    """Mass in physical length: the grid is ξ ∈ [0, 1] for a free end."""
    if disc.layout.free_end:
        return float(sol.x[-1] - sol.x[0])
    return 1.0


# -- the second variation at the solution --------------------------------------------------------
# Three compiled pieces: the solve's own kernel (L's derivatives, shared with vc.solve), the
# Legendre condition per cell (per integrand, small) and the generic inertia/pivots (once per shape).
def _second_variation(disc):
    """``run(V, z, x, frozen)``: the solve's own kernel (on the same size bucket, so nothing
    new compiles for L's derivatives), then the per-integrand Legendre check and the generic inertia."""
    from .drivers import pad_numpy

    kernel_inputs = entry("kernel_inputs")  # vc.solve's: the same padded kernel as the solve's
    n = disc.x.size
    N = entry("padded_nodes")(disc, n)
    kernel, x_k, aux_k = kernel_inputs(disc, N)
    legendre = cache.get(("legendre", disc.layout.key(disc.problem)), lambda: _legendre_fn(disc))

    if disc.uses_kkt:  # the solve's own program (kkt, as the Python loop calls it): no new compile
        step = entry("step")(disc, Newton(), xp=np)
        masks = step.mask_context(disc.layout.d, disc.z0.shape[0])

        def derivatives(V, z):
            return kernel.kkt(V, z, x_k, aux_k, masks["rows"], masks["mult_z"], with_objective=step.minimize)
    else:
        def derivatives(V, z):
            return kernel.derivatives(V, z, x_k, aux_k)

    def run(V, z, x, frozen):
        # Everything on the bucket's N nodes (padded nodes frozen, padded cells copies of the first
        # cell), so a new n in a known bucket compiles nothing; cut back to n on the host.
        D = derivatives(pad_numpy(V, N, 1), z)
        lam = legendre(*_padded_cells(V, x, N), z, aux_k)
        D = jax.device_get(_inertia(D, pad_numpy(frozen, N, 1, True), z, lam))
        return _cut(D, n)

    return run


def _padded_cells(V, x, N):
    """Left/right node values and abscissae of the n - 1 cells, padded to N - 1 cells with copies
    of the first cell (so the integrand is never evaluated outside the domain)."""
    V, x = np.asarray(V), np.asarray(x)
    pad = N - x.size

    def cells(a, first, last, axis):
        a = np.take(a, np.arange(first, a.shape[axis] + last), axis=axis)
        return np.concatenate([a, np.repeat(np.take(a, [0], axis=axis), pad, axis=axis)], axis=axis)

    return cells(V, 0, -1, 1), cells(V, 1, 0, 1), cells(x, 0, -1, 0), cells(x, 1, 0, 0)


def _cut(D, n):
    """The padded second variation (numpy) cut back to the real ``n`` nodes."""
    nodes = dict(g=D["g"][:, :n], diag=D["diag"][..., :n], upper=D["upper"][..., :n - 1],
                 diag_full=D["diag_full"][..., :n], upper_full=D["upper_full"][..., :n - 1],
                 pivots=D["pivots"][:n], legendre=D["legendre"][:n - 1], B=D["B"][:, :n])
    return dict(D, **nodes)


def _legendre_fn(disc):
    problem, lay = disc.problem, disc.layout
    G = internal_integrand(problem, lay)
    vector = problem.is_vector

    def legendre_cell(v0, v1, x0, x1, z, aux):
        """Smallest eigenvalue of the Hessian of G̃ in the highest derivative, mid-cell."""
        jets = lay.element.midpoint_jets(v0, v1, x1 - x0, lay.m)  # (f, f'[, f'']) mid-cell
        if not vector:
            jets = [j[0] for j in jets]
        top = len(jets) - 1

        def of_top(t):
            args = jets[:top] + [t]
            return G(*args, 0.5 * (x0 + x1), z, aux)

        Hm = jnp.atleast_2d(jax.hessian(of_top)(jets[top]))
        if lay.element.mapped:  # G̃ = φ' G(f, f_s/φ'): ∂²G̃/∂f_s² = G_f′f′ / φ'(s)
            Hm = Hm * lay.end_map(aux).dx_ds(0.5 * (x0 + x1))
        elif lay.free_end and top == 1:  # G̃ = T G(f, f_ξ/T, ·): ∂²G̃/∂f_ξ² = G_f′f′ / T
            A, B = lay.ends(z, aux)
            Hm = Hm * (B - A)
        return jnp.linalg.eigvalsh(Hm)[0]

    # One small Hessian per cell: cheap to run, so compiled on the baseline tier (less compile).
    return jax.jit(jax.vmap(legendre_cell, in_axes=(1, 1, 0, 0, None, None)), compiler_options=_BASELINE_OPTIONS)


def _inertia_impl(D, frozen, z, legendre):
    """Generic (compiled once per bucket, on the baseline tier as the Newton step is): the
    restricted second variation, its inertia (bordered by z) and LDLᵀ pivots.  Frozen nodes
    (Dirichlet, contact, and the bucket's padding) become identity rows: positive pivots, no
    change to the count of negative ones."""
    g = D["g"]
    diag, upper = restrict(D["diag"], D["upper"], frozen)
    k = z.shape[0]
    B = jnp.where(frozen[:, :, None], 0.0, D["B"]) if k else jnp.zeros(g.shape + (0,), g.dtype)
    C = D["C"] if k else jnp.zeros((0, 0), g.dtype)
    _, _, _, _, negative = bordered_solve(diag, upper, jnp.zeros_like(g), B, jnp.zeros(k, g.dtype), C,
                                          jnp.zeros((), g.dtype), None)
    pivots = _pivots(diag, upper)
    return dict(g=g, diag=diag, upper=upper, B=B, C=C, negative=negative, pivots=pivots, legendre=legendre,
                diag_full=D["diag"], upper_full=D["upper"])


_inertia_optimised = jax.jit(_inertia_impl)
_inertia_baseline = jax.jit(_inertia_impl, compiler_options=_BASELINE_OPTIONS)


def _inertia(D, frozen, z, legendre):
    """:func:`_inertia_impl`, compiled on the Newton step's tier for this size."""
    small = frozen.shape[1] <= BASELINE_MAX_NODES
    return (_inertia_baseline if small else _inertia_optimised)(D, frozen, z, legendre)


def _pivots(diag, upper):
    """Pivot blocks of the block LDLᵀ (nodes last: ``diag`` (d, d, n)) as (n, d, d), by one scan."""
    Dn = jnp.moveaxis(diag, -1, 0)
    Un = jnp.moveaxis(upper, -1, 0)
    d = Dn.shape[1]
    lower = jnp.concatenate([jnp.zeros((1, d, d), Dn.dtype), jnp.swapaxes(Un, 1, 2)])

    def step(p_prev_inv, xs):
        Di, Bt = xs  # Bt = U_{i-1}ᵀ
        P = Di - Bt @ p_prev_inv @ Bt.T
        P = 0.5 * (P + P.T)
        return jnp.linalg.pinv(P, hermitian=True), P

    _, P = lax.scan(step, jnp.zeros((d, d), Dn.dtype), (Dn, lower))
    return P


# -- eigenpairs: shift-invert Lanczos on the sparse bordered matrix ------------------------------
def _sparse_kkt(D, frozen, lay):
    """The restricted KKT matrix (free unknowns only) as scipy CSC, node-major ordering."""
    diag, upper, B, C = (np.asarray(D[k]) for k in ("diag", "upper", "B", "C"))
    d, _, n = diag.shape
    k = C.shape[0]
    N = d * n
    idx = np.arange(N).reshape(n, d).T  # idx[r, j] = j d + r
    # Diagonal blocks and the upper blocks (with their transposes).
    ii = np.broadcast_to(idx[:, None, :], (d, d, n))
    jj = np.broadcast_to(idx[None, :, :], (d, d, n))
    iu = np.broadcast_to(idx[:, None, :-1], (d, d, n - 1))
    ju = np.broadcast_to(idx[None, :, 1:], (d, d, n - 1))
    parts_r = [ii.ravel(), iu.ravel(), ju.ravel()]
    parts_c = [jj.ravel(), ju.ravel(), iu.ravel()]
    parts_v = [diag.ravel(), upper.ravel(), upper.ravel()]
    if k:
        bi = np.broadcast_to(idx[:, :, None], (d, n, k)).ravel()
        bj = np.broadcast_to(N + np.arange(k), (d, n, k)).ravel()
        ci, cj = np.meshgrid(N + np.arange(k), N + np.arange(k), indexing="ij")
        parts_r += [bi, bj, ci.ravel()]
        parts_c += [bj, bi, cj.ravel()]
        parts_v += [B.ravel(), B.ravel(), C.ravel()]
    K = sp.coo_matrix((np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
                      shape=(N + k, N + k)).tocsr()
    keep = np.concatenate([~frozen.T.ravel(), np.ones(k, bool)])  # node-major, as idx
    return K, keep


def _smallest_eigenpairs(D, frozen, lay, mass, nev, dimension, x_grid, end_map=None):
    """The ``nev`` eigenvalues of ``K v = λ M v`` nearest below-zero, their vectors (full length,
    zeros at frozen unknowns), and the scale of the pencil (for the zero tolerance)."""
    K, keep = _sparse_kkt(D, frozen, lay)
    d, n = frozen.shape
    k = K.shape[0] - d * n
    m_diag = np.zeros((n, d))
    # The element's lumped mass on its rows (GLL weights for Lagrange elements).
    m_diag[:, :lay.d_el] = lay.element.mass_rows(lay.m, mass, x_grid, end_map)
    # Slopes (order 2) and multipliers carry no mass: the pencil eliminates them.
    m_full = np.concatenate([m_diag.ravel(), np.zeros(k)])
    Kr = K[keep][:, keep].tocsc()
    Mr = m_full[keep]
    has_mass = Mr > 0
    # Scale: Gershgorin bound of M⁻¹K on the rows with mass.
    row_sum = np.asarray(abs(Kr).sum(axis=1)).ravel()
    scale = float(np.max(row_sum[has_mass] / Mr[has_mass])) if has_mass.any() else 1.0
    nev = int(min(nev, max(dimension - 1, 1), has_mass.sum() - 1))
    if nev < 1 or Kr.shape[0] < 3:
        return np.zeros(0), np.zeros((K.shape[0], 0)), scale
    # Just below zero (by the zero tolerance, so a singular K still factorises): nearest first.
    lam, vec = _nearest_eigenpairs(Kr, Mr, -ZERO_TOLERANCE * scale, nev)
    order = np.argsort(lam)
    full = np.zeros((K.shape[0], nev))
    full[keep] = vec[:, order]
    return lam[order], full, scale


def _nearest_eigenpairs(K, mass, sigma, nev, guard=4, max_iter=300):
    """The ``nev`` eigenpairs of ``K v = λ diag(mass) v`` nearest ``sigma``: inverse subspace
    iteration with a Rayleigh–Ritz step (one sparse LU of ``K - σ M``, O(n) per iteration).

    Zero-mass rows (multipliers, slopes) make ``M`` singular; the iterates ``(K - σM)⁻¹ M X`` then
    satisfy the constraint rows, so the pencil is restricted to the tangent space by itself.
    ``guard`` extra vectors make the wanted ones converge at the ratio |λ_nev - σ| / |λ_{nev+guard+1} - σ|.
    (ARPACK's generalized shift-invert mode needed 500 restarts and 15 s at n = 1e5 here.)
    """
    from scipy.linalg import eigh
    from scipy.sparse.linalg import splu

    N = K.shape[0]
    p = min(nev + guard, N - 1)
    lu = splu((K - sigma * sp.diags(mass)).tocsc())
    X = np.random.default_rng(0).standard_normal((N, p))
    lam_old = np.full(nev, np.inf)
    for _ in range(max_iter):
        Y = lu.solve(mass[:, None] * X)
        # Rayleigh–Ritz for the inverse operator (K - σM)⁻¹M: its eigenvalues μ = 1/(λ - σ) are
        # well conditioned (a Rayleigh quotient of K itself carries errors ~ eps ‖K‖ ~ eps/h²).
        T = X.T @ (mass[:, None] * Y)
        G = X.T @ (mass[:, None] * X)
        mu, W = eigh(0.5 * (T + T.T), 0.5 * (G + G.T))
        order = np.argsort(-np.abs(mu))
        mu, W = mu[order], W[:, order]
        lam = sigma + 1.0 / mu
        X = Y @ W
        X /= np.sqrt(np.einsum("ij,i,ij->j", X, mass, X))
        if np.all(np.abs(lam[:nev] - lam_old) <= 1e-10 * np.maximum(1.0, np.abs(lam[:nev]))):
            break
        lam_old = lam[:nev]
    return lam[:nev], X[:, :nev]


# -- Jacobi: the running count of negative pivots --------------------------------------------------
def _conjugate_point(D, frozen, lay, x, problem, grid=None, end_map=None):
    """The first conjugate (focal) point of the left end: the cell from the running count of negative
    pivots, the point inside it from the discrete Jacobi field.  ``x`` physical nodes; ``grid`` the
    solver's (``s`` for a mapped end, ``x = end_map.x_of_s(s)``)."""
    if lay.k_int:
        return None, "not computed with integral constraints (the accessory problem is constrained)"
    if lay.curve_ends:
        return None, "not computed with an end on a curve (the abscissa is an unknown)"
    P = np.asarray(D["pivots"])  # (n, d, d)
    neg = np.sum(np.linalg.eigvalsh(P) < 0, axis=1)
    constraint_rows = np.sum(~frozen[lay.d_el:], axis=0)  # each multiplier adds one negative
    running = np.cumsum(neg - constraint_rows)
    kind = "conjugate" if "left" in problem.bc else "focal"
    hits = np.flatnonzero(running[:-1] >= 1)  # node n-1's block closes the whole interval
    if hits.size == 0:
        return None, kind
    j = int(hits[0])
    h = x[j + 1] - x[j]
    if lay.d == 1:
        u = float(np.asarray(D["upper"])[0, 0, j])
        ratio = P[j, 0, 0] / u if u != 0 else np.inf
        t = 1.0 / (1.0 + ratio) if np.isfinite(ratio) and 1.0 + ratio > 0 else 0.5
        return float(x[j] + h * min(max(t, 0.0), 1.0)), kind
    if lay.order == 1 and lay.d == lay.d_el:  # Lagrange elements (degree >= 1), no multipliers
        grid = np.asarray(x if grid is None else grid)
        at = _jacobi_field_zero(D, frozen, lay, grid, j, "left" in problem.bc)
        if at is not None:
            return float(at if end_map is None else end_map.x_of_s(at)), kind
    return float(x[j] + 0.5 * h), kind


def _jacobi_field_zero(D, frozen, lay, grid, j, dirichlet_left, samples=64):
    """First zero in cells ``j-1 .. j+1`` of the discrete Jacobi field, ``det F = 0``, or None.

    The field solves the homogeneous second variation ``H v = 0`` from the left end (``v(a) = 0``,
    ``v(x_1) = I`` for a Dirichlet end; ``v(a) = I`` for a natural one), shot forward cell by cell:
    block row ``i`` (the equations of ``f_i`` and of cell ``i``'s interior values) determines cell
    ``i``'s interior values and ``f_{i+1}``, a square system.  ``F`` (m × m) holds its ``f``
    components: one column per initial direction.  In a cell the field is the element polynomial
    through its GLL values; the zero is bracketed on ``samples`` points and bisected."""

    m, p, d = lay.m, lay.degree, lay.d
    Dg, Up = np.asarray(D["diag_full"]), np.asarray(D["upper_full"])  # (d, d, n), (d, d, n-1)
    n = Dg.shape[2]
    last = min(j + 1, n - 2)
    V = np.zeros((n, d, m))
    inner = [np.flatnonzero(~np.asarray(frozen)[m:d, i]) + m for i in range(n)]  # free interior rows
    first = 0
    if dirichlet_left:  # f_0 = 0, f_1 = I: cell 0's interior from its own rows
        V[1, :m] = np.eye(m)
        rows = inner[0]
        if rows.size:
            rhs = Up[np.ix_(rows, np.arange(m), [0])][..., 0] @ V[1, :m]
            V[0, rows] = np.linalg.solve(Dg[np.ix_(rows, rows, [0])][..., 0], -rhs)
        first = 1
    else:
        V[0, :m] = np.eye(m)
    for i in range(first, last + 1):  # rows of block i -> (interior of cell i, f_{i+1})
        eq = np.concatenate([np.arange(m), inner[i]])
        known = Dg[np.ix_(eq, np.arange(m), [i])][..., 0] @ V[i, :m]
        if i > 0:
            known = known + Up[:, eq, i - 1].T @ V[i - 1]
        A = np.concatenate([Dg[np.ix_(eq, inner[i], [i])][..., 0], Up[np.ix_(eq, np.arange(m), [i])][..., 0]],
                           axis=1)
        try:
            sol = np.linalg.solve(A, -known)
        except np.linalg.LinAlgError:
            return None
        V[i, inner[i]] = sol[:inner[i].size]
        V[i + 1, :m] = sol[inner[i].size:]
        scale = np.max(np.abs(V[i + 1, :m]))  # linear: rescale against growth
        if scale > 0:
            V[: i + 2] /= scale
    for c in range(max(j - 1, 0), last + 1):
        # GLL values of cell c, columns = initial directions: (p+1, m, m)
        vals = np.concatenate([V[c][None, :m], V[c, m:].reshape(p - 1, m, m), V[c + 1][None, :m]], axis=0)
        cell = np.array([grid[c], grid[c + 1]])

        def det(t):
            F = np.asarray(evaluate(cell, np.atleast_1d(t), elements=vals.reshape(1, p + 1, m * m))[0])
            F = F.reshape(-1, m, m)
            return np.linalg.det(F)

        t = np.linspace(grid[c], grid[c + 1], samples + 1)
        if c == 0 and dirichlet_left:
            t = t[1:]  # the field starts at 0
        vals_t = det(t)
        change = np.flatnonzero(np.sign(vals_t[1:]) != np.sign(vals_t[:-1]))
        if change.size:
            lo, hi = t[change[0]], t[change[0] + 1]
            f_lo = vals_t[change[0]]
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                f_mid = det(mid)[0]
                lo, hi, f_lo = (mid, hi, f_mid) if np.sign(f_mid) == np.sign(f_lo) else (lo, mid, f_lo)
            return 0.5 * (lo + hi)
    return None
