#!/usr/bin/env python
"""varcalc against other tools on the same problems, the same grids, the same discretization.

    python benchmarks/bench_solvers.py                 # full sizes (~4-5 min on 2 CPU cores)
    python benchmarks/bench_solvers.py --quick         # small sizes (~1 min)
    python benchmarks/bench_solvers.py --out results.md --out results.json

Problems
--------
catenary         G = f sqrt(1 + f'^2) on [-1, 1], f(±1) = cosh 1; exact f = cosh x.
                 Error: max nodal |f_i - cosh x_i|.  Uniform grid of N nodes.
brachistochrone  G = sqrt((1 + f'^2) / (2 g f)), g = 9.81, on (0, 1), f(0) = 0, f(1) = 0.6;
                 exact travel time T from the cycloid.  Error: |J_h - T| / T.  Grid
                 vc.graded_grid((0, 1), N, power=2).

Tools
-----
varcalc          vc.solve as a user calls it: the first call (tracing + XLA compilation) and the
                 median of repeated calls (jit cache warm) are reported separately.
CasADi+IPOPT     nlpsol('ipopt'), exact Hessian by CasADi AD, tol 1e-12, MUMPS, the SAME discrete
                 J_h (the same quadrature points, taken from varcalc's discretization), guess the
                 straight line.  Two transcriptions: "SX" (one flat scalar expression graph:
                 fastest solve, but building the NLP -- CasADi's symbolic Hessian and its
                 sparsity -- grows superlinearly in N) and "MX-map" (one per-cell SX function
                 mapped over the cells: builds in seconds, evaluates slower).  The solve time
                 is the median of repeated solves; the build time is in the notes.
L-BFGS-B         scipy.optimize.minimize with the jitted JAX value_and_grad of the same J_h
                 (compile excluded), capped by --lbfgs-maxiter and --lbfgs-max-seconds.
solve_bvp        scipy.integrate.solve_bvp on the Euler-Lagrange equation f f'' = 1 + f'^2
                 (catenary only) at matched accuracy: the loosest tol in 1e-4 .. 1e-12 whose
                 max nodal error is <= varcalc's error at the main N.

The column "ratio" is the tool's time divided by varcalc's repeated-call time on the same
problem and N (> 1: varcalc is faster).  Times are wall-clock seconds, including the transfer of
the solution to numpy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import varcalc as vc

G_ACCEL = 9.81
COSH1 = math.cosh(1.0)
BRACH_END = 0.6


# ----------------------------------------------------------------------------- problems
def _catenary_G(f, df, x):
    return f * jnp.sqrt(1.0 + df**2)


def _brach_G(f, df, x):
    return jnp.sqrt((1.0 + df**2) / (2.0 * G_ACCEL * f))


CATENARY = vc.Problem(_catenary_G, (-1.0, 1.0), bc={"left": COSH1, "right": COSH1}, name="catenary")
BRACH = vc.Problem(_brach_G, (0.0, 1.0), bc={"left": 0.0, "right": BRACH_END}, name="brachistochrone")


def brach_exact_time(xe=1.0, ye=BRACH_END, g=G_ACCEL):
    """Cycloid x = R(θ - sin θ), y = R(1 - cos θ) through (xe, ye): T = θ_end sqrt(R/g)."""
    from scipy.optimize import brentq

    th = brentq(
        lambda t: (1 - math.cos(t)) / (t - math.sin(t)) - ye / xe,
        1e-3,
        2 * math.pi - 1e-12,
        xtol=1e-15,
        rtol=4 * np.finfo(float).eps,
    )
    R = xe / (th - math.sin(th))
    return th * math.sqrt(R / g)


def catenary_grid(n):
    return vc.uniform_grid(CATENARY.domain, n)


def brach_grid(n):
    return vc.graded_grid(BRACH.domain, n, power=2)


# ----------------------------------------------------------------------------- quadrature
def quadrature_blocks(problem, grid):
    """varcalc's quadrature on ``grid`` as a list of (start, stop, t, s, w): cells start..stop-1
    share the rule (t, s = 1 - t, w) on [0, 1].  Taken from varcalc's own discretization so
    that every tool minimises the same J_h."""
    from varcalc.solve import discretize

    disc = discretize(problem, grid=grid)
    if hasattr(disc, "blocks"):  # CellBlock(start, stop, rule_name) with .rule
        return [(b.start, b.stop, *(np.asarray(a, float) for a in (b.rule.t, b.rule.s, b.rule.w))) for b in disc.blocks]
    if hasattr(disc, "points"):  # older layout: flat per-point arrays cell, t, s, w
        p = disc.points
        cell, t, s, w = (np.asarray(a) for a in (p.cell, p.t, p.s, p.w))
        ncell = grid.size - 1
        counts = np.bincount(cell, minlength=ncell)
        order = np.argsort(cell, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        rules = [tuple(t[order[starts[e] : starts[e + 1]]]) for e in range(ncell)]
        blocks, e0 = [], 0
        for e in range(1, ncell + 1):
            if e == ncell or rules[e] != rules[e0]:
                sl = order[starts[e0] : starts[e0 + 1]]
                blocks.append((e0, e, t[sl], s[sl], w[sl]))
                e0 = e
        return blocks
    raise RuntimeError("cannot read varcalc's quadrature (discretize() has neither .blocks nor .points)")


def flat_points(blocks):
    """(cell, t, s, w) per quadrature point, concatenated over blocks."""
    cell, t, s, w = [], [], [], []
    for a, b, tb, sb, wb in blocks:
        k = b - a
        cell.append(np.repeat(np.arange(a, b), tb.size))
        t.append(np.tile(tb, k))
        s.append(np.tile(sb, k))
        w.append(np.tile(wb, k))
    return tuple(np.concatenate(v) for v in (cell, t, s, w))


def is_midpoint(blocks, ncell):
    return len(blocks) == 1 and blocks[0][:2] == (0, ncell) and blocks[0][2].size == 1 and blocks[0][2][0] == 0.5


def jax_objective(G, grid, blocks, left, right):
    """J_h(u) over the interior nodes u, in plain JAX (for L-BFGS-B and cross-checks)."""
    x = jnp.asarray(grid)
    h = jnp.diff(x)
    cell, t, s, w = (jnp.asarray(a) for a in flat_points(blocks))
    # Measure x from the nearer cell end, as varcalc does (points 1e-45 from an end).
    xq = jnp.where(t <= 0.5, x[cell] + t * h[cell], x[cell + 1] - s * h[cell])
    wh = w * h[cell]

    def J(u):
        f = jnp.concatenate([jnp.array([left]), u, jnp.array([right])])
        uL, uR = f[cell], f[cell + 1]
        fq = s * uL + t * uR
        dq = (uR - uL) / h[cell]
        return jnp.sum(wh * G(fq, dq, xq))

    return J


# ----------------------------------------------------------------------------- timing helpers
def median_time(fn, repeats, budget_s=20.0, min_runs=1):
    """Run ``fn`` up to ``repeats`` times (stopping once ``budget_s`` is spent, after
    ``min_runs``); return (median seconds, last result, runs)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= min_runs and sum(times) > budget_s:
            break
    return statistics.median(times), out, len(times)


