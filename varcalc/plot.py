"""Figures of a solution: the extremal (with exact solution and guess) and the Newton history.

What the problem states is drawn with it: data points (:class:`~varcalc.Data`), the obstacle and
the contact nodes (:class:`~varcalc.Bound`), the target curve and the end point
(:class:`~varcalc.OnCurve`, either end), a 2-D or 3-D panel with the curve for two or three components.
matplotlib is imported here only, so ``import varcalc`` stays light; nothing calls ``show()``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_solution"]


def plot_solution(
    sol, path=None, *, exact=None, ax=None, show_guess=True, invert_yaxis=False, labels=None, equal_aspect=False
):
    import matplotlib
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    problem = sol.problem
    exact = exact if exact is not None else getattr(problem, "exact", None)
    F = sol.f.reshape(sol.x.size, -1)
    m = F.shape[1]
    ax_curve = None
    if ax is None:
        # Registered with pyplot so that a user's plt.show() displays it; we never call show().
        if m in (2, 3):  # a curve in the plane or in space: also draw it there
            fig = plt.figure(figsize=(15, 4.2), layout="constrained")
            ax_f = fig.add_subplot(1, 3, 1)
            ax_curve = fig.add_subplot(1, 3, 2, projection="3d" if m == 3 else None)
            ax_h = fig.add_subplot(1, 3, 3)
        else:
            fig = plt.figure(figsize=(11 if m == 1 else 12.5, 4.2), layout="constrained")
            ax_f, ax_h = fig.subplots(1, 2, width_ratios=[1.6, 1])
    else:
        ax_f, ax_h = ax
        fig = ax_f.figure
    name = getattr(problem, "name", "extremal")
    if labels is None:
        labels = ["f"] if m == 1 else _component_labels(sol.f.shape[1:])
    if len(labels) != m:
        raise ValueError(f"labels: expected {m} component names, got {len(labels)}")
    G = np.asarray(sol.guess).reshape(-1, m)
    x_guess = sol.guess_x if sol.guess_x is not None else sol.x
    xs = np.linspace(sol.x[0], sol.x[-1], 801)
    ref = None if exact is None else np.asarray(exact(xs), dtype=np.float64).reshape(xs.size, -1)
    # Cubic Hermite or degree-p elements: draw the interpolant (the element polynomials), mark the nodes.
    smooth = sol.slope is not None or getattr(sol, "degree", 1) > 1
    F_smooth = np.asarray(sol(xs)).reshape(xs.size, -1) if smooth else None
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for j in range(m):
        label = "" if m == 1 else f"{labels[j]} "
        c = colors[j % len(colors)]
        if ref is not None:
            ax_f.plot(xs, ref[:, j], "-", color="0.6", lw=4, alpha=0.6, label="exact" if j == 0 else None)
        if smooth:
            deg = f", p={sol.degree}" if getattr(sol, "degree", 1) > 1 else ""
            ax_f.plot(xs, F_smooth[:, j], "-", color=c, lw=1.6, label=f"{label}varcalc (n={sol.x.size}{deg})")
            ax_f.plot(sol.x, F[:, j], ".", color=c, ms=5)
        else:
            style = ".-" if sol.x.size <= 60 else "-"
            ax_f.plot(sol.x, F[:, j], style, color=c, lw=1.6, ms=4, label=f"{label}varcalc (n={sol.x.size})")
        if show_guess:
            ax_f.plot(x_guess, G[:, j], ":", color=c, lw=1.2, label="initial guess" if j == 0 else None)
    _draw_side_conditions(ax_f, sol, xs, F)
    ax_f.set_xlabel("x")
    ax_f.set_ylabel(f"{labels[0]}(x)" if m == 1 else "components of f(x)")
    err = ""
    exact_value = getattr(problem, "exact_value", None)
    if exact_value is not None:
        err += f" (error {sol.value - exact_value:.1e})"
    if ref is not None:
        err += f"\nmax nodal error {sol.error(exact):.2e}"
    extra = [f"{k} = {v:.6g}" for k, v in sol.multipliers.items() if np.ndim(v) == 0]
    if sol.end is not None:
        extra.append(f"end x = {sol.end:.6g}")
    extra = ("\nmultiplier " + ", ".join(extra)) if extra else ""
    ax_f.set_title(f"{name}: J = {sol.value:.12g}{err}{extra}", fontsize=10)
    if ax_curve is not None:
        _draw_curve(ax_curve, F, G, ref, labels, colors[2 % len(colors)], show_guess)
    if invert_yaxis:
        ax_f.invert_yaxis()
    if equal_aspect:
        ax_f.set_aspect("equal", adjustable="datalim")
    ax_f.grid(alpha=0.3)
    if m > 3:  # many components: the legend goes beside the axes
        ax_f.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax_f.legend(fontsize=8, loc="best")

    k = np.arange(sol.history.size)
    # A last step of exactly 0 (or a denormal) would stretch the log axis over 300 decades.
    floor = lambda v: np.maximum(v, 1e-17 * np.nanmax(np.abs(v), initial=1e-300))
    ax_h.semilogy(k, floor(sol.history), "o-", ms=4, label="EL residual (max, per node)")
    ax_h.semilogy(k, floor(sol.stats["step"]), "s--", ms=3, label="Newton step ‖du‖∞")
    ax_h.set_xlabel("Newton iteration")
    ax_h.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    mode = "" if sol.mode == "minimize" else f" ({sol.mode})"
    if sol.mode == "stationary" and sol.negative is not None:
        mode = f" (stationary, {sol.negative} negative direction{'s' * (sol.negative != 1)})"
    ax_h.set_title(f"{sol.status.name}{mode}, {sol.iterations} iteration{'s' * (sol.iterations != 1)}", fontsize=10)
    ax_h.grid(alpha=0.3, which="both")
    ax_h.legend(fontsize=8)
    _draw_certificate(ax_f, ax_h, sol)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _draw_certificate(ax_f, ax_h, sol):
    """The second-variation verdict in the history panel; the conjugate point on the extremal."""
    try:
        cert = sol.certificate
    except Exception:  # noqa: BLE001 - the figure must not fail on a diagnostic
        return
    text = f"{cert.verdict}\nλ_min = {cert.smallest_eigenvalue:.3g}, Legendre min = {cert.legendre_min:.3g}"
    if cert.conjugate_point is not None:
        text += f"\n{cert.jacobi} point x ≈ {cert.conjugate_point:.4g}"
        ax_f.axvline(cert.conjugate_point, color="0.4", ls="-.", lw=1.0, label=f"{cert.jacobi} point")
        ax_f.legend(fontsize=8, loc="best")
    good = cert.is_minimum
    ax_h.text(
        0.02,
        0.03,
        text,
        transform=ax_h.transAxes,
        fontsize=8,
        va="bottom",
        ha="left",
        bbox=dict(boxstyle="round", fc="#e8f4e8" if good else "#fbe9e7", ec="0.6"),
    )


def _component_labels(shape):
    if len(shape) <= 1:
        return [f"$f_{j}$" for j in range(int(np.prod(shape, dtype=int)))]
    return [f"F[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def _draw_side_conditions(ax, sol, xs, F):
    """Data points, obstacles with contact nodes, and the curve a free end must reach."""
    problem = sol.problem
    data = getattr(problem, "data", None)
    if data is not None:
        ax.plot(
            data.x, data.y.reshape(data.x.size, -1)[:, 0], "o", ms=4, mfc="none", color="k", alpha=0.7, label="data"
        )
    bound = getattr(problem, "bound", None)
    if bound is not None and not getattr(problem, "is_vector", False):  # (a vector's bounds: per component)
        lo, hi = bound.values(xs)
        for side, values in (("lower", lo), ("upper", hi)):
            if np.any(np.isfinite(values)):
                ax.fill_between(
                    xs,
                    values,
                    np.nanmin(values) if side == "lower" else np.nanmax(values),
                    color="tab:brown",
                    alpha=0.25,
                    lw=0,
                    label=f"obstacle ({side} bound)",
                )
                ax.plot(xs, values, "-", color="tab:brown", lw=1)
        mu = sol.multipliers.get(bound.name)
        if mu is not None:
            contact = np.abs(mu) > 1e-8 * (np.max(np.abs(mu)) + 1e-300)
            ax.plot(sol.x[contact], F[contact, 0], "|", color="k", ms=6, label="contact nodes")
    for end, node, where in (("left", 0, sol.start), ("right", -1, sol.end)):
        curve = problem.end_curve(end) if hasattr(problem, "end_curve") else None
        if curve is None or where is None:
            continue
        import jax

        lo_f, hi_f = ax.get_ylim()
        lo_x, hi_x = ax.get_xlim()
        # Only inside the current view: the curve should not stretch the axes.
        X, Y = np.meshgrid(np.linspace(lo_x, hi_x, 200), np.linspace(lo_f, hi_f, 200))
        Z = np.asarray(jax.vmap(jax.vmap(curve.fun))(X, Y))
        ax.contour(X, Y, Z, levels=[0.0], colors="tab:red", linewidths=1.2)
        ax.plot([], [], "-", color="tab:red", label=f"{end} end curve φ(x, f) = 0")
        ax.plot([where], [F[node, 0]], "o", color="tab:red", ms=6, label=f"free {end} end")


def _draw_curve(ax, F, G, ref, labels, color, show_guess):
    three = F.shape[1] == 3
    cols = (lambda A: (A[:, 0], A[:, 1], A[:, 2])) if three else (lambda A: (A[:, 0], A[:, 1]))
    if ref is not None:
        ax.plot(*cols(ref), "-", color="0.6", lw=4, alpha=0.6, label="exact")
    ax.plot(*cols(F), "-", color=color, lw=1.6, label="varcalc")
    if show_guess:
        ax.plot(*cols(G), ":", color=color, lw=1.2, label="initial guess")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if three:
        ax.set_zlabel(labels[2])
        ax.set_box_aspect((np.ptp(F[:, 0]) or 1, np.ptp(F[:, 1]) or 1, np.ptp(F[:, 2]) or 1))
    ax.set_title("the curve", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
