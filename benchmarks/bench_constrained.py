#!/usr/bin/env python
"""The cost of an integral constraint: the hanging chain at N = 1e5 nodes.

    python benchmarks/bench_constrained.py              # N = 1e5 (~2-3 min on 2 CPU cores, shared)
    python benchmarks/bench_constrained.py --quick      # N = 1e4 (~30 s)
    python benchmarks/bench_constrained.py --n 200000 --casadi none --out results.md

Problems (uniform grid of N nodes, midpoint rule for J and the constraint)
--------
hanging chain   problems/hanging_chain.py: G = f sqrt(1 + f'^2) on [-1, 1], f(-1) = 0,
                f(1) = 0.5, length constraint ∫ sqrt(1 + f'^2) dx = 3 (vc.Integral "length");
                exact catenary f = c cosh((x - x0)/c) + d, multiplier λ = -d; guess: the
                module's sagging parabola.
catenary,       the same integrand without a constraint, f(±1) = cosh 1 (bench_solvers.py's
fixed ends      catenary, exact cosh x; default straight-line guess): the unconstrained solve of
                the same size.
chain L = 2.2   a matched pair: the chain with L = 2.2 (constrained), and the integrand of its
(+ twin)        Lagrangian (f + λ*) sqrt(1 + f'^2) with the same ends and NO constraint ("twin"),
                whose minimiser is the same catenary (it is the stable catenary of the twin; at
                L = 3 it is the unstable one, so the catalog chain has no such twin).  Same
                solution, same guess: the ratio is what the constraint costs (bordered
                block-tridiagonal solves and the multiplier's update, plus any extra iterations).

Tools
-----
varcalc         vc.solve as a user calls it: the first call (trace + compile) and the median of
                repeated calls.
CasADi+IPOPT    the same discrete problem (midpoint rule, nodal unknowns, the length as one
                equality constraint g(u) = L_h(u) - L = 0), exact Hessian of the Lagrangian,
                tol 1e-12, MUMPS, the same guess.  "SX" (flat expression graph; its build time
                is in the notes) and "MX-map" (a per-cell function mapped over the cells).

Ratios are times divided by varcalc's constrained repeated-call time (> 1: varcalc is faster).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax.numpy as jnp  # noqa: E402
from bench_solvers import (  # noqa: E402
    COSH1,
    _catenary_G,
    add_ratios,
    fmt_n,
    fmt_time,
    log,
    machine_info,
    machine_lines,
    markdown_table,
    median_time,
    run_varcalc,
)

import varcalc as vc  # noqa: E402

hc = importlib.import_module("varcalc.problems.hanging_chain")
(A_X, A_Y), (B_X, B_Y) = hc.SUPPORTS
LENGTH = hc.LENGTH
LAMBDA = hc.multiplier  # exact λ = -d
MATCHED_L = 2.2  # a shallower chain: a stable catenary of its Lagrangian's integrand


def lagrangian_twin(problem, lam):
    """∫ (f + λ*) sqrt(1 + f'^2) dx, the same ends, no constraint: for a chain that is a stable
    catenary of this functional, its minimiser is the chain itself (same solution, same guess)."""
    lam = float(lam)
    G = lambda f, df, x: (f + lam) * jnp.sqrt(1.0 + df**2)  # noqa: E731
    bc = dict(problem.bc)
    return vc.Problem(G, problem.domain, bc=bc, exact=problem.exact, name=problem.name + "_twin")


def casadi_build(kind, grid, value):
    """min Σ h_e (f_e) sqrt(1 + f'_e²)  s.t.  Σ h_e sqrt(1 + f'_e²) = value  (midpoint rule)."""
    import casadi as ca

    n = grid.size
    h = np.diff(grid)
    t0 = time.perf_counter()
    if kind == "SX":
        u = ca.SX.sym("u", n - 2)
        f = ca.vertcat(A_Y, u, B_Y)
        fL, fR = f[:-1], f[1:]
        ds = ca.sqrt(1 + ((fR - fL) / ca.DM(h)) ** 2)
        J = ca.dot(ca.DM(h), 0.5 * (fL + fR) * ds)
        g = ca.dot(ca.DM(h), ds)
    elif kind == "MX-map":
        u = ca.MX.sym("u", n - 2)
        f = ca.vertcat(A_Y, u, B_Y)
        ul, ur, hh = (ca.SX.sym(nm) for nm in ("uL", "uR", "h"))
        ds = ca.sqrt(1 + ((ur - ul) / hh) ** 2)
        cell = ca.Function("cell", [ul, ur, hh], [hh * 0.5 * (ul + ur) * ds, hh * ds]).map(n - 1)
        Je, Le = cell(f[:-1].T, f[1:].T, ca.DM(h).T)
        J, g = ca.sum2(Je), ca.sum2(Le)
    else:
        raise ValueError(kind)
    opts = {"ipopt.print_level": 0, "print_time": False, "ipopt.sb": "yes", "ipopt.tol": 1e-12, "ipopt.max_iter": 3000}
    S = ca.nlpsol("S", "ipopt", {"x": u, "f": J, "g": g}, opts)
    return S, time.perf_counter() - t0


def run_casadi(kind, grid, u0, repeats, budget_s):
    S, build = casadi_build(kind, grid, LENGTH)

    def once():
        r = S(x0=u0, lbg=LENGTH, ubg=LENGTH)
        return (
            np.concatenate([[A_Y], np.asarray(r["x"]).ravel(), [B_Y]]),
            float(r["f"]),
            float(np.asarray(r["lam_g"]).ravel()[0]),
        )

    t, (U, J, lam), runs = median_time(once, repeats, budget_s=budget_s)
    st = S.stats()
    err = float(np.max(np.abs(U - hc.exact(grid))))
    notes = (
        f"{st['return_status']}, {st['iter_count']} it; λ = {lam:.10f} (IPOPT lam_g, same sign "
        f"convention); build NLP {fmt_time(build)} s; median of {runs}"
    )
    return dict(
        problem="hanging chain",
        N=grid.size,
        tool=f"CasADi+IPOPT ({kind})",
        time=t,
        error=err,
        notes=notes,
        build_time=build,
        iterations=int(st["iter_count"]),
        status=st["return_status"],
        multiplier=lam,
        J=J,
    ), U


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, help="number of nodes (default 1e5; --quick 1e4)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--casadi", choices=("SX", "MX-map", "both", "none"), default="both")
    ap.add_argument("--competitor-budget", type=float, default=40.0)
    ap.add_argument("--out", action="append", default=[])
    args = ap.parse_args(argv)
    n = args.n or (10_000 if args.quick else 100_000)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    kinds = {"both": ["SX", "MX-map"], "none": []}.get(args.casadi, [args.casadi])

    m = machine_info()
    for line in machine_lines(m):
        print(line)
    print(flush=True)
    t_start = time.perf_counter()

    grid = vc.uniform_grid(hc.problem.domain, n)
    rows = []

    def varcalc_rows(problem, guess, label, tool):
        exact = problem.exact(grid)
        kw = dict(n=n, guess=guess, quadrature="midpoint")
        log(f"N={n}: varcalc, {label}: {tool}")
        vrows, sol = run_varcalc(problem, kw, lambda s: float(np.max(np.abs(s.f - exact))), args.repeats, label)
        for r in vrows:
            r["tool"] = r["tool"].replace("varcalc", f"varcalc, {tool}")
            r.pop("is_reference", None)
        ws = sol.stats.get("warm_start")
        if ws:
            vrows[1]["notes"] += f"; warm start: {ws['iterations']} it on {ws['nodes']} nodes"
            vrows[1]["coarse_iterations"] = int(ws["iterations"])
        if "length" in sol.multipliers:
            vrows[1]["notes"] += (
                f"; λ = {float(sol.multipliers['length']):.10f}; length residual "
                f"{sol.constraint_residuals['length']:.1e}"
            )
        rows.extend(vrows)
        return vrows[1], sol

    # (1) The catalog chain (L = 3) and (2) the fixed-ends catenary of bench_solvers.py (f(±1) =
    # cosh 1, no constraint): the same integrand and grid, different solutions.
    con, sol = varcalc_rows(hc.problem, hc.guess, "hanging chain", "constrained")
    con["is_reference"] = True
    catenary = vc.Problem(_catenary_G, (-1.0, 1.0), bc={"left": COSH1, "right": COSH1}, exact=np.cosh, name="catenary")
    cat, _ = varcalc_rows(catenary, None, "catenary, fixed ends", "no constraint")
    # (3) A matched pair: a shallower chain (L = 2.2), a stable catenary of its Lagrangian's
    # integrand, against that integrand without the constraint: same solution, same guess.
    sup = hc.SUPPORTS
    p22, (_, _, d22) = hc.make_problem(sup, MATCHED_L, name="chain_L2.2")
    g22 = hc.sag_guess(sup[0][0], sup[0][1], sup[1][0], sup[1][1], MATCHED_L)
    m_con, _ = varcalc_rows(p22, g22, f"chain L = {MATCHED_L}", "constrained")
    m_unc, _ = varcalc_rows(lagrangian_twin(p22, -d22), g22, f"chain L = {MATCHED_L}", "no constraint (twin)")

    u0 = hc.guess(grid)[1:-1]
    for kind in kinds:
        log(f"N={n}: CasADi+IPOPT ({kind})")
        row, U = run_casadi(kind, grid, u0, args.repeats, args.competitor_budget)
        row["notes"] += f"; max |U - U_varcalc| = {np.max(np.abs(U - sol.f)):.1e}"
        rows.append(row)

    add_ratios(rows)
    table = markdown_table(rows)

    def cost(c, u):
        it = lambda r: (
            f"{r['iterations']} Newton it"
            + (  # noqa: E731
                f" + {r['coarse_iterations']} coarse" if "coarse_iterations" in r else ""
            )
        )
        return f"{c['time']:.3g} s ({it(c)}) / {u['time']:.3g} s ({it(u)}) = {c['time'] / u['time']:.2f}x"

    lam = float(sol.multipliers["length"])
    summary = [
        f"Constraint cost, N = {fmt_n(n)} (varcalc repeated calls, target <= 2x): catalog chain vs "
        f"fixed-ends catenary: {cost(con, cat)}",
        f"Matched pair (chain L = {MATCHED_L} vs its Lagrangian's integrand, same solution and guess): "
        f"{cost(m_con, m_unc)}",
        f"Multiplier (catalog chain): varcalc λ = {lam:.12f}, exact -d = {LAMBDA:.12f}, difference {lam - LAMBDA:.1e}",
        f"Whole benchmark: {time.perf_counter() - t_start:.0f} s wall",
        "ratio = tool time / varcalc constrained repeated-call time on the catalog chain; "
        "error = max nodal |f - exact|.",
    ]
    print(table)
    print()
    for line in summary:
        print(line)
    for path in args.out:
        with open(path, "w") as fh:
            if path.endswith(".json"):
                json.dump(dict(machine=m, rows=rows, summary=summary), fh, indent=1, default=str)
            else:
                fh.write("\n".join(machine_lines(m)) + "\n\n" + table + "\n\n" + "\n".join(summary) + "\n")


if __name__ == "__main__":
    main()