def fmt_time(t):
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return "-"
    if t >= 100:
        return f"{t:.0f}"
    if t >= 1:
        return f"{t:.2f}"
    if t >= 0.01:
        return f"{t:.3f}"
    return f"{t:.2g}"


def fmt_err(e):
    if e is None or (isinstance(e, float) and math.isnan(e)):
        return "-"
    return f"{e:.1e}"


def fmt_ratio(r):
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "-"
    return f"{r:.2g}" if r < 10 else f"{r:.0f}"


def log(msg):
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- tools
def run_varcalc(problem, grid_kw, error_fn, repeats, label):
    """First call and median of repeated calls of vc.solve, as a user calls it."""
    t0 = time.perf_counter()
    sol = vc.solve(problem, **grid_kw)
    first = time.perf_counter() - t0
    inner_times = []

    def once():
        s = vc.solve(problem, **grid_kw)
        inner_times.append(float(s.stats.get("time", float("nan"))))  # the compiled loop alone
        return s

    rep, sol, runs = median_time(once, repeats, budget_s=60.0, min_runs=min(repeats, 3))
    err = error_fn(sol)
    inner = statistics.median(inner_times)
    it = int(sol.iterations)
    quad = ", ".join(f"{k} x{v}" for k, v in getattr(sol, "quadrature", {}).items())
    notes_rep = (
        f"{it} Newton it, {'converged' if sol.converged else 'NOT converged: ' + str(sol.status)}; "
        f"median of {runs}; compiled loop {fmt_time(inner)} s ({1e3 * inner / max(it, 1):.3g} ms/it), "
        f"rest of vc.solve (checks, setup) {fmt_time(max(rep - inner, 0.0))} s"
    )
    if quad and len(getattr(sol, "quadrature", {})) > 1:
        notes_rep += f"; quadrature {quad}"
    return [
        dict(
            problem=label,
            N=sol.x.size,
            tool="varcalc (first call, incl. compile)",
            time=first,
            error=err,
            notes="first call at this N in this process: trace + XLA compile + solve",
        ),
        dict(
            problem=label,
            N=sol.x.size,
            tool="varcalc (repeated call)",
            time=rep,
            error=err,
            notes=notes_rep,
            iterations=it,
            converged=bool(sol.converged),
            is_reference=True,
        ),
    ], sol


