"""Plots of a planar solution: surface, contours, error, mesh, Newton history (matplotlib only)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_solution"]


def plot_solution(sol, path=None, *, component=0, max_mesh_triangles=20_000, title=None):
    """Figure with up to five panels; saved to ``path`` when given.  Returns the figure.

    Panels: the surface ``u`` (3-D), its contours, the nodal error ``u_h - u_exact`` (when the
    problem has ``exact``), the mesh (drawn when it has at most ``max_mesh_triangles`` triangles,
    else its boundary and a note), and the Newton history (pointwise residual and step, log axis).
    For vector unknowns ``component`` selects the one drawn.
    """
    import matplotlib.pyplot as plt
    import matplotlib.tri as mtri

    nv = sol.n_vertices
    P = sol.nodes[:nv]
    u = sol.u[:nv] if sol.u.ndim == 1 else sol.u[:nv, component]
    tri = mtri.Triangulation(P[:, 0], P[:, 1], sol.triangles)
    ex = getattr(sol.problem, "exact", None)
    fig = plt.figure(figsize=(15, 9))
    name = title or getattr(sol.problem, "name", "solution")
    fig.suptitle(
        f"{name}: {sol.element}, {len(sol.nodes)} nodes, J = {sol.value:.12g}, "
        f"{'converged' if sol.converged else 'NOT converged'} in {sol.iterations} Newton iterations "
        f"({sol.stats.get('linear_solver', '?')} linear solver)"
    )
    ax = fig.add_subplot(2, 3, 1, projection="3d")
    ax.plot_trisurf(tri, u, cmap="viridis", linewidth=0, antialiased=False)
    ax.set_title("u(x, y)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax = fig.add_subplot(2, 3, 2)
    cs = ax.tricontourf(tri, u, levels=20, cmap="viridis")
    ax.tricontour(tri, u, levels=20, colors="k", linewidths=0.4)
    fig.colorbar(cs, ax=ax)
    ax.set_aspect("equal")
    ax.set_title("contours of u")
    ax = fig.add_subplot(2, 3, 3)
    if ex is not None:
        ue = np.asarray(ex(P), dtype=np.float64).reshape((nv,) + sol.u.shape[1:])
        err = u - (ue if ue.ndim == 1 else ue[:, component])
        lim = max(float(np.max(np.abs(err))), 1e-300)
        cs = ax.tripcolor(tri, err, shading="gouraud", cmap="RdBu_r", vmin=-lim, vmax=lim)
        fig.colorbar(cs, ax=ax, format="%.1e")
        ax.set_title(f"error u_h - u_exact at vertices (max {sol.error():.2e})")
    else:
        ax.text(0.5, 0.5, "no exact solution", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("error")
    ax.set_aspect("equal")
    ax = fig.add_subplot(2, 3, 4)
    if len(sol.triangles) <= max_mesh_triangles:
        ax.triplot(tri, lw=0.3, color="k")
        ax.set_title(f"mesh: {nv} vertices, {len(sol.triangles)} triangles")
    else:
        from .domain import _boundary_edges

        be = _boundary_edges(sol.triangles)
        seg = P[be]
        ax.plot(seg[:, :, 0].T, seg[:, :, 1].T, "k-", lw=0.8)
        ax.set_title(f"mesh boundary ({len(sol.triangles)} triangles: too many to draw)")
    ax.set_aspect("equal")
    ax = fig.add_subplot(2, 3, 5)
    h = sol.history
    it = np.arange(len(h["residual"]))
    ax.semilogy(it, h["residual"], "o-", label="max |∇J_h| / mass (pointwise residual)")
    ax.semilogy(it, h["step"], "s-", label="‖du‖∞ (Newton step)")
    alpha = h["alpha"]
    damped = np.isfinite(alpha) & (alpha < 1)
    if damped.any():
        ax.semilogy(it[damped], h["step"][damped], "rx", ms=10, label="damped step (α < 1)")
    ax.set_xlabel("Newton iteration")
    ax.set_title("Newton history")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax = fig.add_subplot(2, 3, 6)
    keys = [
        ("time_derivatives", "JAX energy/grad/Hessians"),
        ("time_assembly", "sparse scatter"),
        ("time_linear", f"linear solve ({sol.stats.get('linear_solver', '?')})"),
        ("time_line_search", "line search"),
    ]
    bottom = np.zeros(len(it))
    for key, label in keys:
        v = np.nan_to_num(h[key])
        ax.bar(it, v, bottom=bottom, label=label)
        bottom += v
    ax.set_xlabel("Newton iteration")
    ax.set_ylabel("seconds")
    ax.set_title(f"time per iteration (total {sol.stats.get('time', np.nan):.2f} s, compile included)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
