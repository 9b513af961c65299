"""A-posteriori error estimates: solve once more on the grid with every cell halved.

``J_h - J ≈ C h^q``, so the difference of the solutions on ``h`` and ``h/2`` estimates the error
of the coarse one (Richardson): ``|J_h - J| ≈ |J_h - J_{h/2}| · 2^q / (2^q - 1)``, and the same for
the nodal values at the coarse nodes.  ``q`` is the element's order of convergence, measured in
the tests: 2 for piecewise-linear elements (also with accurate end rules on a graded grid at a
singular end), 4 for the cubic Hermite elements of ``order=2`` problems, ``2p`` for Lagrange
elements of degree ``p`` (nodal and value errors converge alike on Gauss–Lobatto nodes).

The fine solve starts from the coarse solution (a few Newton steps) on the same quadrature
layout.  Per coarse cell, ``|E_i - (E'_{2i} + E'_{2i+1})|`` (the cell energies of the discrete
Lagrangian on both grids) says where the value error comes from: the indicator an adaptive
refinement splits by.

>>> import numpy as np, varcalc as vc
>>> p = vc.Problem(lambda f, df, x: 0.5 * (df**2 + f**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
>>> sol = vc.solve(p, n=21)
>>> est = sol.error_estimate                                   # = error_estimate(sol), cached
>>> exact = 0.5 * np.cosh(1) / np.sinh(1)                      # J* = coth(1)/2
>>> bool(0.5 < est.value_error / abs(sol.value - exact) < 2)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import cache
from ._entry import entry

__all__ = ["ErrorEstimate", "error_estimate", "two_grid", "halve_cells"]


@dataclass
class ErrorEstimate:
    """Two-grid error estimate of a :class:`~varcalc.Solution` (``sol.error_estimate``).

    ``value_error``: estimate of ``|J_h - J|``; ``f_error``: of ``max_i |f_i - f(x_i)|``;
    ``order``: the ``q`` assumed; ``fine``: the solution on the halved grid (its own error is
    about ``2^-q`` times smaller); ``cell_indicator`` (n-1,): each coarse cell's share of the
    value difference.
    """

    value_error: float
    f_error: float
    order: int
    fine: object = field(repr=False)
    cell_indicator: np.ndarray = field(repr=False)

    @property
    def relative_value_error(self) -> float:
        return self.value_error / max(abs(self.fine.value), 1e-300)


def halve_cells(x, cells=None):
    """Grid ``x`` (n,) with a midpoint added in every cell (or in the cells whose indices are given)."""
    x = np.asarray(x, dtype=np.float64)
    idx = np.arange(x.size - 1) if cells is None else np.asarray(cells, dtype=int)
    return np.sort(np.concatenate([x, 0.5 * (x[idx] + x[idx + 1])]))


def element_order(sol) -> int:
    """The convergence order ``q`` of the solution's elements (see the module docstring)."""
    if getattr(sol, "degree", 1) > 1:
        return 2 * sol.degree
    return 4 if sol.problem.order == 2 else 2


def error_estimate(sol, *, solve=None) -> ErrorEstimate:
    """The :class:`ErrorEstimate` of ``sol`` (``sol.error_estimate`` calls this, once, and caches it).

    ``solve``: the function that solves on the halved grid, :func:`varcalc.solve`'s signature
    (default: ``vc.solve`` itself, registered by :mod:`varcalc.solve`; this module does not import it).
    """
    solve = entry("solve") if solve is None else solve
    if sol._state is None:
        raise ValueError("sol: no discretization attached (a loaded or hand-made Solution); re-solve it")
    disc, V, z = sol._state
    problem = disc.problem
    x_fine = halve_cells(disc.x_user)
    if disc.layout.curve_ends:
        # Free end abscissae: the fine grid halves the solution's own (physical) grid, and the
        # problem's domain becomes that grid's span (the initial guess of the free ends).
        import dataclasses

        x_fine = halve_cells(sol.x)
        problem = dataclasses.replace(
            problem, domain=(float(sol.x[0]), float(sol.x[-1])), components=problem.shape if problem.is_vector else None
        )
    options = dict(params=disc.params, mode=disc.mode, warm_start=False)
    if sol.degree > 1:
        options["degree"] = sol.degree
        if disc.end_map is not None:  # the same map, its s-cells halved
            x_fine = disc.end_map.x_of_s(halve_cells(disc.x))
            options["singular_ends"] = {e: k for e, k in zip(("left", "right"), disc.end_map.powers) if k > 1}
    elif problem.order == 1:
        options["singular_ends"] = disc.singular_ends  # the same end rules as the coarse solve
    guess = sol
    if problem.slope_bound is not None:
        # A slope bound's barrier needs a start strictly inside, and the solution sits on its bounds
        # (to ~1e-10, and the value box's lift would flatten it onto them): start the fine solve
        # where the coarse one started (its strictly feasible guess, piecewise linear in between).
        x_c, g_c = np.asarray(disc.x_user), np.asarray(sol.guess, dtype=np.float64).reshape(-1)
        guess = lambda x: np.interp(x, x_c, g_c)  # noqa: E731 - (a slope bound needs a scalar f)
    fine = solve(problem, grid=x_fine, guess=guess, **options)
    q = element_order(sol)
    richardson = 2.0**q / (2.0**q - 1.0)
    value_error = abs(sol.value - fine.value) * richardson
    n = sol.x.size
    f_coarse = np.asarray(sol.f).reshape(n, -1)
    f_fine = np.asarray(fine.f).reshape(2 * n - 1, -1)[::2]
    f_error = float(np.max(np.abs(f_coarse - f_fine))) * richardson
    indicator = _cell_indicator(sol, fine)
    if not fine.converged:  # no estimate from a failed fine solve (``est.fine.message`` says why)
        value_error, f_error = np.nan, np.nan
    return ErrorEstimate(value_error=float(value_error), f_error=f_error, order=q, fine=fine, cell_indicator=indicator)


two_grid = error_estimate  # its former name


def _cell_energies(sol, V=None, z=None):
    """Energies of the cells of ``sol``'s discrete Lagrangian, (n-1,): at its solution, or at the
    unknowns ``V`` (d, n), ``z`` given on its grid."""
    disc, V_sol, z_sol = sol._state
    V = V_sol if V is None else V
    z = z_sol if z is None else z
    key = (disc.layout.key(disc.problem), disc.blocks, disc.layout.degree)
    fn = cache.get(("cells",) + key, lambda: jax.jit(disc.functional.cell_energies))
    d_el = disc.layout.d_el
    return np.asarray(fn(jnp.asarray(V[:d_el]), jnp.asarray(disc.x), jnp.asarray(z), disc.aux()))


def _cell_indicator(coarse, fine):
    """``|E_i(f_{h/2} at the coarse nodes) - E'_{2i} - E'_{2i+1}|``: both sides at one set of
    nodal values, so a cell's indicator is what halving it gains, and they add up to about
    ``J_h - J_{h/2}``.  (Coarse energies at the coarse solution instead mislocalise: their
    differences are dominated by the solution's change, e.g. all at a singular end.)"""
    _, Vf, zf = fine._state
    if coarse.degree > 1:  # interior GLL rows do not nest: compare at each grid's own solution
        E = _cell_energies(coarse)
    else:
        E = _cell_energies(coarse, np.asarray(Vf)[:, ::2], zf)
    Ef = _cell_energies(fine)
    return np.abs(E - (Ef[0::2] + Ef[1::2]))