def casadi_build(kind, G_cas, grid, blocks, left, right):
    """Build the NLP min J_h(u) over interior nodes; return (solver, build seconds)."""
    import casadi as ca

    n = grid.size
    h = np.diff(grid)
    t0 = time.perf_counter()
    if kind == "SX":
        u = ca.SX.sym("u", n - 2)
        f = ca.vertcat(left, u, right)
        if is_midpoint(blocks, n - 1):  # vectorised slices: f_mid, f' per cell
            fL, fR = f[:-1], f[1:]
            xm = ca.DM(0.5 * (grid[:-1] + grid[1:]))
            J = ca.dot(ca.DM(h), G_cas(0.5 * (fL + fR), (fR - fL) / ca.DM(h), xm))
        else:
            cell, t, s, w = flat_points(blocks)
            uL, uR = f[cell.tolist()], f[(cell + 1).tolist()]
            hc = h[cell]
            xq = np.where(t <= 0.5, grid[cell] + t * hc, grid[cell + 1] - s * hc)
            J = ca.dot(ca.DM(w * hc), G_cas(ca.DM(s) * uL + ca.DM(t) * uR, (uR - uL) / ca.DM(hc), ca.DM(xq)))
    elif kind == "MX-map":
        u = ca.MX.sym("u", n - 2)
        f = ca.vertcat(left, u, right)
        J = 0
        for a, b, tb, sb, wb in blocks:
            ul, ur, hh, xl = (ca.SX.sym(nm) for nm in ("uL", "uR", "h", "xL"))
            fq = ca.DM(sb) * ul + ca.DM(tb) * ur
            dq = (ur - ul) / hh
            # x_L + t h near the left cell end, x_R - s h near the right one (as varcalc).
            xq = xl + ca.DM(np.where(tb <= 0.5, tb, 1.0)) * hh - ca.DM(np.where(tb <= 0.5, 0.0, sb)) * hh
            cellfun = ca.Function("cell", [ul, ur, hh, xl], [hh * ca.dot(ca.DM(wb), G_cas(fq, dq, xq))])
            F = cellfun.map(b - a)
            J = J + ca.sum2(F(f[a:b].T, f[a + 1 : b + 1].T, ca.DM(h[a:b]).T, ca.DM(grid[a:b]).T))
    else:
        raise ValueError(kind)
    opts = {"ipopt.print_level": 0, "print_time": False, "ipopt.sb": "yes", "ipopt.tol": 1e-12, "ipopt.max_iter": 3000}
    S = ca.nlpsol("S", "ipopt", {"x": u, "f": J}, opts)
    return S, time.perf_counter() - t0


def run_casadi(kind, G_cas, grid, blocks, left, right, u0, error_fn, repeats, label, budget_s):
    S, build = casadi_build(kind, G_cas, grid, blocks, left, right)

    def once():
        r = S(x0=u0)
        return np.concatenate([[left], np.asarray(r["x"]).ravel(), [right]]), float(r["f"])

    t, (U, J), runs = median_time(once, repeats, budget_s=budget_s)
    st = S.stats()
    err = error_fn(U, J)
    notes = f"{st['return_status']}, {st['iter_count']} it; build NLP {fmt_time(build)} s; median of {runs}"
    return dict(
        problem=label,
        N=grid.size,
        tool=f"CasADi+IPOPT ({kind})",
        time=t,
        error=err,
        notes=notes,
        build_time=build,
        iterations=int(st["iter_count"]),
        status=st["return_status"],
    )


