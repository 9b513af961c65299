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
  An eigenvalue within the zero tolerance (``ZERO_TOLERANCE`` times the Gershgorin bound of
  ``M⁻¹K``) is a zero direction, never a negative one: the counts come from Sylvester's law on
  the shifted pencils ``K ± tol·M``, and the Jacobi sweep ignores pivots of that size.
* **Strong or weak**: for a strict minimum of a first-order problem, Weierstrass' excess function
  ``E(x, f, f′, w) = G(f, w, x) - G(f, f′, x) - (w - f′)·∂G/∂f′`` minimised over ``w`` at each
  cell's midpoint (a geometric grid of slopes from ``1e-12`` to ``1e3 (1 + |f′|)`` away, 12 per
  decade, along ± the axes and random directions).  ``strong`` is True when ``E ≥ 0`` (within rounding) and there is
  no conjugate point (a field of extremals), False where ``E < 0`` somewhere (a weak minimum
  only), None where it does not apply (not a minimum, ``f″`` in ``G``, obstacle contact,
  pointwise constraints) or is not decided (no Jacobi check: integral constraints, ends on curves);
  ``strength`` says which in words.  The ``verdict`` itself stays ``"strict local minimum"``.
* **Refusals**: a solve that did not converge (or a non-finite iterate) is not certified, at no
  cost: its last iterate is not an extremal.  Obstacle contact is held as the solve holds it (its
  ε-active set), so the certificate and the solver speak of the same admissible directions.

