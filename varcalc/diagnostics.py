"""Diagnostics along a computed extremal: the strong Euler–Lagrange residual and the first integral.

A :class:`~varcalc.Solution` of an ``order=1`` problem is piecewise linear: its ``f''`` is zero
inside every cell, so the strong form of the Euler–Lagrange equation cannot be evaluated on it
directly.  Here the nodal values are reconstructed smoothly by the not-a-knot cubic spline through
the nodes (:func:`varcalc.piecewise.spline_slopes`, evaluated by the one piecewise evaluator), which
gives ``f``, ``f'`` and ``f''`` at any point (``degree > 1``: the element polynomials); the nodal
values are O(h²) accurate and their error is smooth, so the reconstructed ``f''`` is O(h²) accurate
too.  Then, with JAX (float64, ``vmap`` over the points, ``jit``):

* the **Euler–Lagrange residual** ``r(x) = ∂L/∂f - d/dx ∂L/∂f'``, where the total derivative is the
  chain rule ``∂²L/∂f'∂f · f' + ∂²L/∂f'² · f'' + ∂²L/∂f'∂x``, evaluated as one forward-mode
  ``jvp`` of ``∂L/∂f'`` along the tangent ``(f', f'', 1)``;
* the **first integral** ``E(x) = L - f'·∂L/∂f'`` (Beltrami), constant along an exact extremal
  when ``L`` does not depend on ``x`` explicitly (checked: ``∂L/∂x`` is evaluated along the
  solution and must vanish).

``L = G + λ·H`` is the Lagrangian with the multipliers of the problem's :class:`~varcalc.Integral`
constraints (``L = G`` without constraints); parameters ``p`` are the solution's.  On a grid of
spacing ``h`` both diagnostics converge like h² (the residual to 0, the spread of ``E`` to 0).

>>> import jax.numpy as jnp, numpy as np, varcalc as vc
>>> osc = vc.Problem(lambda f, df, x: 0.5 * df**2 - 2.0 * f**2, (0.0, 1.0), bc={"left": 1.0, "right": 0.5})
>>> sol = vc.solve(osc, n=81)
>>> x, r = vc.euler_lagrange_residual(sol)
>>> bool(np.max(np.abs(r)) < 1e-2)
True
>>> x, E = vc.first_integral(sol)
>>> bool(np.ptp(E) < 1e-3 * np.max(np.abs(E)))
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # imported where used at run time
    from .solution import Solution

__all__ = ["euler_lagrange_residual", "first_integral", "plot_diagnostics"]

# ∂L/∂x counts as zero when below this fraction of the size of the terms of E = L - f'·L_f'.
_X_INDEPENDENT_RTOL = 1e-10


def _check_solution(sol, what="sol"):
    from .solution import Solution

    if not isinstance(sol, Solution):
        raise TypeError(f"{what}: expected a vc.Solution (what vc.solve returns), got {type(sol).__name__}")
    sol._require_concrete(what)  # a traced solution (inside jax.grad/jit/vmap) has no numbers yet
    problem = sol.problem
    if problem is None:
        raise ValueError(f"{what}: the solution carries no problem (a loaded Solution); re-solve it")
    if problem.order != 1:
        raise ValueError(f"{what}: diagnostics need an order=1 problem G(f, f', x), got order={problem.order}")
    if problem.pointwise or problem.bound is not None or problem.data is not None:
        raise ValueError(
            f"{what}: the strong-form diagnostics cover Integral constraints only, not "
            "Pointwise, Bound or Data terms (their multipliers are not smooth functions)"
        )
    if sol.x.size < 4 and sol.degree == 1:
        raise ValueError(f"{what}: needs at least 4 nodes for the cubic reconstruction, got {sol.x.size}")
    return problem


def _points(sol, x):
    """Evaluation points: the nodes by default (for ``degree > 1`` every cell's GLL nodes, less a
    mapped singular end, where ``f'`` is infinite); else validated to lie in [x_0, x_{n-1}]."""
    if x is None and sol.degree > 1:
        from .elements import gll_nodes

        grid = np.asarray(sol.x) if sol.end_map is None else sol.end_map.s_of_x(sol.x)
        pts = grid[:-1, None] + gll_nodes(sol.degree)[None, :-1] * np.diff(grid)[:, None]
        pts = np.append(pts.reshape(-1), grid[-1])
        if sol.end_map is not None:
            keep = np.ones(pts.size, bool)
            keep[0], keep[-1] = sol.end_map.powers[0] == 1, sol.end_map.powers[1] == 1
            pts = sol.end_map.x_of_s(pts[keep])
        return pts
    if x is None:
        return np.asarray(sol.x, dtype=np.float64)
    xq = np.asarray(x, dtype=np.float64)
    if xq.ndim != 1 or xq.size == 0:
        raise ValueError(f"x: expected a non-empty 1-D array of points, got shape {xq.shape}")
    a, b = sol.x[0], sol.x[-1]
    tol = 1e-12 * (b - a)
    if not np.all(np.isfinite(xq)) or np.any(xq < a - tol) or np.any(xq > b + tol):
        raise ValueError(f"x: expected finite points inside the domain [{a}, {b}]")
    return xq


def _jets(sol, xq):
    """``(f, f', f'')`` at ``xq`` (k,), each (k, m), from the one evaluator
    (:func:`varcalc.piecewise.evaluate`).

    ``degree > 1``: the element polynomials themselves (with the end map's chain rule).  P1: not
    ``sol(x)`` itself, deliberately — it is piecewise linear, ``f''`` is zero inside every cell and
    ``f'`` jumps at the nodes, so the strong form cannot be evaluated on it; the not-a-knot cubic
    spline through the nodes (the Hermite evaluator with :func:`varcalc.piecewise.spline_slopes`)
    reconstructs ``f'`` and ``f''`` to O(h²) (the nodal values' error is smooth)."""
    from .piecewise import evaluate, spline_slopes

    n = sol.x.size
    with jax.ensure_compile_time_eval():  # concrete numbers (diagnostics are of a plain solution)
        if sol.degree > 1:
            jets = evaluate(sol.x, xq, elements=sol.element_values, end_map=sol.end_map, grid=sol.grid, derivatives=2)
        else:
            F = np.asarray(sol.f).reshape(n, -1)
            jets = evaluate(sol.x, xq, values=F, slopes=spline_slopes(sol.x, F), derivatives=2)
        return tuple(np.asarray(j) for j in jets)


def _lagrangian(problem):
    """``L(f, df, x, lam, p)`` on flat ``(m,)`` arrays: ``G + Σ lam_j H_j``, ``p`` the parameters."""
    shape = problem.shape
    as_shape = (lambda a: jnp.reshape(a, shape)) if problem.is_vector else (lambda a: a[0])
    funs = [c.fun for c in problem.integrals]
    G, has_params = problem.integrand, problem.params is not None

    def L(f, df, x, lam, p):
        args = (as_shape(f), as_shape(df), x) + ((p,) if has_params else ())
        value = G(*args)
        for j, H in enumerate(funs):
            value = value + lam[j] * H(*args)
        return value

    return L


def _kernels(problem):
    """Compiled pointwise kernels ``(residual, beltrami)`` for the problem's Lagrangian, cached per
    integrand, constraint functions and shape (multipliers and parameters are arguments, so
    solutions of one family share them)."""
    key = (
        problem.integrand,
        tuple(c.fun for c in problem.integrals),
        problem.shape,
        problem.is_vector,
        problem.params is not None,
    )
    from . import cache

    return cache.get(("diagnostics",) + key, lambda: _make_kernels(problem))


def _make_kernels(problem):
    L = _lagrangian(problem)
    L_f = jax.grad(L, argnums=0)
    L_df = jax.grad(L, argnums=1)
    L_x = jax.grad(L, argnums=2)

    def residual(f, df, d2f, x, lam, p):
        # d/dx L_f'(f(x), f'(x), x) = L_f'f · f' + L_f'f' · f'' + L_f'x  (one jvp)
        along = lambda f_, df_, x_: L_df(f_, df_, x_, lam, p)
        _, total = jax.jvp(along, (f, df, x), (df, d2f, jnp.ones_like(x)))
        return L_f(f, df, x, lam, p) - total

    def beltrami(f, df, x, lam, p):
        value, slope_part = L(f, df, x, lam, p), jnp.dot(df, L_df(f, df, x, lam, p))
        return value - slope_part, jnp.abs(value) + jnp.abs(slope_part), L_x(f, df, x, lam, p)

    axes = (0, 0, 0, 0, None, None)
    return jax.jit(jax.vmap(residual, in_axes=axes)), jax.jit(jax.vmap(beltrami, in_axes=axes[1:]))


def _constants(sol):
    """Multipliers (signed for ``G``: the solver's belong to ``-G`` when maximising) and params."""
    sign = -1.0 if sol.mode == "maximize" else 1.0
    lam = jnp.asarray([sign * float(sol.multipliers[c.name]) for c in sol.problem.integrals], dtype=jnp.float64)
    p = sol.params if sol.problem.params is not None else None
    return lam, p


def euler_lagrange_residual(sol: Solution, x: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Strong-form Euler–Lagrange residual ``∂L/∂f - d/dx ∂L/∂f'`` along the computed extremal.

    Parameters
    ----------
    sol : Solution
        A solution of an ``order=1`` problem (scalar or vector unknown; :class:`~varcalc.Integral`
        constraints enter through their multipliers, ``L = G + λ·H``).
    x : array_like, shape (k,), optional
        Points in the domain; default the nodes ``sol.x``.

    Returns
    -------
    x : ndarray, shape (k,)
    residual : ndarray, shape (k,) + problem.shape
        Zero on an exact extremal; O(h²) on the computed one where the extremal is smooth (at a
        singular end, e.g. ``G ~ 1/sqrt(f)`` with ``f = 0``, it is not finite).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> x, r = vc.euler_lagrange_residual(vc.solve(p, n=11))   # f'' = 1: nodally exact
    >>> bool(np.max(np.abs(r)) < 1e-9)
    True
    """
    problem = _check_solution(sol)
    xq = _points(sol, x)
    f, df, d2f = _jets(sol, xq)
    residual, _ = _kernels(problem)
    r = np.asarray(residual(jnp.asarray(f), jnp.asarray(df), jnp.asarray(d2f), jnp.asarray(xq), *_constants(sol)))
    return xq, r.reshape((xq.size,) + problem.shape)


def first_integral(sol: Solution, x: ArrayLike | None = None, *, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The first integral ``E = L - f'·∂L/∂f'`` along the extremal (constant if exact).

    Parameters
    ----------
    sol : Solution
        A solution of an ``order=1`` problem whose Lagrangian ``L = G + λ·H`` does not depend on
        ``x`` explicitly.
    x : array_like, shape (k,), optional
        Points in the domain; default the nodes ``sol.x``.
    check : bool
        Verify that ``∂L/∂x`` vanishes along the solution (relative to the size of the terms of
        ``E``, tolerance 1e-10) and raise otherwise.

    Returns
    -------
    x : ndarray, shape (k,)
    values : ndarray, shape (k,)
        ``E`` at ``x``; its spread ``max - min`` is O(h²) on a smooth extremal.

    Raises
    ------
    ValueError
        When ``L`` depends on ``x`` explicitly (``E`` is then not conserved).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-0.5, 0.5), bc={"left": 1.0, "right": 1.0})
    >>> x, E = vc.first_integral(vc.solve(p, n=81))          # E = c, the catenary's parameter
    >>> bool(np.ptp(E) < 1e-3), round(float(E.mean()), 3)
    (True, 0.848)
    """
    problem = _check_solution(sol)
    xq = _points(sol, x)
    f, df, _ = _jets(sol, xq)
    _, beltrami = _kernels(problem)
    out = beltrami(jnp.asarray(f), jnp.asarray(df), jnp.asarray(xq), *_constants(sol))
    E, size, L_x = (np.asarray(a) for a in out)
    if check:
        ok = np.isfinite(L_x) & np.isfinite(size)
        worst = np.abs(L_x[ok]) / np.maximum(size[ok], np.finfo(float).tiny) if np.any(ok) else np.zeros(0)
        if worst.size and np.max(worst) > _X_INDEPENDENT_RTOL:
            i = np.flatnonzero(ok)[int(np.argmax(worst))]
            raise ValueError(
                f"sol: the Lagrangian depends on x explicitly (∂L/∂x = {L_x[i]:.3g} at x = {xq[i]:.6g}), so "
                "G - f'·∂G/∂f' is not conserved; use euler_lagrange_residual instead (or check=False)"
            )
    return xq, E


def plot_diagnostics(
    sol: Solution, path: str | os.PathLike | None = None, *, exact: Callable[..., Any] | None = None, axes: Any = None
) -> Any:
    """Three panels: the extremal, ``|EL residual|`` on a log scale, and ``E - mean(E)``.

    ``sol`` may be one :class:`~varcalc.Solution` or a sequence of them (e.g. the same problem on
    grids n and 2n - 1, to see the O(h²) decrease).  The first-integral panel is drawn only when
    the Lagrangian is ``x``-independent (else it says so).  Returns the three Axes; saves to
    ``path`` when given; never calls ``show()``.

    >>> import jax.numpy as jnp, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-0.5, 0.5), bc={"left": 1.0, "right": 1.0})
    >>> axes = vc.plot_diagnostics(vc.solve(p, n=41))
    >>> len(axes)
    3
    """
    import matplotlib.pyplot as plt

    sols = list(sol) if isinstance(sol, (list, tuple)) else [sol]
    if not sols:
        raise ValueError("sol: expected a Solution or a non-empty sequence of them")
    problems = [_check_solution(s) for s in sols]
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    ax_f, ax_r, ax_e = axes
    fig = ax_f.figure
    problem = problems[0]
    name = getattr(problem, "name", "extremal")
    exact = exact if exact is not None else getattr(problem, "exact", None)
    conserved = True
    for s in sols:
        n = s.x.size
        F = s.f.reshape(n, -1)
        label = f"n = {n}" + (f", p = {s.degree}" if s.degree > 1 else "")
        for j in range(F.shape[1]):
            (line,) = ax_f.plot(s.x, F[:, j], ".", ms=4, label=label if j == 0 else None)
            if s.degree > 1:  # the element polynomials between the nodes
                xf = np.linspace(s.x[0], s.x[-1], 400)
                ax_f.plot(xf, np.asarray(s(xf)).reshape(xf.size, -1)[:, j], "-", lw=1, color=line.get_color())
            else:
                ax_f.plot(s.x, F[:, j], "-", lw=1, color=line.get_color())
        x, r = euler_lagrange_residual(s)
        R = np.abs(r.reshape(x.size, -1))
        for j in range(R.shape[1]):
            ok = np.isfinite(R[:, j]) & (R[:, j] > 0)
            ax_r.semilogy(
                x[ok],
                R[ok, j],
                ".-",
                ms=3,
                lw=1,
                label=f"{label}: max {np.max(R[ok, j]):.2g}" if j == 0 and np.any(ok) else None,
            )
        try:
            x, E = first_integral(s)
        except ValueError:
            conserved = False
            continue
        ok = np.isfinite(E)
        ax_e.plot(
            x[ok],
            E[ok] - np.mean(E[ok]),
            ".-",
            ms=3,
            lw=1,
            label=f"{label}: mean {np.mean(E[ok]):.10g}, spread {np.ptp(E[ok]):.2g}",
        )
    if exact is not None:
        xf = np.linspace(sols[0].x[0], sols[0].x[-1], 400)
        ax_f.plot(xf, np.asarray(exact(xf)).reshape(xf.size, -1), "k--", lw=0.8, label="exact")
    ax_f.set(title=f"{name}: extremal", xlabel="x", ylabel="f")
    ax_r.set(title="Euler–Lagrange residual |∂G/∂f − d/dx ∂G/∂f′|", xlabel="x")
    ax_r.grid(True, which="both", alpha=0.3)
    if conserved:
        ax_e.set(title="first integral E = G − f′ ∂G/∂f′, minus its mean", xlabel="x")
        ax_e.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax_e.grid(True, alpha=0.3)
    else:
        ax_e.text(
            0.5,
            0.5,
            "G depends on x explicitly:\nno first integral",
            ha="center",
            va="center",
            transform=ax_e.transAxes,
        )
    for ax in (ax_f, ax_r) + ((ax_e,) if conserved else ()):
        ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110)
    return axes