def run_lbfgs(G, grid, blocks, left, right, u0, error_fn, maxiter, max_seconds, label, bounds=None):
    from scipy.optimize import minimize

    vg = jax.jit(jax.value_and_grad(jax_objective(G, grid, blocks, left, right)))

    def fg(u):
        v, g = vg(u)
        return float(v), np.asarray(g, dtype=np.float64)

    fg(u0)  # compile outside the timing
    deadline = [0.0]
    hit_time = [False]

    def callback(intermediate_result):
        if time.perf_counter() > deadline[0]:
            hit_time[0] = True
            raise StopIteration

    deadline[0] = time.perf_counter() + max_seconds
    t0 = time.perf_counter()
    r = minimize(
        fg,
        u0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=callback,
        options=dict(maxiter=maxiter, maxfun=10 * maxiter, gtol=1e-12, ftol=0.0),
    )
    t = time.perf_counter() - t0
    U = np.concatenate([[left], r.x, [right]])
    err = error_fn(U, float(r.fun))
    why = f"stopped at the {max_seconds:g} s cap" if hit_time[0] else str(r.message)
    notes = f"{r.nit} it, {r.nfev} evals; {why}; 1 run, jit compile excluded"
    return dict(
        problem=label,
        N=grid.size,
        tool="L-BFGS-B (scipy, JAX grad)",
        time=t,
        error=err,
        notes=notes,
        iterations=int(r.nit),
    )


def run_solve_bvp(target_err, repeats, label):
    """solve_bvp on f'' = (1 + f'^2)/f at the loosest tol matching ``target_err``."""
    from scipy.integrate import solve_bvp

    def fun(x, y):
        return np.vstack([y[1], (1.0 + y[1] ** 2) / y[0]])

    def bc(ya, yb):
        return np.array([ya[0] - COSH1, yb[0] - COSH1])

    x0 = np.linspace(-1.0, 1.0, 11)
    y0 = np.vstack([np.full(x0.size, COSH1), np.zeros(x0.size)])
    xs = np.linspace(-1.0, 1.0, 20001)

    def solve(tol):
        return solve_bvp(fun, bc, x0, y0, tol=tol, max_nodes=1_000_000)

    chosen = None
    for k in range(4, 13):
        tol = 10.0**-k
        r = solve(tol)
        err = float(np.max(np.abs(r.y[0] - np.cosh(r.x))))
        if r.status == 0 and err <= target_err:
            chosen = tol
            break
    if chosen is None:
        return dict(
            problem=label,
            N=None,
            tool="solve_bvp (scipy, E-L ODE)",
            time=float("nan"),
            error=err,
            notes=f"no tol down to 1e-12 reached error {target_err:.1e}",
        )
    t, r, runs = median_time(lambda: solve(chosen), repeats, budget_s=20.0)
    err = float(np.max(np.abs(r.y[0] - np.cosh(r.x))))
    err_dense = float(np.max(np.abs(r.sol(xs)[0] - np.cosh(xs))))
    notes = (
        f"tol={chosen:.0e} (loosest with nodal error <= varcalc's {target_err:.1e}); "
        f"{r.x.size} nodes (adaptive, 4th order); error of its C1 interpolant {err_dense:.1e}; "
        f"median of {runs}"
    )
    return dict(problem=label, N=int(r.x.size), tool="solve_bvp (scipy, E-L ODE)", time=t, error=err, notes=notes)