>>> import jax.numpy as jnp, varcalc as vc
>>> osc = vc.Problem(lambda f, df, x: 0.5 * (df**2 - f**2), (0.0, 4.0), bc={"left": 0.0, "right": 1.0})
>>> cert = vc.solve(osc, n=201, mode="stationary").certificate
>>> cert.verdict, round(cert.conjugate_point, 2)          # π: the conjugate point of ω = 1
('saddle of index 1', 3.14)
>>> cube = vc.Problem(lambda f, df, x: df**3, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
>>> cert = vc.solve(cube, n=21, mode="stationary").certificate   # f = x: E = (w-1)²(w+2)
>>> cert.verdict, cert.strong, cert.weierstrass_w < -2
('strict local minimum', False, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax import lax

from . import cache
from ._entry import entry
from .drivers import _BASELINE_OPTIONS
from .lagrangian import internal_integrand
from .linalg import host_scalar_pivots
from .newton import HostBlockTridiagonal, Newton, restrict
from .piecewise import evaluate

__all__ = ["Certificate", "certificate", "certify"]

# An eigenvalue |λ| <= ZERO_TOLERANCE · ‖M⁻¹K‖ counts as zero: shift-invert computes the small
# eigenvalues to about machine epsilon times the largest, and ‖M⁻¹K‖ ~ 1/h² grows with n.
ZERO_TOLERANCE = 1e-12
# Eigenpairs computed at most (nearest zero): the cost of subspace iteration grows with their
# square and cube, and a Hessian with hundreds of negative directions needs no more than the few
# nearest zero to be called a saddle.
MAX_EIGENPAIRS = 16


@dataclass
class Certificate:
    """What the second variation says about an extremal (see the module docstring).

    ``negative``/``zero``/``positive``: inertia on the admissible subspace of dimension
    ``dimension`` (an eigenvalue within the zero tolerance counts as zero).
    ``smallest_eigenvalue`` and ``eigenfunction`` (n,) + shape (max-norm 1), ``eigenvalues`` (the
    few nearest zero that were computed).  ``legendre_min`` and ``legendre_at`` (``x``).
    ``conjugate_point`` (``x``, or ``None`` when there is none in ``(a, b)``), ``jacobi``
    (``"conjugate"``, ``"focal"`` with a free left end, or a reason it was not computed).
    ``verdict`` and ``evidence`` (text).

    ``strong``: whether a strict (weak) minimum is also a strong one (Weierstrass' excess function
    ``E ≥ 0`` along the extremal and no conjugate point), ``False`` where ``E < 0`` somewhere (a
    weak minimum only), ``None`` where the question does not apply or is not decided here;
    ``strength`` says which in words, ``weierstrass_min`` (the smallest ``E`` found, of ``G``),
    ``weierstrass_at`` (its ``x``) and ``weierstrass_w`` (its ``w``: a float, or an array of the
    unknown's shape) the evidence.

    ``certified``: False when the solution was refused (a solve that did not converge, a
    non-finite iterate): then ``verdict`` starts with ``"not certified"``, the counts are
    ``None`` and the numbers NaN.
    """

    verdict: str
    negative: int | None
    zero: int | None
    positive: int | None
    dimension: int | None
    smallest_eigenvalue: float
    eigenfunction: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    legendre_min: float
    legendre_at: float
    conjugate_point: float | None
    jacobi: str
    mode: str = "minimize"
    evidence: str = field(repr=False, default="")
    certified: bool = True
    strong: bool | None = None
    strength: str = field(repr=False, default="")
    weierstrass_min: float | None = field(repr=False, default=None)
    weierstrass_at: float | None = field(repr=False, default=None)
    weierstrass_w: object = field(repr=False, default=None)

    @property
    def is_minimum(self) -> bool:
        """A strict local minimum (of ``-J`` in maximisation mode)."""
        return self.certified and self.negative == 0 and self.zero == 0

    def __str__(self) -> str:
        head = self.verdict if self.strong is None else f"{self.verdict}\n{self.strength}"
        return f"{head}\n{self.evidence}"

    def _repr_html_(self) -> str:
        """Jupyter: the verdict (green for a minimum), the strong-minimum sentence and the evidence."""
        import html

        colour = "#2e7d32" if self.is_minimum else "#c62828"
        strength = "" if self.strong is None else f"<br/>{html.escape(self.strength)}"
        return (
            f"<div><b style='color:{colour}'>{html.escape(self.verdict)}</b>{strength}"
            f"<pre>{html.escape(self.evidence)}</pre></div>"
        )


def certificate(sol) -> Certificate:
    """The :class:`Certificate` of a :class:`~varcalc.Solution` (``sol.certificate`` calls this, once,
    and caches it)."""
    if sol._state is None:
        raise ValueError("sol: no discretization attached (a loaded or hand-made Solution); re-solve it")
    refused = _refusal(sol)
    if refused is not None:
        return refused
    disc, V, z = sol._state
    lay, problem = disc.layout, disc.problem
    x = np.asarray(disc.x)
    n = x.size
    aux = disc.aux()
    length = _length_factor(sol, disc)
    # The pencil's mass on the element rows (GLL weights for Lagrange elements); slopes (order 2)
    # and multipliers carry none.  (n, d)
    mass_rows = np.zeros((n, lay.d))
    mass_rows[:, : lay.d_el] = lay.element.mass_rows(lay.m, aux["mass"] * length, x * length, disc.end_map)

    def frozen_at(g):
        """The solve's admissible subspace: Dirichlet values and its own active set held."""
        frozen = np.asarray(disc.fixed).copy()
        if lay.has_bound:
            frozen |= _active_set(V, g, aux["mass"], disc.fixed, disc.lower, disc.upper)
        return frozen

    # device_put, not jnp.asarray: jnp.asarray of a numpy array compiles a staging program per shape
    D, frozen = _second_variation(disc)(V, jax.device_put(z), x, frozen_at, mass_rows.T)
    n_mult = lay.n_multipliers_global + int(np.sum(~frozen[lay.d_el :]))
    n_primal = int(np.sum(~frozen[: lay.d_el])) + (lay.k - lay.n_multipliers_global)
    dimension = n_primal - n_mult
    # Sylvester on the pencil K - σM: the count of eigenvalues below σ, at σ = ∓ the zero tolerance
    # (a rounding-sized eigenvalue is a zero, never a negative direction); less one per multiplier.
    negative = max(int(D["below"][0]) - n_mult, 0)
    n_zero = max(int(D["below"][1]) - int(D["below"][0]), 0)
    positive = dimension - negative - n_zero
    scale = float(D["scale"])
    zero_tol = ZERO_TOLERANCE * scale

    lam, vecs, converged = _smallest_eigenpairs(
        D, frozen, mass_rows, min(negative + n_zero, MAX_EIGENPAIRS) + 2, dimension, scale
    )
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

    conj, jacobi = _conjugate_point(D, frozen, lay, x_phys, problem, x, disc.end_map, mass_rows)
    mode = disc.mode
    minimum = negative == 0 and n_zero == 0
    if negative > 0:
        verdict = f"saddle of index {negative}"
    elif n_zero > 0:
        verdict = "degenerate"
    else:
        verdict = "strict local maximum" if mode == "maximize" else "strict local minimum"
    of = "(-J)" if mode == "maximize" else "J"
    held = int(np.sum(frozen[: lay.d_el] & ~np.asarray(disc.fixed)[: lay.d_el]))
    eig_note = ""
    if negative > MAX_EIGENPAIRS:
        eig_note = (
            f"; the smallest of the {lam.size} nearest zero: the lowest of the {negative} negative ones not computed"
        )
    elif negative + n_zero > MAX_EIGENPAIRS:
        eig_note = f"; {lam.size} of those nearest zero computed"
    if lam.size and not converged:
        eig_note += "; not converged within the iteration cap"
    lines = [
        f"second variation of {of} on {dimension} admissible directions: {negative} negative, "
        f"{n_zero} zero, {positive} positive (block LDLᵀ inertia"
        + (f", less {n_mult} multiplier(s)" if n_mult else "")
        + (f"; {held} node(s) in contact held" if held else "")
        + ")",
        f"smallest eigenvalue of δ²{of}[v, v] = λ ∫|v|²: λ = {eig_min:.6g} (zero tolerance {zero_tol:.2g}{eig_note})",
        f"Legendre: min eig ∂²G/∂f{'′′' if lay.order == 2 else '′'}² = {legendre_min:.6g} at x = {legendre_at:.6g}"
        + ("" if legendre_min > 0 else "  (violated: no minimum)"),
    ]
    if jacobi in ("conjugate", "focal"):
        point = f"at x ≈ {conj:.6g}" if conj is not None else "none in (a, b)"
        lines.append(f"Jacobi: {jacobi} point to the left end {point}")
    else:
        lines.append(f"Jacobi: {jacobi}")
    strong = _strong(disc, V, z, aux) if minimum else _NOT_A_MINIMUM
    strong = strong.conclude(mode, jacobi, conj)
    if minimum:
        lines.append(f"Weierstrass: {strong.evidence}")
    return Certificate(
        verdict=verdict,
        negative=negative,
        zero=n_zero,
        positive=positive,
        dimension=dimension,
        smallest_eigenvalue=eig_min,
        eigenfunction=ef,
        eigenvalues=lam,
        legendre_min=legendre_min,
        legendre_at=legendre_at,
        conjugate_point=conj,
        jacobi=jacobi,
        mode=mode,
        evidence="\n".join(lines),
        strong=strong.strong,
        strength=strong.text,
        weierstrass_min=strong.E,
        weierstrass_at=strong.x,
        weierstrass_w=strong.w,
    )


certify = certificate  # its former name


def _refusal(sol) -> Certificate | None:
    """A certificate that refuses, at no cost, a solution that is not a stationary point: a solve
    that did not converge (its last iterate says nothing about an extremal: on a diverging solve
    the eigensolve and Jacobi sweep of a wildly indefinite Hessian took minutes) or one with a
    non-finite iterate.  A minimiser that stopped at a saddle (``Status.SADDLE``: the step vanished
    at an indefinite Hessian) is a stationary point and is certified.  None: go ahead."""
    from .newton import Status

    disc, V, z = sol._state
    finite = np.all(np.isfinite(V)) and np.all(np.isfinite(z)) and np.isfinite(sol.value)
    if not finite:
        reason = "the iterate is not finite (NaN/inf)"
    elif sol.status not in (Status.SUCCESS, Status.SADDLE):
        reason = f"the solve did not converge (status {sol.status.name})"
    else:
        return None
    at = (
        ""
        if sol.negative is None
        else (f"; the solver counted {sol.negative} negative direction(s) of the second variation at its last iterate")
    )
    evidence = (
        f"not certified: {reason}. The last iterate is not an extremal, so its second variation says "
        f"nothing about one{at}. Re-solve (a better guess, more iterations, a coarse-to-fine start) "
        "and certify the converged solution."
    )
    n = np.shape(sol.x)[0]
    return Certificate(
        verdict=f"not certified: {reason}",
        negative=None,
        zero=None,
        positive=None,
        dimension=None,
        smallest_eigenvalue=np.nan,
        eigenfunction=np.full((n,) + disc.problem.shape, np.nan),
        eigenvalues=np.zeros(0),
        legendre_min=np.nan,
        legendre_at=np.nan,
        conjugate_point=None,
        jacobi="not computed",
        mode=disc.mode,
        evidence=evidence,
        certified=False,
        strong=None,
        strength="not applicable: not certified",
    )


def _active_set(V, g, mass, fixed, lower, upper):
    """The solve's ε-active bounds at its last iterate (``steps.MinimizeStep.plan`` with μ = 0):
    within ``ε`` of a bound with the gradient pushing outward.  Those nodes are frozen in the
    Newton step, so the certificate holds them too: the same admissible subspace as the solve.
    ``V``, ``g``, ``fixed``, ``lower``, ``upper`` (d, n); ``mass`` (n,).  Returns (d, n) bool."""
    V, g = np.asarray(V), np.asarray(g)
    free = ~np.asarray(fixed)
    w = np.max(np.abs(V - np.clip(V - g / mass, lower, upper)), where=free, initial=0.0)
    eps = min(1e-8 * (1.0 + np.max(np.abs(V))), w)
    return ((V - lower <= eps) & (g > 0)) | ((upper - V <= eps) & (g < 0))


# -- strong minima: Weierstrass' excess function along the extremal -------------------------------
# E(x, f, f′, w) = G(f, w, x) - G(f, f′, x) - (w - f′)·∂G/∂f′ compares the extremal's slope with any
# other slope w at the same point: a needle variation (a short segment of slope w) changes J by
# about E times its length.  E ≥ 0 along the extremal, with the extremal embedded in a field (no
# conjugate point), makes a strict weak minimum a strong one; E < 0 anywhere rules that out.
#
# E(w) is minimised at each cell's midpoint over w = f′ + (1 + |f′|) t u: t on a geometric grid
# 1e-12..1e3 (12 per decade: the smallest E found is within a few per cent of a minimum inside
# the range), u the coordinate directions ± (and, for a vector f, random unit directions ±, fixed
# seed).  One dense search rather than a search and a Newton refinement: a program half the size
# to trace and compile (it runs in every certificate, e.g. the CLI's).
WEIERSTRASS_TOL = 1e-9  # E < -tol·(|G(w)| + |G(f′)| + |(w - f′)·G_f′|): negative beyond rounding
_T_GRID = np.geomspace(1e-12, 1e3, 181)  # |w - f′| / (1 + |f′|): 12 per decade


@dataclass
class _Weierstrass:
    """The outcome of the E test (of the integrand the solver minimised: ``sign·G`` with the
    multipliers' terms); ``conclude`` turns it, with the Jacobi condition, into the verdict's
    pieces.  ``reason``: why E was not evaluated (then nothing else is set)."""

    reason: str | None = None
    E: float | None = None  # the smallest E found (of G: sign applied), at x, w
    x: float | None = None
    w: object = None
    slope: object = None  # f′ there
    negative: bool = False  # E < -tol somewhere
    edge: bool = False  # w at the end of the searched range (E may be unbounded below)
    points: int = 0
    strong: bool | None = None
    text: str = ""
    evidence: str = ""

    def conclude(self, mode, jacobi, conj) -> _Weierstrass:
        kind = "maximum" if mode == "maximize" else "minimum"
        out = dataclasses.replace(self)
        if self.reason == _NOT_A_MINIMUM.reason:
            out.text = f"not applicable: not a strict local {kind}"
            return out
        if self.reason is not None:
            out.text = f"strong {kind} not decided: {self.reason}"
            out.evidence = f"not evaluated ({self.reason})"
            return out
        w = _fmt(self.w)
        if self.negative:
            rel = "<" if mode != "maximize" else ">"
            out.strong = False
            out.text = f"weak local {kind}, not strong: E = {self.E:.1e} {rel} 0 at x = {self.x:.4g}, w = {w}"
            out.evidence = (
                f"E(x, f, f′, w) = {self.E:.3g} {rel} 0 at x = {self.x:.6g}, w = {w} (f′ = "
                f"{_fmt(self.slope)}), minimised over w at {self.points} points: a weak local "
                f"{kind}, not strong"
                + (
                    "; w is at the end of the searched range |w - f′| <= 1e3 (1 + |f′|): E may be unbounded"
                    if self.edge
                    else ""
                )
            )
            return out
        ok = (
            f"E {'≥' if mode != 'maximize' else '≤'} 0 at {self.points} points of the extremal (the extreme E found "
            f"is {self.E:.2g}: zero within rounding)"
        )
        if jacobi not in ("conjugate", "focal"):
            out.text = f"strong {kind} not decided: {ok}, but the field condition is not checked ({jacobi})"
        elif conj is not None:
            out.text = f"strong {kind} not decided: {ok}, but there is a {jacobi} point at x ≈ {conj:.4g}"
        else:
            out.strong = True
            out.text = f"strict strong local {kind}"
            out.evidence = f"{ok} and no {jacobi} point (a field of extremals): a strict strong local {kind}"
            return out
        out.evidence = out.text
        return out


_NOT_A_MINIMUM = _Weierstrass(reason="not a strict local minimum")


def _fmt(w):
    w = np.asarray(w)
    return f"{float(w):.4g}" if w.size == 1 else np.array2string(w.reshape(-1), precision=4)


def _strong(disc, V, z, aux) -> _Weierstrass:
    """The E test, or why it does not apply here."""
    lay, problem = disc.layout, disc.problem
    if lay.order != 1:
        return _Weierstrass(reason="a second-order problem (G depends on f″); the test here is for G(f, f′, x)")
    if lay.has_bound:
        return _Weierstrass(
            reason="obstacle contact (Bound): strong variations would have to stay above "
            "the obstacle, which this test does not model"
        )
    other = sorted({s.kind for s in lay.sides if s.kind not in ("Integral", "OnCurve")})
    if other:
        return _Weierstrass(
            reason=f"side conditions {', '.join(other)}: w would range over their "
            "admissible slopes (e.g. a constraint surface's tangents), not modelled here"
        )
    E, W, size, xs, fp = _weierstrass_at_midpoints(disc, V, z)
    if not np.any(np.isfinite(E)):
        return _Weierstrass(reason="E is not finite at any tried w (G undefined off the extremal)")
    negative = E < -WEIERSTRASS_TOL * size
    i = int(np.argmin(np.where(np.isfinite(E), E, np.inf)))
    sign = float(aux["sign"])
    edge = np.linalg.norm(W[i] - fp[i]) >= 0.999 * _T_GRID[-1] * (1 + np.linalg.norm(fp[i]))
    as_f = (lambda a: float(a[0])) if problem.shape == () else (lambda a: a.reshape(problem.shape))
    return _Weierstrass(
        E=sign * float(E[i]),
        x=float(xs[i]),
        w=as_f(W[i]),
        slope=as_f(fp[i]),
        negative=bool(np.any(negative)),
        edge=bool(edge),
        points=E.size,
    )


def _weierstrass_at_midpoints(disc, V, z):
    """E minimised over w at the n - 1 cell midpoints: ``(E, w, size, x, f′)``, (n-1,) and
    (n-1, m), physical ``x`` and ``f′``.  The cells are padded to the solve's bucket, as the
    Legendre check's, so a new n in a known bucket compiles nothing."""
    from .drivers import bucket

    lay, problem = disc.layout, disc.problem
    n = disc.x.size
    N = bucket(n)
    _, _, aux_k = entry("kernel_inputs")(disc, N)
    run = cache.get(("weierstrass", lay.key(problem)), lambda: _weierstrass_fn(problem, lay))
    out = jax.device_get(run(*_padded_cells(V, np.asarray(disc.x), N), jax.device_put(z), aux_k))
    return tuple(np.asarray(a)[: n - 1] for a in out)


def _directions(m):
    """Search directions for w - f′: ± the coordinate axes and, for m > 1, ± random unit vectors
    (fixed seed, so a certificate is reproducible).  (D, m)"""
    axes = np.eye(m)
    if m > 1:
        U = np.random.default_rng(0).standard_normal((min(8 * m, 48), m))
        axes = np.concatenate([axes, U / np.linalg.norm(U, axis=1, keepdims=True)])
    return np.concatenate([axes, -axes])


def _weierstrass_fn(problem, lay):
    """``run(v0, v1, x0, x1, z, aux) -> (E_min, w, size, x, f′)`` per cell (the arguments as the
    Legendre check's): at the cell's midpoint, the element's ``f`` and ``f′`` (mapped to physical
    ``x`` for a free or mapped end), the smallest E found over ``w`` (N-1,), that ``w`` (N-1, m),
    the rounding scale of E there (N-1,), the point ``x`` (N-1,) and ``f′`` (N-1, m).  G is the
    integrand the solver minimised (``sign·G`` plus the Integral multipliers' terms)."""
    G, shape, m = problem.integrand, problem.shape, lay.m
    integrals = [s for s in lay.sides if s.integrand]
    has_params = lay.has_params
    # One dense search (no refinement stages: one trace of E, a small program): |w - f′| / (1 + |f′|)
    # on a geometric grid from 1e-12 (E → 0 as w → f′ where G is convex in f′) to 1e3, 12 points
    # per decade (ratio 1.21), along each direction.  numpy constants of the program.
    steps = (_T_GRID[:, None, None] * _directions(m)[None]).reshape(-1, m)  # (T·D, m)

    def cell(v0, v1, x0, x1, z, aux):
        f, q = lay.element.midpoint_jets(v0, v1, x1 - x0, m)[:2]  # (m,) each, in the solver's grid
        x = 0.5 * (x0 + x1)
        if lay.free_end:  # the grid is ξ ∈ [0, 1]: x = A + T ξ, f′ = f_ξ / T
            A, B = lay.ends(z, aux)
            x, q = A + (B - A) * x, q / (B - A)
        else:
            chart = lay.element.chart(x, (f, q), aux)
            if chart is not None:
                x, (f, q), _ = chart

        def L(w):
            args = (f.reshape(shape), w.reshape(shape), x) + ((aux["p"],) if has_params else ())
            value = aux["sign"] * G(*args)
            for s in integrals:
                value = value + s.in_integrand(args, z, aux)
            return value

        L0, Lq = jax.value_and_grad(L)(q)
        E = lambda w: L(w) - L0 - (w - q) @ Lq
        finite = lambda e: jnp.where(jnp.isfinite(e), e, jnp.inf)  # G undefined there: no competitor
        r = 1.0 + jnp.linalg.norm(q)
        W = q + r * steps
        Ew = finite(jax.vmap(E)(W))
        k = jnp.argmin(Ew)
        w, e = W[k], Ew[k]
        size = jnp.abs(L(w)) + jnp.abs(L0) + jnp.abs((w - q) @ Lq)
        return e, w, size, x, q

    # Small per-cell programs: cheap to run, so compiled on the baseline tier (less compile).
    return jax.jit(jax.vmap(cell, in_axes=(1, 1, 0, 0, None, None)), compiler_options=_BASELINE_OPTIONS)


def _length_factor(sol, disc):
    """Mass in physical length: the grid is ξ ∈ [0, 1] for a free end."""
    if disc.layout.free_end:
        return float(sol.x[-1] - sol.x[0])
    return 1.0


# -- the second variation at the solution --------------------------------------------------------
# Three compiled pieces: the solve's own kernel (L's derivatives, shared with vc.solve), the
# Legendre condition per cell (per integrand, small) and the generic inertia/pivots (once per shape).
def _second_variation(disc):
    """``run(V, z, x, frozen_at, mass_rows)``: the solve's own kernel (on the same size bucket, so nothing
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

    def run(V, z, x, frozen_at, mass_rows):
        """``frozen_at(g)`` (host, (d, n) bool) the held unknowns given the gradient ``g`` (d, n);
        ``mass_rows`` (d, n) the pencil's mass.  Returns ``(D, frozen)`` (numpy, n nodes)."""
        # Everything on the bucket's N nodes (padded nodes frozen and massless, padded cells copies
        # of the first cell), so a new n in a known bucket compiles nothing; cut back to n on the host.
        D = derivatives(pad_numpy(V, N, 1), z)
        frozen = frozen_at(np.asarray(D["g"])[:, :n])  # the solve's active set needs g
        lam = legendre(*_padded_cells(V, x, N), z, aux_k)
        D = _inertia(D, pad_numpy(frozen, N, 1, True), np.asarray(z), lam, pad_numpy(mass_rows, N, 1))
        return _cut(D, n), frozen

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
    nodes = dict(
        g=D["g"][:, :n],
        diag=D["diag"][..., :n],
        upper=D["upper"][..., : n - 1],
        diag_full=D["diag_full"][..., :n],
        upper_full=D["upper_full"][..., : n - 1],
        pivots=D["pivots"][:n],
        legendre=D["legendre"][: n - 1],
        B=D["B"][:, :n],
    )
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


def _inertia(D, frozen, z, legendre, mass):
    """Generic, on the host (numpy; nothing compiled for scalar unknowns): the restricted second
    variation, its inertia (bordered by z, by block cyclic reduction) and LDLᵀ pivots.  Frozen
    nodes (Dirichlet, contact, and the bucket's padding) become identity rows: positive pivots, no
    change to the count of negative ones.

    ``mass`` (d, N): the pencil's lumped mass (0 on slopes, multipliers, frozen and padded rows).
    ``scale``: the Gershgorin bound of ``M⁻¹K`` on the rows with mass, which sets the zero
    tolerance ``tol = ZERO_TOLERANCE · scale``; ``below`` (2,): the negative counts of the KKT
    matrix of ``K + tol M`` and ``K - tol M`` (Sylvester: pencil eigenvalues below ``∓tol``, plus
    one per multiplier), so an eigenvalue inside the tolerance is counted as zero, not negative."""
    D = jax.device_get(D)
    g = np.asarray(D["g"])
    diag, upper = restrict(np.asarray(D["diag"]), np.asarray(D["upper"]), frozen, np)
    k = np.shape(z)[0]
    B = np.where(frozen[:, :, None], 0.0, D["B"]) if k else np.zeros(g.shape + (0,))
    C = np.asarray(D["C"]) if k else np.zeros((0, 0))
    mass = np.where(frozen, 0.0, mass)
    row = np.abs(diag).sum(1) + np.abs(B).sum(-1)  # (d, N): |K| row sums, node-major blocks
    row[:, :-1] += np.abs(upper).sum(1)
    row[:, 1:] += np.abs(upper).sum(0)
    has_mass = mass > 0
    scale = np.max(np.where(has_mass, row / np.where(has_mass, mass, 1.0), 0.0))
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    tol = ZERO_TOLERANCE * scale
    eye = np.eye(diag.shape[0])[:, :, None]

    def below(sigma):
        op = HostBlockTridiagonal(diag - sigma * eye * mass[None, :, :], upper, B, C)
        with np.errstate(all="ignore"):
            return int(op.attempt(op.prepare(np.zeros_like(g), np.zeros(k)), 0.0)[2])

    if diag.shape[0] == 1:
        pivots = host_scalar_pivots(diag[0, 0], upper[0, 0])[:, None, None]
    else:
        pivots = np.asarray(_pivots_baseline(diag, upper))
    return dict(
        g=g,
        diag=diag,
        upper=upper,
        B=B,
        C=C,
        below=np.array([below(-tol), below(tol)]),
        scale=scale,
        pivots=pivots,
        legendre=np.asarray(legendre),
        diag_full=np.asarray(D["diag"]),
        upper_full=np.asarray(D["upper"]),
    )


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


_pivots_baseline = jax.jit(_pivots, compiler_options=_BASELINE_OPTIONS)


# -- eigenpairs: shift-invert Lanczos on the sparse bordered matrix ------------------------------
def _sparse_kkt(D, frozen):
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
    K = sp.coo_matrix(
        (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))), shape=(N + k, N + k)
    ).tocsr()
    keep = np.concatenate([~frozen.T.ravel(), np.ones(k, bool)])  # node-major, as idx
    return K, keep


