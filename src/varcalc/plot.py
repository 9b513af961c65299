"""Figures of a solution: the extremal (with exact solution and guess) and the Newton history.

matplotlib is imported here only, so ``import varcalc`` stays light; nothing calls ``show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_solution"]


def plot_solution(sol, path=None, *, exact=None, ax=None, show_guess=True, invert_yaxis=False, labels=None):
    import matplotlib
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    exact = exact if exact is not None else getattr(sol.problem, "exact", None)
    F = sol.f.reshape(sol.x.size, -1)
    m = F.shape[1]
    ax_curve = None
    if ax is None:
        # Registered with pyplot so that a user's plt.show() displays it; we never call show().
        if m == 2:  # a planar curve: also draw it in the (f_0, f_1) plane
            fig = plt.figure(figsize=(15, 4.2), layout="constrained")
            ax_f, ax_curve, ax_h = fig.subplots(1, 3, width_ratios=[1.4, 1, 1])
        else:
            fig = plt.figure(figsize=(11, 4.2), layout="constrained")
            ax_f, ax_h = fig.subplots(1, 2, width_ratios=[1.6, 1])
    else:
        ax_f, ax_h = ax
        fig = ax_f.figure
    name = getattr(sol.problem, "name", "extremal")
    if labels is None:
        labels = ["f"] if m == 1 else [f"$f_{j}$" for j in range(m)]
    if len(labels) != m:
        raise ValueError(f"labels: expected {m} component names, got {len(labels)}")
    G = np.asarray(sol.guess).reshape(sol.x.size, -1)
    xs = np.linspace(sol.x[0], sol.x[-1], 801)
    ref = None if exact is None else np.asarray(exact(xs), dtype=np.float64).reshape(xs.size, -1)
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for j in range(m):
        label = "" if m == 1 else f"{labels[j]} "
        c = colors[j % len(colors)]
        if ref is not None:
            ax_f.plot(xs, ref[:, j], "-", color="0.6", lw=4, alpha=0.6,
                      label=f"{label}exact" if (j == 0 or m > 1) else None)
        style = ".-" if sol.x.size <= 60 else "-"
        ax_f.plot(sol.x, F[:, j], style, color=c, lw=1.6, ms=4, label=f"{label}varcalc (n={sol.x.size})")
        if show_guess:
            ax_f.plot(sol.x, G[:, j], ":", color=c, lw=1.2, label=f"{label}initial guess")
    ax_f.set_xlabel("x")
    ax_f.set_ylabel(f"{labels[0]}(x)" if m == 1 else "components of f(x)")
    err = ""
    exact_value = getattr(sol.problem, "exact_value", None)
    if exact_value is not None:
        err += f" (error {sol.value - exact_value:.1e})"
    if ref is not None:
        err += f"\nmax nodal error {sol.error(exact):.2e}"
    ax_f.set_title(f"{name}: J = {sol.value:.12g}{err}", fontsize=10)
    if ax_curve is not None:
        if ref is not None:
            ax_curve.plot(ref[:, 0], ref[:, 1], "-", color="0.6", lw=4, alpha=0.6, label="exact")
        ax_curve.plot(F[:, 0], F[:, 1], "-", color=colors[2], lw=1.6, label="varcalc")
        if show_guess:
            ax_curve.plot(G[:, 0], G[:, 1], ":", color=colors[2], lw=1.2, label="initial guess")
        ax_curve.set_xlabel(labels[0])
        ax_curve.set_ylabel(labels[1])
        ax_curve.set_title("the curve", fontsize=10)
        ax_curve.grid(alpha=0.3)
        ax_curve.legend(fontsize=8)
    if invert_yaxis:
        ax_f.invert_yaxis()
    ax_f.grid(alpha=0.3)
    ax_f.legend(fontsize=8, loc="best")

    k = np.arange(sol.history.size)
    ax_h.semilogy(k, np.maximum(sol.history, 1e-300), "o-", ms=4, label="EL residual (max, per node)")
    ax_h.semilogy(k, np.maximum(sol.stats["step"], 1e-300), "s--", ms=3, label="Newton step ‖du‖∞")
    ax_h.set_xlabel("Newton iteration")
    ax_h.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax_h.set_title(f"{sol.status.name}, {sol.iterations} iteration{'s' * (sol.iterations != 1)}", fontsize=10)
    ax_h.grid(alpha=0.3, which="both")
    ax_h.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
