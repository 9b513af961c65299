"""What ``varcalc solve`` / ``varcalc plots`` need for a planar problem module.

A planar module defines ``problem`` (a :class:`~varcalc.planar.PlanarProblem`) and optionally
``n`` (mesh resolution), ``element`` ("P1"/"P2"), ``guess``, ``params``, ``solve_options``
(more keyword arguments of :func:`~varcalc.planar.solve_planar`) and ``plot_options``.
"""

from __future__ import annotations

from .problem import PlanarProblem

__all__ = ["is_planar", "solve_module", "report"]


def is_planar(module) -> bool:
    return isinstance(getattr(module, "problem", None), PlanarProblem)


def solve_module(module, *, n=None, max_iter=None, verbose=False):
    """Solve a planar problem module with its own defaults (``n``, ``element``, ...)."""
    from ..newton import Newton
    from .solve import solve_planar

    n = n if n is not None else getattr(module, "n", None)
    problem = module.problem
    if n is not None and hasattr(module, "problem_for"):  # domains that depend on the resolution
        problem = module.problem_for(n)
    options = dict(getattr(module, "solve_options", None) or {})
    options.setdefault("element", getattr(module, "element", "P1"))
    for name in ("guess", "params"):
        if getattr(module, name, None) is not None:
            options.setdefault(name, getattr(module, name))
    solver = Newton(max_iter=max_iter) if max_iter else None
    return solve_planar(problem, n=n, solver=solver, verbose=verbose, **options)


def report(sol, elapsed) -> str:
    from ..cli import summary_lines

    lines = summary_lines(
        sol,
        elapsed,
        f"{sol.element}, {len(sol.nodes)} nodes, {len(sol.triangles)} triangles",
        lambda: f"  max nodal error vs exact: {sol.error():.3e}, L2 error {sol.l2_error():.3e}",
    )
    st = sol.stats
    lines.append(
        f"  linear solver: {st['linear_solver']} ({st['n_free']} unknowns, {st['nnz']} nonzeros), "
        f"time: derivatives {st['time_derivatives_total']:.2f} s, linear {st['time_linear_total']:.2f} s"
    )
    for lev in st.get("sequence", []):
        lines.append(f"  grid sequencing: {lev['nodes']} nodes, {lev['iterations']} iterations, {lev['time']:.2f} s")
    if not sol.converged:
        lines.append(f"  {sol.status.name}: {sol.message}")
    return "\n".join(lines)