def _smallest_eigenpairs(D, frozen, mass_rows, nev, dimension, scale):
    """The ``nev`` eigenvalues of ``K v = λ M v`` nearest below-zero, their vectors (full length,
    zeros at frozen unknowns), and whether they converged.  ``mass_rows`` (n, d); ``scale`` the
    pencil's (``D["scale"]``, for the shift)."""
    K, keep = _sparse_kkt(D, frozen)
    d, n = frozen.shape
    k = K.shape[0] - d * n
    m_full = np.concatenate([np.asarray(mass_rows).ravel(), np.zeros(k)])
    Kr = K[keep][:, keep].tocsc()
    Mr = m_full[keep]
    nev = int(min(nev, max(dimension - 1, 1), np.sum(Mr > 0) - 1))
    if nev < 1 or Kr.shape[0] < 3:
        return np.zeros(0), np.zeros((K.shape[0], 0)), True
    # Just below zero (by the zero tolerance, so a singular K still factorises): nearest first.
    lam, vec, converged = _nearest_eigenpairs(Kr, Mr, -ZERO_TOLERANCE * scale, nev)
    order = np.argsort(lam)
    full = np.zeros((K.shape[0], nev))
    full[keep] = vec[:, order]
    return lam[order], full, converged


def _nearest_eigenpairs(K, mass, sigma, nev, guard=4, max_iter=300):
    """The ``nev`` eigenpairs of ``K v = λ diag(mass) v`` nearest ``sigma`` and whether they
    converged within ``max_iter`` (each O(n (nev + guard)²)): inverse subspace iteration with a Rayleigh–Ritz step (one sparse LU of ``K - σ M``, O(n) per iteration).

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
            return lam[:nev], X[:, :nev], True
        lam_old = lam[:nev]
    return lam[:nev], X[:, :nev], False


# -- Jacobi: the running count of negative pivots --------------------------------------------------
def _conjugate_point(D, frozen, lay, x, problem, grid=None, end_map=None, mass_rows=None):
    """The first conjugate (focal) point of the left end: the cell from the running count of negative
    pivots, the point inside it from the discrete Jacobi field.  ``x`` physical nodes; ``grid`` the
    solver's (``s`` for a mapped end, ``x = end_map.x_of_s(s)``); ``mass_rows`` (n, d) the pencil's mass."""
    if lay.k_int:
        return None, "not computed with integral constraints (the accessory problem is constrained)"
    if lay.curve_ends:
        return None, "not computed with an end on a curve (the abscissa is an unknown)"
    P = np.asarray(D["pivots"])  # (n, d, d)
    # A pivot counts as negative beyond the zero tolerance in the pencil's units (tol · the node's
    # mass), as the inertia does: rounding-sized pivots of a degenerate direction are no conjugate point.
    tol = ZERO_TOLERANCE * float(D["scale"]) * np.max(mass_rows, axis=1) if mass_rows is not None else 0.0
    neg = np.sum(np.linalg.eigvalsh(P) < -np.atleast_1d(tol)[:, None], axis=1)
    constraint_rows = np.sum(~frozen[lay.d_el :], axis=0)  # each multiplier adds one negative
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
        A = np.concatenate([Dg[np.ix_(eq, inner[i], [i])][..., 0], Up[np.ix_(eq, np.arange(m), [i])][..., 0]], axis=1)
        try:
            sol = np.linalg.solve(A, -known)
        except np.linalg.LinAlgError:
            return None
        V[i, inner[i]] = sol[: inner[i].size]
        V[i + 1, :m] = sol[inner[i].size :]
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