# ----------------------------------------------------------------------------- benchmarks
def catenary_section(args, rows, summary):
    import casadi as ca

    sizes = sorted(set(args.scaling_n) | {args.catenary_n})
    err_fn = lambda U, J=None: float(np.max(np.abs(U - np.cosh(xg))))  # noqa: E731
    main_err = None
    ref_times = {}
    for n in sizes:
        xg = catenary_grid(n)
        label = "catenary"
        log(f"catenary N={n}: varcalc")
        vrows, sol = run_varcalc(
            CATENARY, dict(n=n), lambda s: float(np.max(np.abs(s.f - np.cosh(s.x)))), args.repeats, label
        )
        assert np.array_equal(sol.x, xg), "varcalc's grid differs from the benchmark's"
        rows += vrows
        ref_times[n] = vrows[1]["time"]
        if n == args.catenary_n:
            main_err = vrows[1]["error"]
        blocks = quadrature_blocks(CATENARY, xg)
        # Cross-check: the competitors' J_h equals varcalc's at varcalc's solution.
        Jx = float(jax.jit(jax_objective(_catenary_G, xg, blocks, COSH1, COSH1))(jnp.asarray(sol.f[1:-1])))
        vrows[1]["notes"] += f"; J_h(varcalc) - J_h(benchmark transcription) = {sol.value - Jx:.1e}"
        u0 = np.full(n - 2, COSH1)
        for kind in args.casadi:
            cap = args.casadi_sx_max_n if kind == "SX" else args.casadi_mx_max_n
            tool = f"CasADi+IPOPT ({kind})"
            if n > cap:
                rows.append(
                    dict(
                        problem=label,
                        N=n,
                        tool=tool,
                        time=None,
                        error=None,
                        notes=f"skipped: N > --casadi-{kind.split('-')[0].lower()}-max-n={cap}"
                        + (
                            " (SX NLP build: ~1.5 s at 1e4, ~16-20 s at 1e5, several GB; "
                            "1e6 not attempted, est. >= 3 min)"
                            if kind == "SX"
                            else ""
                        ),
                    )
                )
                continue
            log(f"catenary N={n}: {tool}")
            G_cas = lambda f, d, x: f * ca.sqrt(1 + d**2)  # noqa: E731
            rows.append(
                run_casadi(
                    kind, G_cas, xg, blocks, COSH1, COSH1, u0, err_fn, args.repeats, label, args.competitor_budget
                )
            )
        if n == args.catenary_n and not args.no_lbfgs:
            log(f"catenary N={n}: L-BFGS-B")
            rows.append(
                run_lbfgs(
                    _catenary_G, xg, blocks, COSH1, COSH1, u0, err_fn, args.lbfgs_maxiter, args.lbfgs_max_seconds, label
                )
            )
        if n == args.catenary_n and not args.no_bvp:
            log(f"catenary N={n}: solve_bvp at matched accuracy")
            r = run_solve_bvp(main_err, args.repeats, label)
            r["N_ref"] = n
            rows.append(r)
    lo, hi = min(args.scaling_n), max(args.scaling_n)
    if lo in ref_times and hi in ref_times and lo != hi:
        growth = ref_times[hi] / ref_times[lo]
        summary.append(
            f"Cost growth (catenary, varcalc repeated call): t(N={fmt_n(hi)}) / t(N={fmt_n(lo)}) = "
            f"{ref_times[hi]:.3g} s / {ref_times[lo]:.3g} s = {growth:.0f} "
            f"(N grew {hi / lo:.0f}x; target <= {1.3 * hi / lo:.0f})"
        )
        summary_data["cost_growth"] = dict(
            n_small=lo, n_large=hi, t_small=ref_times[lo], t_large=ref_times[hi], ratio=growth
        )


