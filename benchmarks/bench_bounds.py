#!/usr/bin/env python
"""Bounds (issue 16): obstacle and slope-bound problems with exact solutions, against CasADi+IPOPT.

    python benchmarks/bench_bounds.py                  # N = 1001 and 10001 (~1 min on 2 cores)
    python benchmarks/bench_bounds.py --n 101 1001 --out results.md
    python benchmarks/bench_bounds.py --auto 1e-8     # vc.solve(tol=) on the obstacles against P1

Problems (P1, uniform grid of N nodes, midpoint rule: the same discrete J_h for every tool)
--------
obstacle c      G = ½ f'² + f on [0, 1], f(0) = f(1) = 0, f >= c.  Unconstrained minimiser
                x(x - 1)/2 (minimum -1/8): c = -0.2 leaves the bound inactive; for c > -1/8 the
                contact set is [a, 1 - a], a = sqrt(-2c), with f = x²/2 - a x on [0, a].
string          the catalog's string over a parabolic bump (problems/string_obstacle.py).
slope           G = ½ (f' - 2x)² on [0, 1], f(0) = 0, free right end, f' <= 1: f' = min(2x, 1);
                the discrete minimiser has the slopes min(2 m_i, 1) exactly (m_i the midpoints).
slope+area      G = ½ f'² with ∫ f = 0.1, f(0) = f(1) = 0, f' <= 0.5: f = x/2 on [0, 0.1], then
                x/2 - k (x - 0.1)²/2, k = 1/0.81 (the SQP step with the slope barrier).
obstacle deg p  obstacle c = -0.1 with degree-p Lagrange elements (N nodes, p(N-1) - 1 unknowns; the
                bound at the GLL nodes).  varcalc only: the IPOPT column is for P1 discretizations.

Tools
-----
varcalc         vc.solve(problem, n=N) from the default guess: the first call (compile included)
                and the median of repeated calls.
CasADi+IPOPT    the same discrete J_h (SX expression graph), bounds as IPOPT variable bounds (the
                slope bound as linear inequalities), exact Hessian, tol 1e-12, MUMPS, the same
                guess (the straight line, lifted into the bounds as varcalc lifts it).

Errors: max nodal |f - exact| (the continuous solution: discretisation error included) and the
largest difference to IPOPT's discrete solution.  Run this script from an older checkout to get
the previous method's row (its `vc.Bound` has no ``derivative``: the slope row is skipped).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_solvers import machine_info, machine_lines, median_time  # noqa: E402

import varcalc as vc  # noqa: E402


def obstacle(c):
    G = lambda f, df, x: 0.5 * df**2 + f  # noqa: E731
    problem = vc.Problem(G, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, constraints=[vc.Bound(lower=c)])

    def exact(x):
        if c <= -0.125:
            return x * (x - 1) / 2
        a = np.sqrt(-2 * c)
        return np.where(x < a, x**2 / 2 - a * x, np.where(x > 1 - a, (1 - x) ** 2 / 2 - a * (1 - x), c))

    cell = lambda fL, fR, h, m: (fR - fL) ** 2 / (2 * h) + h * (fL + fR) / 2  # noqa: E731
    return dict(problem=problem, exact=exact, cell=cell, left=0.0, right=0.0, lower=c, upper=None, slope=None)


def obstacle_degree(c, degree):
    case = obstacle(c)
    return dict(case, degree=degree)


def slope_area(A=0.1, sig=0.5):
    """Slope bound and an Integral constraint: the SQP step with the slope barrier."""
    if "derivative" not in getattr(vc.Bound, "__dataclass_fields__", {}):
        return None
    a = 3 * A / sig - 0.5
    k = 2 * sig / (1 - a) ** 2
    problem = vc.Problem(
        lambda f, df, x: 0.5 * df**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Integral(lambda f, df, x: f, A), vc.Bound(upper=sig, derivative=1)],
    )
    exact = lambda x: np.where(x < a, sig * x, sig * x - k * (x - a) ** 2 / 2)  # noqa: E731
    cell = lambda fL, fR, h, m: (fR - fL) ** 2 / (2 * h)  # noqa: E731
    return dict(problem=problem, exact=exact, cell=cell, left=0.0, right=0.0, lower=None, upper=None, slope=sig, area=A)


def string():
    so = importlib.import_module("varcalc.problems.string_obstacle")
    cell = lambda fL, fR, h, m: (fR - fL) ** 2 / (2 * h)  # noqa: E731
    return dict(
        problem=so.problem,
        exact=so.problem.exact,
        cell=cell,
        left=0.0,
        right=0.0,
        lower=so.obstacle,
        upper=None,
        slope=None,
    )


def slope():
    if "derivative" not in getattr(vc.Bound, "__dataclass_fields__", {}):
        return None
    G = lambda f, df, x: 0.5 * (df - 2 * x) ** 2  # noqa: E731
    problem = vc.Problem(G, (0.0, 1.0), bc={"left": 0.0}, constraints=[vc.Bound(upper=1.0, derivative=1)])
    exact = lambda x: np.where(x < 0.5, x**2, 0.25 + (x - 0.5))  # noqa: E731
    cell = lambda fL, fR, h, m: h * 0.5 * ((fR - fL) / h - 2 * m) ** 2  # noqa: E731
    return dict(problem=problem, exact=exact, cell=cell, left=0.0, right=None, lower=None, upper=None, slope=1.0)


def ipopt(case, x):
    """The same discrete problem by CasADi+IPOPT (SX); returns (time, nodal values, iterations, status)."""
    import casadi as ca

    n = x.size
    h, m = np.diff(x), 0.5 * (x[1:] + x[:-1])
    free_right = case["right"] is None
    u = ca.SX.sym("u", n - 1 if free_right else n - 2)
    f = ca.vertcat(case["left"], u) if free_right else ca.vertcat(case["left"], u, case["right"])
    J = ca.sum1(case["cell"](f[:-1], f[1:], ca.DM(h), ca.DM(m)))
    nlp, lbg, ubg = {"x": u, "f": J}, [], []
    if case["slope"] is not None:
        nlp["g"] = (f[1:] - f[:-1]) / ca.DM(h)
        lbg, ubg = -np.inf * np.ones(n - 1), case["slope"] * np.ones(n - 1)
    if case.get("area") is not None:  # ∫ f by the midpoint rule on each cell (= the lumped mass)
        nlp["g"] = ca.vertcat(nlp["g"], ca.sum1(ca.DM(h) * (f[:-1] + f[1:]) / 2))
        lbg, ubg = np.append(lbg, case["area"]), np.append(ubg, case["area"])
    inner = x[1:] if free_right else x[1:-1]
    lbx = -np.inf * np.ones(inner.size)
    if case["lower"] is not None:
        lo = case["lower"](inner) if callable(case["lower"]) else case["lower"] * np.ones(inner.size)
        lbx = np.asarray(lo, dtype=np.float64)
    u0 = np.maximum(np.zeros(inner.size), lbx + 1e-2)  # the straight line (zero), lifted into the bound
    if case["slope"] is not None:
        u0 = 0.5 * case["slope"] * inner  # half the bound: strictly feasible
        if not free_right:  # back to f(1) = 0 with slopes below the bound
            u0 = 0.5 * case["slope"] * np.minimum(inner, 1 - inner)
    opts = {"ipopt.print_level": 0, "print_time": False, "ipopt.sb": "yes", "ipopt.tol": 1e-12, "ipopt.max_iter": 3000}
    S = ca.nlpsol("S", "ipopt", nlp, opts)
    args = dict(x0=u0, lbx=lbx, ubx=np.inf * np.ones(inner.size))
    if lbg is not None and len(lbg):
        args.update(lbg=lbg, ubg=ubg)
    t, r, _ = median_time(lambda: S(**args), 3, budget_s=60)
    U = np.asarray(r["x"]).ravel()
    U = np.concatenate([[case["left"]], U]) if free_right else np.concatenate([[case["left"]], U, [case["right"]]])
    st = S.stats()
    return t, U, int(st["iter_count"]), st["return_status"]


def exp_obstacle(lo=-0.1):
    """½ f'² + eˣ f, f(0) = f(1) = 0, f >= lo (tests/test_bounds.py): exact value by quadrature."""
    import scipy.integrate
    import scipy.optimize

    c1 = scipy.optimize.brentq(lambda c: np.exp(c) * (1 - c) - 1 - lo, 1e-6, 1.0)
    c2 = scipy.optimize.brentq(lambda c: np.exp(c) * (2 - c) - np.e - lo, 0.0, 1 - 1e-9)
    exact = lambda x: np.where(
        x < c1,
        np.exp(x) - np.exp(c1) * x - 1,  # noqa: E731
        np.where(x > c2, np.exp(x) - np.exp(c2) * x - np.e + np.exp(c2), lo),
    )
    slope = lambda x: np.where(x < c1, np.exp(x) - np.exp(c1), np.where(x > c2, np.exp(x) - np.exp(c2), 0.0))  # noqa: E731
    J = sum(
        scipy.integrate.quad(lambda x: 0.5 * slope(x) ** 2 + np.exp(x) * exact(x), a, b, epsabs=1e-14)[0]
        for a, b in ((0.0, c1), (c1, c2), (c2, 1.0))
    )
    problem = vc.Problem(
        lambda f, df, x: 0.5 * df**2 + jnp.exp(x) * f,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Bound(lower=lo)],
    )
    return problem, exact, J


