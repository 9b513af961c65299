"""Two-grid error estimate of a planar solution (``sol.error_estimate``), the 2-D counterpart of
:func:`varcalc.estimate.error_estimate`, returning the same :class:`~varcalc.estimate.ErrorEstimate`.

The mesh is refined uniformly (every triangle cut into four by its edge midpoints, h halved), the
problem solved again there from the coarse solution (a few Newton steps), and Richardson
extrapolation applied: ``|J_h - J| ≈ |J_h - J_{h/2}| · 2^q / (2^q - 1)`` with the energy order
``q`` (2 for P1, 4 for P2: measured in ``tests/test_planar.py``), and the same for the nodal
values at the coarse vertices with the nodal order (2 for P1, 3 for P2).  ``cell_indicator`` (T,):
per coarse triangle, ``|E_T - Σ E_children|`` with both sides at the fine solution (coarse
energies at the fine values on the coarse vertices): where refining gains the most, the indicator
an adaptive refinement splits by.

On a curved boundary (Disk, Annulus) the new boundary nodes are put on the curve, so the fine
mesh approximates the domain better, as a finer mesh of it would: the estimate includes the
error of the domain's approximation.
"""

from __future__ import annotations

import numpy as np

from ..estimate import ErrorEstimate

__all__ = ["error_estimate"]

VALUE_ORDER = {"P1": 2, "P2": 4}
NODAL_ORDER = {"P1": 2, "P2": 3}


def error_estimate(sol) -> ErrorEstimate:
    from .assemble import Kernels, edge_midpoints, refine_uniform
    from .solve import solve_planar

    disc = sol._state
    if disc is None:
        raise ValueError("sol: no discretization attached (a loaded PlanarSolution); re-solve it")
    fine_mesh, parent = refine_uniform(disc.mesh)
    nv = len(disc.mesh.nodes)
    if sol.element == "P1":  # the coarse P1 function at the fine nodes: exact midpoint averages
        _, _, ukey = edge_midpoints(disc.mesh)
        a, b = ukey // nv, ukey % nv
        guess = np.concatenate([sol.u, 0.5 * (sol.u[a] + sol.u[b])])
    else:
        guess = lambda pts: np.nan_to_num(sol(pts))  # noqa: E731 - rounding at the boundary
    fine = solve_planar(
        sol.problem,
        mesh=fine_mesh,
        element=sol.element,
        guess=guess,
        params=sol.params,
        linear_solver=sol.stats.get("linear_solver", "auto"),
    )
    q, qn = VALUE_ORDER[sol.element], NODAL_ORDER[sol.element]
    value_error = abs(sol.value - fine.value) * 2.0**q / (2.0**q - 1.0)
    u_c = np.asarray(sol.u)[:nv]
    u_f = np.asarray(fine.u)[:nv]  # the fine mesh numbers the coarse vertices first
    u_error = float(np.max(np.abs(u_c - u_f))) * 2.0**qn / (2.0**qn - 1.0)
    # per coarse triangle: coarse energy of the fine values at its vertices vs its children's
    wp = sol.problem.with_params
    E_f = Kernels(sol.problem.integrand, fine._state, wp).energies(fine.u, sol.params)
    # P2 midpoint nodes do not nest: there each mesh is taken at its own solution
    E_c = Kernels(sol.problem.integrand, disc, wp).energies(u_f if sol.element == "P1" else sol.u, sol.params)
    indicator = np.abs(E_c - np.bincount(parent, E_f, minlength=len(E_c)))
    if not fine.converged:
        value_error, u_error = np.nan, np.nan
    return ErrorEstimate(value_error=float(value_error), f_error=u_error, order=q, fine=fine, cell_indicator=indicator)