def brach_section(args, rows, summary):
    import casadi as ca

    T = brach_exact_time()
    label = "brachistochrone"
    err_fn = lambda U, J: abs(J - T) / T  # noqa: E731
    G_cas = lambda f, d, x: ca.sqrt((1 + d**2) / (2 * G_ACCEL * f))  # noqa: E731
    for n in sorted(set(args.brach_n)):
        xg = brach_grid(n)
        log(f"brachistochrone N={n}: varcalc")
        vrows, sol = run_varcalc(BRACH, dict(grid=xg), lambda s: abs(s.value - T) / T, args.repeats, label)
        rows += vrows
        blocks = quadrature_blocks(BRACH, xg)
        npts = sum((b - a) * tb.size for a, b, tb, _, _ in blocks)
        Jx = float(jax.jit(jax_objective(_brach_G, xg, blocks, 0.0, BRACH_END))(jnp.asarray(sol.f[1:-1])))
        vrows[1]["notes"] += (
            f"; {npts} quadrature points; J_h(varcalc) - J_h(benchmark transcription) = {sol.value - Jx:.1e}"
        )
        u0 = BRACH_END * (xg[1:-1] - xg[0]) / (xg[-1] - xg[0])
        for kind in args.casadi:
            cap, flag = (
                (args.casadi_sx_max_n_brach, "--casadi-sx-max-n-brach")
                if kind == "SX"
                else (args.casadi_mx_max_n, "--casadi-mx-max-n")
            )
            tool = f"CasADi+IPOPT ({kind})"
            if n > cap:
                why = " (SX NLP build: ~15 s at 1e4, > 8 min at 1e5 with 4e5 quadrature points)" if kind == "SX" else ""
                rows.append(
                    dict(problem=label, N=n, tool=tool, time=None, error=None, notes=f"skipped: N > {flag}={cap}{why}")
                )
                continue
            log(f"brachistochrone N={n}: {tool}")
            row = run_casadi(
                kind, G_cas, xg, blocks, 0.0, BRACH_END, u0, err_fn, args.repeats, label, args.competitor_budget
            )
            row["notes"] += "; no bounds (IPOPT backtracks from NaN trial points)"
            rows.append(row)
        if n == max(args.brach_n) and not args.no_lbfgs:
            log(f"brachistochrone N={n}: L-BFGS-B")
            lb = [(1e-14, None)] * (n - 2)
            row = run_lbfgs(
                _brach_G,
                xg,
                blocks,
                0.0,
                BRACH_END,
                u0,
                err_fn,
                args.lbfgs_maxiter,
                args.lbfgs_max_seconds,
                label,
                bounds=lb,
            )
            row["notes"] += "; bound f >= 1e-14 (inactive at the solution)"
            rows.append(row)
    summary.append(f"Brachistochrone: exact time T = {T:.15f} s (cycloid through (1, {BRACH_END}), g = {G_ACCEL})")


# ----------------------------------------------------------------------------- output
COLUMNS = ("problem", "N", "tool", "time [s]", "error", "ratio", "notes")


def add_ratios(rows):
    refs = {(r["problem"], r["N"]): r["time"] for r in rows if r.get("is_reference")}
    for r in rows:
        key = (r["problem"], r.get("N_ref", r["N"]))
        ref = refs.get(key)
        r["ratio"] = (r["time"] / ref) if (ref and r.get("time") is not None and not math.isnan(r["time"])) else None


def fmt_n(N):
    if isinstance(N, (int, np.integer)) and N >= 1000 and N % 10 ** int(math.log10(N)) == 0:
        return f"{N:.0e}".replace("e+0", "e")
    return str(N)