def auto_table(tol=1e-8, p1_sizes=(1001, 4001, 16001)):
    """``vc.solve(problem, tol=tol)`` (the automatic degree-p path) against P1 on uniform grids:
    |J_h - J| and max |f - exact| on a fine sampling; P1's nodes for the automatic path's J error,
    extrapolated from P1's measured order between its two largest sizes."""
    import warnings

    so = importlib.import_module("varcalc.problems.string_obstacle")
    cases = [
        ("string over a bump", so.problem, so.exact, so.problem.exact_value),
        ("½f'² + eˣf, f >= -0.1",) + exp_obstacle(),
    ]
    lines = [
        "| problem | solve | unknowns (returned / all solves) | J error | max f error | time [s] |",
        "|---|---|---|---|---|---|",
    ]
    for label, problem, exact, J in cases:
        a, b = problem.domain
        xs = np.linspace(a, b, 20001)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = vc.solve(problem, tol=tol)
        t = time.perf_counter() - t0
        hist = sol.stats["mesh_history"]
        base = [h for h in hist if h["role"] == "base"][-1]
        err_J = abs(sol.value - J)
        err_f = float(np.max(np.abs(np.asarray(sol(xs)).reshape(-1) - exact(xs))))
        lines.append(
            f"| {label} | tol={tol:g}: degree {sol.degree}, {sol.x.size} nodes, tol_met {sol.stats['tol_met']} | "
            f"{base['unknowns']} / {sum(h['unknowns'] for h in hist)} | {err_J:.1e} | {err_f:.1e} | {t:.1f} |"
        )
        errs = []
        for n in p1_sizes:
            t0 = time.perf_counter()
            s1 = vc.solve(problem, n=n)
            t1 = time.perf_counter() - t0
            errs.append(abs(s1.value - J))
            lines.append(
                f"| {label} | P1, n = {n} ({s1.status.name}) | {n - 2} | {errs[-1]:.1e} | "
                f"{float(np.max(np.abs(s1.f - exact(s1.x)))):.1e} (nodes) | {t1:.1f} |"
            )
        order = np.log(errs[-2] / errs[-1]) / np.log((p1_sizes[-1] - 1) / (p1_sizes[-2] - 1))
        n_same = (p1_sizes[-1] - 1) * (errs[-1] / err_J) ** (1 / order)
        lines.append(
            f"| {label} | P1 extrapolated (order {order:.2f} in J) to J error {err_J:.1e} | ~{n_same:,.0f} | | | |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1001, 10001])
    ap.add_argument("--no-ipopt", action="store_true")
    ap.add_argument("--out", help="write the table to this markdown file")
    ap.add_argument(
        "--auto",
        type=float,
        metavar="TOL",
        help="instead: vc.solve(problem, tol=TOL) on the obstacles against P1 (unknowns at the same J error)",
    )
    args = ap.parse_args(argv)
    if args.auto:
        text = "\n".join(machine_lines(machine_info())) + "\n\n" + auto_table(args.auto)
        print(text + f"\n\nLoad average at end: {os.getloadavg()}")
        return
    cases = [
        ("obstacle c = -0.2 (inactive)", obstacle(-0.2)),
        ("obstacle c = -0.1", obstacle(-0.1)),
        ("obstacle c = -0.01", obstacle(-0.01)),
        ("string over a bump", string()),
        ("slope f' <= 1", slope()),
        ("slope f' <= 0.5 + area", slope_area()),
        ("obstacle c = -0.1, degree 2", obstacle_degree(-0.1, 2)),
        ("obstacle c = -0.1, degree 4", obstacle_degree(-0.1, 4)),
    ]
    rows = []
    for n in args.n:
        for label, case in cases:
            if case is None:
                continue
            p = case["problem"]
            t0 = time.perf_counter()
            degree = case.get("degree", 1)
            try:
                sol = vc.solve(p, n=n, degree=degree)
            except ValueError:  # (an older checkout: no Bound with degree > 1 or with Integral)
                continue
            first = time.perf_counter() - t0
            t, sol, _ = median_time(lambda: vc.solve(p, n=n, degree=degree), 5, budget_s=30)
            err = float(np.max(np.abs(sol.f - case["exact"](sol.x))))
            row = dict(
                problem=label,
                N=n,
                tool="varcalc",
                status=sol.status.name,
                iterations=sol.iterations,
                time=t,
                first=first,
                error=err,
                vs_ipopt=None,
            )
            rows.append(row)
            if not args.no_ipopt and degree == 1:
                ti, U, it, status = ipopt(case, sol.x)
                row["vs_ipopt"] = float(np.max(np.abs(sol.f - U)))
                rows.append(
                    dict(
                        problem=label,
                        N=n,
                        tool="CasADi+IPOPT (SX)",
                        status=status,
                        iterations=it,
                        time=ti,
                        first=None,
                        error=float(np.max(np.abs(U - case["exact"](sol.x)))),
                        vs_ipopt=None,
                    )
                )
            print(f"  {label}, N = {n}: done", file=sys.stderr, flush=True)
    header = [
        "problem",
        "N",
        "tool",
        "status",
        "iterations",
        "time [s]",
        "first call [s]",
        "error vs exact",
        "max |f - f_IPOPT|",
    ]
    table = [
        [
            r["problem"],
            str(r["N"]),
            r["tool"],
            r["status"],
            str(r["iterations"]),
            f"{r['time']:.4f}",
            "" if r["first"] is None else f"{r['first']:.2f}",
            f"{r['error']:.1e}",
            "" if r["vs_ipopt"] is None else f"{r['vs_ipopt']:.1e}",
        ]
        for r in rows
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    text = (
        "\n".join(machine_lines(machine_info()))
        + "\n\n"
        + "\n".join(lines)
        + f"\n\nLoad average at end: {os.getloadavg()}"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
