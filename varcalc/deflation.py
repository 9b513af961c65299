"""All the extremals: deflated Newton (Farrell, Birkisson & Funke, SIAM J. Sci. Comput. 2015).

Newton on the Euler–Lagrange residual ``F(U) = ∇J_h(U)`` finds one extremal from a guess.  Once
extremals ``U_1 … U_k`` are known, Newton is run on the *deflated* residual ``M(U) F(U)`` with

    M(U) = Π_i (‖U - U_i‖^(-p) + σ),   ‖v‖² = Σ mass_j v_j²  (the discrete L² norm),

which keeps the other zeros of ``F`` and pushes the known ones to infinity, so Newton cannot return
to them.  Its Newton step is the ordinary one rescaled (Sherman–Morrison on the rank-one term):
with ``δ = -F'(U)⁻¹ F(U)`` and ``w = ∇ log M(U)``, the deflated step is ``δ / (1 - wᵀ δ)``.  So
each iteration is the ordinary step of the engine — the integrand's compiled kernel and the host
block-tridiagonal solve — and a scalar.  A backtracking line search on ``M(U) ‖F(U)‖`` globalises
it.  Each extremal found is polished by :func:`varcalc.solve` (``mode="stationary"``) from it, so
it is an ordinary :class:`~varcalc.Solution` with its certificate.

>>> import jax.numpy as jnp, varcalc as vc
>>> bratu = vc.Problem(lambda f, df, x: 0.5 * df**2 - 2.0 * jnp.exp(f), (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
>>> sols = vc.solve_all(bratu, n=101)
>>> len(sols), [round(float(s.f.max()), 4) for s in sols]      # the two Bratu solutions for λ = 2
(2, [0.3289, 2.8962])
>>> [s.certificate.verdict for s in sols]                      # sorted by J: the minimum first
['strict local minimum', 'saddle of index 1']
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import jax
import numpy as np

from ._entry import entry
from .newton import lumped_mass
from .progress import bar

if TYPE_CHECKING:  # imported on first use at run time (import cost, cycles)
    from matplotlib.axes import Axes

    from .problem import Problem
    from .solution import Solution

__all__ = ["solve_all", "plot_extremals"]

_KEEP = {  # mode -> which certified extremals solve_all returns
    "stationary": lambda c: True,
    "minimize": lambda c: c.certified and c.negative == 0 and c.zero == 0,
    "maximize": lambda c: c.certified and c.positive == 0 and c.zero == 0,
}


def solve_all(
    problem: Problem,
    n: int | None = None,
    *,
    max_solutions: int = 8,
    guesses: Sequence[Any] = (),
    power: float = 2.0,
    shift: float = 1.0,
    max_iter: int = 100,
    mode: Literal["minimize", "maximize", "stationary"] = "stationary",
    progress: bool = False,
    **solve_kwargs: Any,
) -> list[Solution]:
    """Distinct extremals of ``problem`` found by deflation, sorted by their value ``J``.

    Parameters
    ----------
    problem : Problem
        A 1-D problem; Integral constraints are allowed (their multipliers are solved for with the
        nodal values: the deflated step is the bordered KKT step, rescaled), pointwise constraints
        and free ends are not (deflation here acts on the nodal values).
    n : int, optional
        Nodes of a uniform grid (or ``grid=`` in ``solve_kwargs``), as for :func:`varcalc.solve`.
    max_solutions : int
        Stop after this many extremals.
    guesses : sequence
        Starting guesses (each as :func:`varcalc.solve`'s ``guess=``) tried after the default one.
    power, shift : float
        The deflation operator's ``p`` and ``σ`` (``p = 1`` is tried too when ``power`` finds nothing more).
    max_iter : int
        Newton iterations per deflated search.
    mode : {"stationary", "minimize", "maximize"}
        Which extremals to return: all (saddles too, e.g. Hamilton's principle past conjugate
        points), or only the strict local minima (maxima) by their certificate.  The search is the
        same (Newton on the Euler–Lagrange residual); only the returned list differs.
    progress : bool
        Show a progress bar (one unit per deflated search; see :mod:`varcalc.progress`).
    **solve_kwargs
        Passed to :func:`varcalc.solve` (``grid``, ``params``, ``quadrature``, ...).

    Returns
    -------
    list of Solution
        Converged, distinct (relative L² distance > 1e-6), sorted by ``value``.  A warning says how
        many were found and that more may exist.
    """
    solve, discretize = entry("solve"), entry("discretize")
    if mode not in _KEEP:
        raise ValueError(f"mode: expected one of {tuple(_KEEP)} (which extremals to return), got {mode!r}")
    if not isinstance(max_solutions, int) or max_solutions < 1:
        raise ValueError(f"max_solutions: expected a positive int, got {max_solutions!r}")
    disc_kw = {k: solve_kwargs[k] for k in ("grid", "params", "quadrature") if k in solve_kwargs}
    disc = discretize(problem, n, mode="stationary", **disc_kw)
    if disc.layout.r or disc.layout.free_end:
        raise ValueError(
            "problem: solve_all deflates the nodal values; pointwise constraints and free ends "
            "are not supported yet (Integral constraints are)"
        )
    found = []

    def distinct(sol):
        return all(_distance(sol.f, other.f, disc) > 1e-6 for other in found)

    def accept(sol):
        if sol is not None and sol.converged and distinct(sol):
            found.append(sol)
            return True
        return False

    accept(solve(problem, n, mode="stationary", **solve_kwargs))
    starts = [None] + list(guesses)
    for guess in starts[1:]:
        if len(found) >= max_solutions:
            break
        accept(solve(problem, n, guess=guess, mode="stationary", **solve_kwargs))
    # The deflation power that reaches a solution depends on the problem (the Bratu problem's upper
    # branch: p = 2; the deep catenoid: p = 1): after p fails, p = 1 is tried.
    powers = (power,) if power == 1.0 else (power, 1.0)
    with bar(len(starts) * len(powers), "solve_all", progress) as b:
        for guess in starts:
            for p in powers:
                while len(found) < max_solutions:
                    U = _deflated_newton(problem, n, disc_kw, guess, found, p, shift, max_iter)
                    if U is None:
                        break
                    polished = solve(problem, n, guess=_as_guess(U, disc), mode="stationary", **solve_kwargs)
                    if not accept(polished):
                        break
                    b.note(f"{len(found)} found")
                b.update(1)
    found.sort(key=lambda s: s.value)
    kept = [s for s in found if _KEEP[mode](s.certificate)] if mode != "stationary" else found
    if not found:
        warnings.warn(
            "solve_all: no extremal found: Newton and deflation converged from none of the guesses "
            "tried, and none may exist for these data (e.g. past a fold of the branch: follow the "
            'data with vc.continuation(..., method="arclength") to see where it ends)',
            stacklevel=2,
        )
    else:
        which = (
            ""
            if mode == "stationary"
            else f", {len(kept)} of them local {dict(minimize='minima', maximize='maxima')[mode]}"
        )
        warnings.warn(
            f"solve_all: found {len(found)} extremal(s){which}; deflation finds those reachable from "
            "the guesses tried, and more may exist",
            stacklevel=2,
        )
    return kept


def plot_extremals(
    solutions: Sequence[Solution], path: str | os.PathLike | None = None, *, ax: Axes | None = None
) -> Axes:
    """All the extremals on one axes (first component of ``f`` against ``x``), labelled by ``J`` and
    their certificate's verdict; minima solid, the others dashed.  Returns the Axes; saves to ``path``.

    >>> import jax.numpy as jnp, warnings, varcalc as vc
    >>> bratu = vc.Problem(lambda f, df, x: 0.5 * df**2 - 2.0 * jnp.exp(f), (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     ax = vc.plot_extremals(vc.solve_all(bratu, n=41))
    >>> len(ax.lines)
    2
    """
    import matplotlib.pyplot as plt

    solutions = list(solutions)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for i, s in enumerate(solutions):
        cert = s.certificate
        f = np.asarray(s.f).reshape(np.size(s.x), -1)[:, 0]
        ax.plot(s.x, f, "-" if cert.is_minimum else "--", lw=1.6, label=f"{i}: J = {s.value:.6g}, {cert.verdict}")
    ax.set(xlabel="x", ylabel="f", title=f"{len(solutions)} extremal(s) found (more may exist)")
    ax.grid(True, alpha=0.3)
    if solutions:
        ax.legend(fontsize=8)
    if path is not None:
        ax.figure.savefig(path, dpi=110)
    return ax


def _distance(f, g, disc):
    """Relative discrete L² distance of two solutions on the same grid."""
    mass = lumped_mass(disc.x)
    d = np.sum(mass * np.sum((np.asarray(f) - np.asarray(g)).reshape(mass.size, -1) ** 2, axis=1))
    size = np.sum(mass * np.sum(np.asarray(g).reshape(mass.size, -1) ** 2, axis=1))
    return np.sqrt(d / max(size, 1e-300))


def _as_guess(U, disc):
    """Nodal values ``U`` (m, n) as a guess for :func:`varcalc.solve`: (n,) + shape."""
    return np.asarray(U).T.reshape((disc.x.size,) + disc.problem.shape)


def _deflated_newton(problem, n, disc_kw, guess, known, power, shift, max_iter):
    """Newton on ``M(U) F(U)`` from ``guess`` with the ``known`` solutions deflated; the nodal
    values (m, n) where it converged, or None."""
    from .drivers import pad_numpy
    from .newton import HostBlockTridiagonal

    discretize, kernel_inputs, padded_nodes = entry("discretize"), entry("kernel_inputs"), entry("padded_nodes")
    disc = discretize(problem, n, guess=guess, mode="stationary", **disc_kw)
    m, nn = disc.layout.m, disc.x.size
    N = padded_nodes(disc, nn)
    kernel, x_k, aux_k = kernel_inputs(disc, N)
    fixed = pad_numpy(disc.fixed, N, 1, True)
    mass = pad_numpy(lumped_mass(disc.x), N, 0, 0.0)
    z = np.asarray(disc.z0, dtype=np.float64)  # the multipliers of Integral constraints (k,), if any
    knowns = [pad_numpy(np.asarray(s.f).reshape(nn, m).T, N, 1) for s in known]

    def residual(U, z):
        D = jax.device_get(kernel.derivatives(U, z, x_k, aux_k))
        return D, np.where(fixed, 0.0, np.asarray(D["g"])), np.asarray(D.get("gz", np.zeros(0)))

    def deflation(U):
        """``(M(U), ∇ log M(U))``, the gradient in the unknowns (zero at fixed ones)."""
        M, w = 1.0, np.zeros_like(U)
        for Ui in knowns:
            d = np.where(fixed, 0.0, U - Ui)
            r2 = float(np.sum(mass * d**2))
            if r2 == 0.0:
                return np.inf, w
            term = r2 ** (-power / 2) + shift
            M *= term
            w += (-power / 2) * r2 ** (-power / 2 - 1) * 2 * mass * d / term
        return M, w

    def merit(U, g, gz):
        M, _ = deflation(U)
        return M * np.sqrt(np.sum(np.where(mass > 0, g**2 / np.where(mass > 0, mass, 1.0), 0.0)) + np.sum(gz**2))

    def operator(D):
        """The KKT operator: the Hessian bordered by the multipliers' columns (none without constraints)."""
        B = C = None
        if z.size:
            B, C = np.where(fixed[:, :, None], 0.0, np.asarray(D["B"])), np.asarray(D["C"])
        return HostBlockTridiagonal(np.asarray(D["diag"]), np.asarray(D["upper"]), B, C).restrict(fixed)

    U = pad_numpy(disc.V0, N, 1)
    with np.errstate(all="ignore"):
        D, g, gz = residual(U, z)
        phi = merit(U, g, gz)
        for _ in range(max_iter):
            H = operator(D)
            step, dz, *_ = H.attempt(H.prepare(g, gz), 0.0)
            if not (np.all(np.isfinite(step)) and np.all(np.isfinite(dz))):
                return None
            _, w = deflation(U)
            # M depends on the nodal values only: w is zero on the multipliers
            denominator = 1.0 - float(np.sum(w * step))
            if denominator == 0.0 or not np.isfinite(denominator):
                return None
            step, dz = step / denominator, dz / denominator
            small = np.max(np.abs(step)) <= 1e-12 + 1e-10 * np.max(np.abs(U))
            a = 1.0
            while a > 1e-6:
                V, y = U + a * step, z + a * dz
                D_new, g_new, gz_new = residual(V, y)
                phi_new = merit(V, g_new, gz_new)
                if np.isfinite(phi_new) and (phi_new < phi or small):
                    break
                a *= 0.5
            else:
                return None
            U, z, D, g, gz, phi = V, y, D_new, g_new, gz_new, phi_new
            if small:
                return U[:, :nn]
    return None
