#!/usr/bin/env python
"""High-order elements (``vc.solve(..., degree=p)``) against ``scipy.integrate.solve_bvp``.

    python benchmarks/bench_elements.py            # ~1 min on 2 CPU cores (compilation included)
    python benchmarks/bench_elements.py --repeats 9

Problem: the catenary G = f sqrt(1 + f'^2) on [-1, 1], f(±1) = cosh 1; exact f = cosh x.
Error: max |f - cosh x| at the tool's own nodes (varcalc: the cell ends; solve_bvp: its final
mesh) and, for varcalc, also on 2001 points through the element polynomials (``sol(x)``).

varcalc: compiled once (the first call, reported apart), then the best of ``--repeats`` calls
of ``vc.solve`` as a user makes them (validation, the compiled Newton loop, the transfer to numpy).
solve_bvp: the Euler-Lagrange equation f'' = (1 + f'^2) / f as a first-order system with its
analytic Jacobian, tol 1e-10, from the straight-line guess on 11 nodes; best of ``--repeats``.
Issue 4's anchor (an idle machine of this type): solve_bvp 4.8e-14 in 5.7 ms with 1081 nodes.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_bvp

import varcalc as vc

COSH1 = math.cosh(1.0)
CONFIGS = [(2, 33), (4, 9), (6, 5), (8, 5), (8, 9), (12, 3)]  # (degree p, nodes n)


def catenary():
    return vc.Problem(lambda f, df, x: f * jnp.sqrt(1.0 + df**2), (-1.0, 1.0),
                      bc={"left": COSH1, "right": COSH1}, exact=np.cosh, name="catenary")


def best_of(fun, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fun()
        times.append(time.perf_counter() - t)
    return min(times), out


def run_varcalc(problem, p, n, repeats):
    t0 = time.perf_counter()
    first = vc.solve(problem, n=n, degree=p)
    compile_s = time.perf_counter() - t0
    t, sol = best_of(lambda: vc.solve(problem, n=n, degree=p), repeats)
    assert sol.converged, sol.message
    xs = np.linspace(-1.0, 1.0, 2001)
    dense = float(np.max(np.abs(sol(xs) - np.cosh(xs))))
    unknowns = (n - 1) * p - 1  # values minus the two Dirichlet ends
    return dict(tool=f"varcalc p={p}", n=n, unknowns=unknowns, error=sol.error(), dense=dense,
                time=t, first=compile_s, iterations=sol.iterations)


def run_bvp(repeats, tol=1e-10):
    def fun(x, y):
        return np.vstack([y[1], (1.0 + y[1] ** 2) / y[0]])

    def jac(x, y):
        f, df = y
        J = np.zeros((2, 2, x.size))
        J[0, 1] = 1.0
        J[1, 0] = -(1.0 + df**2) / f**2
        J[1, 1] = 2.0 * df / f
        return J

    def bc(ya, yb):
        return np.array([ya[0] - COSH1, yb[0] - COSH1])

    x0 = np.linspace(-1.0, 1.0, 11)
    y0 = np.vstack([np.full_like(x0, COSH1), np.zeros_like(x0)])
    solve = lambda: solve_bvp(fun, bc, x0, y0, fun_jac=jac, tol=tol, max_nodes=10**6)
    t, res = best_of(solve, repeats)
    assert res.success, res.message
    xs = np.linspace(-1.0, 1.0, 2001)
    return dict(tool=f"solve_bvp tol={tol:g}", n=res.x.size, unknowns=2 * res.x.size,
                error=float(np.max(np.abs(res.y[0] - np.cosh(res.x)))),
                dense=float(np.max(np.abs(res.sol(xs)[0] - np.cosh(xs)))), time=t, first=None,
                iterations=res.niter)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per tool (best reported)")
    args = ap.parse_args(argv)
    problem = catenary()
    rows = [run_bvp(args.repeats)]
    rows += [run_varcalc(problem, p, n, args.repeats) for p, n in CONFIGS]
    ref = rows[0]["time"]
    print(f"# catenary f = cosh x on [-1, 1]: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs (shared machine: times are indicative)\n")
    print("| tool | nodes | unknowns | max nodal error | max error (2001 pts) | best time | "
          "first call | Newton its | time / solve_bvp |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        first = "" if r["first"] is None else f"{r['first']:.2f} s"
        print(f"| {r['tool']} | {r['n']} | {r['unknowns']} | {r['error']:.1e} | {r['dense']:.1e} | "
              f"{1e3 * r['time']:.2f} ms | {first} | {r['iterations']} | {r['time'] / ref:.2f} |")
    return rows


if __name__ == "__main__":
    main()
