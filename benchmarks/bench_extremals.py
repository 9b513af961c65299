#!/usr/bin/env python
"""All the extremals and bifurcation diagrams: what they cost next to one solve.

    python benchmarks/bench_extremals.py            # n = 201 and 801 (~1 min on 2 CPU cores)
    python benchmarks/bench_extremals.py --quick    # n = 201 only

Rows
----
solve_all     vc.solve_all (deflation, p = 2 then 1, each extremal polished and certified) against
              one vc.solve from the default guess (certificate included), both after a warm-up call
              (the compile of the integrand's kernel is excluded from both: it is shared).
              Catenoid between rings of radius 1.6 at x = ±1 (two catenaries); Bratu λ = 2 (two).
arclength     vc.continuation(method="arclength") of the parametric catenoid from R = 1 to 0.7
              (L = 0.5): around the Goldschmidt fold and back along the deep branch to R = 1,
              deflation at the start included; and the natural-parameter continuation over the
              same range, which stops at the fold.  "per point" divides by the points followed.
Times are the median of 3 runs, wall-clock seconds; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import jax.numpy as jnp
import numpy as np
from varcalc.problems import bratu
from varcalc.problems import parametric_catenoid as pc

import varcalc as vc


def _median(fun, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fun()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = (201,) if args.quick else (201, 801)
    warnings.simplefilter("ignore", UserWarning)  # solve_all's "more may exist"
    cat = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": 1.6, "right": 1.6})
    cases = {"catenoid R=1.6": cat, "bratu λ=2": bratu.problem}
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    print(f"{'case':<18} {'n':>5} {'one solve s':>12} {'solve_all s':>12} {'found':>6} {'ratio':>6}")
    for name, problem in cases.items():
        for n in sizes:
            one = lambda: vc.solve(problem, n=n).certificate
            every = lambda: [s.certificate for s in vc.solve_all(problem, n=n)]
            one(), every()  # warm-up: compile
            t1, _ = _median(one)
            ta, found = _median(every)
            print(f"{name:<18} {n:>5} {t1:12.4f} {ta:12.4f} {len(found):>6} {ta / t1:6.1f}")
    print()
    print(f"{'continuation':<34} {'n':>5} {'time s':>8} {'points':>7} {'per point ms':>13}  result")
    for n in sizes:
        path = {"R": (1.0, 0.7)}
        vc.continuation(pc.problem, path, method="arclength", n=n)  # warm-up
        ta, d = _median(lambda: vc.continuation(pc.problem, path, method="arclength", n=n))
        pts = sum(b.t.size for b in d.branches)
        fold = d.folds[0].parameter if d.folds else float("nan")
        print(
            f"{'arclength around the fold':<34} {n:>5} {ta:8.3f} {pts:>7} {1e3 * ta / pts:13.2f}  "
            f"fold R = {fold:.6f}, back to R = {d.branches[0].parameter[-1]:g} on the deep branch"
        )
        tn, r = _median(lambda: vc.continuation(pc.problem, path, n=n, steps=20, certificate=False))
        print(
            f"{'natural parameter (stops at fold)':<34} {n:>5} {tn:8.3f} {r.t.size:>7} {1e3 * tn / r.t.size:13.2f}  "
            f"lost in [{min(r.fold):.6f}, {max(r.fold):.6f}]"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
