"""Many problems at once: vc.solve_batch on whatever JAX runs on (CPU or GPU), unchanged.

    python benchmarks/bench_batch.py                 # sizes by backend (smaller on CPU)
    python benchmarks/bench_batch.py --full          # the issue's sizes on any backend
    python benchmarks/bench_batch.py --cpu-devices 2 # shard the batch over 2 host devices (CPU cores)

Measures, on the default JAX backend:

1. ``B`` brachistochrones released at rest with varying end depth ``Y`` (end points (1, Y),
   Y from 0.3 to 1.5), 1024 nodes graded toward the start (``x = (i/N)³``, the catalog's grid),
   default guesses (the straight lines), in one ``vc.solve_batch`` call.  Target on an H100/H200:
   B = 10⁴ in ≤ 50 ms.  Error: max relative error of the travel time against the cycloid's.
2. ``B`` catenaries ``f sqrt(1 + f'²)`` (1024 nodes, end heights 1.6–2.0) the same way.
3. One catenary on 10⁷ nodes (``vc.solve``; target ≤ 50 ms on an H100/H200).
4. CPU throughput: time per problem of the batch against ``vc.solve`` called in a Python loop
   on the same problems (target: batch ≤ 1/3 of the loop).

Times are medians of repeated calls with compiled code cached (the first call, with tracing and
compilation, is reported apart).  Full sizes: B = 10⁴ and 10⁷ nodes; on CPU without ``--full``:
B = 512 and 10⁶ nodes (same per-problem figures, minutes less).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the issue's sizes (B = 10^4, 10^7 nodes) on any backend")
    p.add_argument("--batch", type=int, help="batch size B (default 10^4 on GPU or with --full, else 512)")
    p.add_argument("--nodes", type=int, default=1024, help="nodes per batched problem")
    p.add_argument("--big", type=int, help="nodes of the single catenary (default 10^7 on GPU / --full, else 10^6)")
    p.add_argument("--loop", type=int, default=32, help="problems solved one by one for the throughput ratio")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk-size", type=int, help="solve_batch chunk_size (default: automatic)")
    p.add_argument(
        "--cpu-devices",
        type=int,
        default=1,
        help="XLA host devices (CPU cores used by a sharded batch); set before JAX starts",
    )
    return p.parse_args()


ARGS = parse()
if ARGS.cpu_devices > 1:  # must precede the first import of jax
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={ARGS.cpu_devices}"
    ).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from varcalc.problems import brachistochrone as br  # noqa: E402

import varcalc as vc  # noqa: E402


def catenary(f, df, x):
    return f * jnp.sqrt(1.0 + df**2)


def timed(fn, repeats):
    """(first call, median of ``repeats`` further calls, last result)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), out


def loop_row(rows, one, idx, n, t_batched):
    """Time ``one(i)`` (a vc.solve) in a Python loop over ``idx`` (compiled once first); add a row
    comparing its time per problem with ``t_batched``; return the time per problem."""
    one(idx[0])
    t0 = time.perf_counter()
    ok = sum(one(i).converged for i in idx)
    t_loop = (time.perf_counter() - t0) / idx.size
    rows.append(
        (
            "  same, vc.solve in a Python loop",
            idx.size,
            n,
            None,
            t_loop * idx.size,
            ok,
            f"per problem {t_loop * 1e3:.2f} ms against {t_batched * 1e3:.3f} ms batched: "
            f"batch/loop = 1/{t_loop / t_batched:.1f}",
        )
    )
    return t_loop


def main():
    gpu = jax.default_backend() != "cpu"
    full = ARGS.full or gpu
    B = ARGS.batch or (10_000 if full else 512)
    big = ARGS.big or (10**7 if full else 10**6)
    n = ARGS.nodes
    devices = "all" if len(jax.devices()) > 1 else None
    print(
        f"# bench_batch: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, backend {jax.default_backend()}, devices {jax.devices()}"
    )
    print(
        f"# jax {jax.__version__}, Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} (at start)"
    )
    rows = []

    # 1. Brachistochrones to (1, Y), default guesses, one grid graded toward the singular start.
    brach = br.make_problem(1.0, 0.6)
    grid = vc.graded_grid((0.0, 1.0), n, power=3.0, end="left")
    Y = np.linspace(0.3, 1.5, B)
    exact = np.array([br.cycloid_time(1.0, y) for y in Y])
    go = lambda: vc.solve_batch(brach, grid=grid, bc={"right": Y}, devices=devices, chunk_size=ARGS.chunk_size)
    first, t_b, res = timed(go, ARGS.repeats)
    err = np.max(np.abs(res.value - exact) / exact)
    rows.append(
        (
            "brachistochrone (1, Y), Y in [0.3, 1.5]",
            B,
            n,
            first,
            t_b,
            int(res.converged.sum()),
            f"max rel. error of T {err:.1e}; Newton it. {res.iterations.min()}-{res.iterations.max()}; "
            f"chunks of {res.chunk_size}",
        )
    )
    # Python loop over vc.solve on a subset, compiled code cached (a first call compiles).
    idx = np.linspace(0, B - 1, min(ARGS.loop, B)).astype(int)
    loop_row(rows, lambda i: vc.solve(br.make_problem(1.0, Y[i]), grid=grid), idx, n, t_b / B)

    # 2. Catenaries, end heights 1.6 .. 2.0 (both ends), uniform grid.
    cat = vc.Problem(catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)})
    H = np.linspace(1.6, 2.0, B)
    go = lambda: vc.solve_batch(cat, n=n, bc={"left": H, "right": H}, devices=devices, chunk_size=ARGS.chunk_size)
    first, t_c, res = timed(go, ARGS.repeats)
    rows.append(
        (
            "catenary, end heights in [1.6, 2.0]",
            B,
            n,
            first,
            t_c,
            int(res.converged.sum()),
            f"Newton it. {res.iterations.min()}-{res.iterations.max()}; chunks of {res.chunk_size}",
        )
    )
    loop_row(
        rows,
        lambda i: vc.solve(vc.Problem(catenary, (-1.0, 1.0), bc={"left": H[i], "right": H[i]}), n=n),
        idx,
        n,
        t_c / B,
    )

    # 3. One big catenary (warm start from ~2049 nodes, as vc.solve does by default).
    first, t_big, sol = timed(lambda: vc.solve(cat, n=big), max(1, ARGS.repeats - 1))
    rows.append(
        (
            "catenary, single solve",
            1,
            big,
            first,
            t_big,
            int(sol.converged),
            f"max error vs cosh {np.max(np.abs(sol.f - np.cosh(sol.x))):.1e}; "
            f"{sol.stats.get('warm_start', {}).get('iterations')} coarse + {sol.iterations} fine it.",
        )
    )

    print()
    print("| problem | B | nodes | first call (compile) | repeated call | per problem | converged | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, b, nodes, first, t, ok, note in rows:
        f = "–" if first is None else f"{first:.2f} s"
        print(f"| {name} | {b} | {nodes} | {f} | {t * 1e3:.1f} ms | {t / b * 1e6:.1f} µs | {ok}/{b} | {note} |")
    print(f"\n# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