def markdown_table(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        N = r["N"]
        ncell = fmt_n(N)
        if r.get("N_ref"):
            ncell = f"{ncell} (vs varcalc {fmt_n(r['N_ref'])})"
        lines.append(
            "| "
            + " | ".join(
                [
                    r["problem"],
                    ncell,
                    r["tool"],
                    fmt_time(r["time"]),
                    fmt_err(r["error"]),
                    fmt_ratio(r.get("ratio")),
                    r.get("notes", ""),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def machine_info():
    import casadi
    import scipy

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(
        platform=platform.platform(),
        cpu=cpu,
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        varcalc=vc.__version__,
        jax=jax.__version__,
        jaxlib=getattr(__import__("jaxlib"), "__version__", "?"),
        jax_backend=jax.default_backend(),
        casadi=casadi.__version__,
        scipy=scipy.__version__,
        numpy=np.__version__,
        loadavg_start=load,
        jax_persistent_cache=str(jax.config.jax_compilation_cache_dir or "off"),
    )


def machine_lines(m):
    return [
        f"Machine: {m['platform']}; {m['cpu']}; {m['cpu_count']} CPUs; Python {m['python']}",
        f"Versions: varcalc {m['varcalc']}, jax {m['jax']} (jaxlib {m['jaxlib']}, backend {m['jax_backend']}), "
        f"casadi {m['casadi']} (IPOPT, MUMPS), scipy {m['scipy']}, numpy {m['numpy']}",
        f"Load average at start: {m['loadavg_start']}; JAX persistent compilation cache: {m['jax_persistent_cache']}",
    ]


summary_data: dict = {}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run in about a minute")
    ap.add_argument("--catenary-n", type=int, help="main catenary size (default 1e5; quick 1e4)")
    ap.add_argument(
        "--scaling-n",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="catenary sizes for the cost-growth ratio (default 1e4 1e6; quick 1e3 1e4)",
    )
    ap.add_argument("--brach-n", type=int, nargs="+", help="brachistochrone sizes (default 1e4 1e5; quick 1e3 1e4)")
    ap.add_argument("--repeats", type=int, default=5, help="repeated calls per timing (median; default 5)")
    ap.add_argument(
        "--casadi",
        choices=("SX", "MX-map", "both", "none"),
        default="both",
        help="CasADi transcriptions to run (default both)",
    )
    ap.add_argument(
        "--casadi-sx-max-n",
        type=int,
        default=100_000,
        help="catenary: skip CasADi SX above this N (its NLP build grows superlinearly; default 1e5)",
    )
    ap.add_argument(
        "--casadi-sx-max-n-brach",
        type=int,
        default=10_000,
        help="brachistochrone (4 points per cell): skip CasADi SX above this N (default 1e4)",
    )
    ap.add_argument(
        "--casadi-mx-max-n", type=int, default=100_000, help="skip CasADi MX-map above this N (default 1e5)"
    )
    ap.add_argument(
        "--competitor-budget",
        type=float,
        default=40.0,
        help="stop repeating a competitor's solve after this many seconds (default 40)",
    )
    ap.add_argument("--lbfgs-maxiter", type=int, default=5000)
    ap.add_argument("--lbfgs-max-seconds", type=float, default=30.0)
    ap.add_argument("--no-lbfgs", action="store_true")
    ap.add_argument("--no-bvp", action="store_true")
    ap.add_argument("--only", choices=("catenary", "brachistochrone"), help="run one problem only")
    ap.add_argument(
        "--out",
        action="append",
        default=[],
        help="write the results: *.json (all fields) or *.md (the table); repeatable",
    )
    args = ap.parse_args(argv)

    if args.quick:
        args.catenary_n = args.catenary_n or 10_000
        args.scaling_n = args.scaling_n or [1_000, 10_000]
        args.brach_n = args.brach_n or [1_000, 10_000]
        args.repeats = min(args.repeats, 3)
        args.lbfgs_max_seconds = min(args.lbfgs_max_seconds, 5.0)
    args.catenary_n = args.catenary_n or 100_000
    args.scaling_n = args.scaling_n or [10_000, 1_000_000]
    args.brach_n = args.brach_n or [10_000, 100_000]
    args.casadi = {"both": ["SX", "MX-map"], "none": []}.get(args.casadi, [args.casadi])

    m = machine_info()
    for line in machine_lines(m):
        print(line)
    print(flush=True)

    rows, summary = [], []
    t_start = time.perf_counter()
    if args.only in (None, "catenary"):
        catenary_section(args, rows, summary)
    if args.only in (None, "brachistochrone"):
        brach_section(args, rows, summary)
    add_ratios(rows)
    wall = time.perf_counter() - t_start
    try:
        load_end = os.getloadavg()
    except OSError:
        load_end = None
    summary.append(f"Whole benchmark: {wall:.0f} s wall; load average at end: {load_end}")
    summary.append(
        "ratio = tool time / varcalc repeated-call time (same problem, same N; "
        "solve_bvp: vs varcalc at the main N). Error: catenary max nodal |f - cosh x|; "
        "brachistochrone |J_h - T|/T."
    )

    table = markdown_table(rows)
    print(table)
    print()
    for line in summary:
        print(line)

    for path in args.out:
        if path.endswith(".json"):
            with open(path, "w") as fh:
                json.dump(
                    dict(
                        machine=m,
                        args=vars(args),
                        rows=rows,
                        summary=summary,
                        **summary_data,
                        wall_s=wall,
                        loadavg_end=load_end,
                    ),
                    fh,
                    indent=1,
                    default=str,
                )
        else:
            with open(path, "w") as fh:
                fh.write("\n".join(machine_lines(m)) + "\n\n" + table + "\n\n" + "\n".join(summary) + "\n")
        log(f"wrote {path}")


if __name__ == "__main__":
    main()
