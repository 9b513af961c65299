"""Latency: time to a first solution of a new functional, against the floor.

    python benchmarks/bench_latency.py            # all parts
    python benchmarks/bench_latency.py --only solve|cli|maps

Parts (each in fresh subprocesses, so nothing is cached from the parent):

1. **solve**: in one process, after one solve of another functional at n = 1001 (so the
   process has warmed up, as in any session after its first solve):
   - the first ``vc.solve`` of a new integrand at n = 1001;
   - the same integrand at a new n: 901 (the same size bucket as 1001, 1024 nodes) and 1500 (a
     new bucket, 1536: the kernel compiles for it, on the optimised tier above 1024 nodes);
   - the same integrand written again as a new lambda;
   each against **the floor**: compiling that integrand's own per-point derivatives,
   ``jit(vmap(grad, hessian))`` over 1001 points (a fresh integrand of the same form, so it too
   compiles).  Also the first solve in a fresh process.
2. **cli**: ``varcalc solve brachistochrone`` as a whole process, with an empty and a warm JAX
   compilation cache, against the floor process (import jax and matplotlib, draw one figure).
3. **maps**: 300 distinct integrands solved in one process: memory maps (``/proc/self/maps``)
   per new integrand after the first 20, and whether all converged.

Ratios are what the targets are about (issue 14): new integrand <= 3x floor, new n <= 1x,
CLI cold <= 1.75x and warm <= 1.3x the floor process, <= 20 maps per new integrand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

_SOLVE = textwrap.dedent(r"""
    import json, time
    import jax, jax.numpy as jnp, numpy as np
    import varcalc as vc

    def family(c):
        # surface-of-revolution integrands: a new constant c makes a new program
        return lambda f, df, x: (f + c) * jnp.sqrt(1 + df**2)

    def solve(G, n):
        p = vc.Problem(G, (0.0, 1.0), bc={"left": 1.0, "right": 1.2})
        t = time.perf_counter()
        s = vc.solve(p, n=n)
        assert s.converged, s.message
        return time.perf_counter() - t

    def floor(G, n):
        t = time.perf_counter()
        d = jax.jit(jax.vmap(lambda f, df, x: (jax.grad(G, argnums=(0, 1))(f, df, x),
                                              jax.hessian(G, argnums=(0, 1))(f, df, x))))
        jax.block_until_ready(d(jnp.ones(n), jnp.full(n, 0.2), jnp.linspace(0, 1, n)))
        return time.perf_counter() - t

    out = {}
    out["first_in_process"] = solve(family(0.05), 1001)
    out["floor_first"] = floor(family(0.06), 1001)
    G = family(0.1)
    out["new_integrand"] = solve(G, 1001)
    out["floor"] = floor(family(0.2), 1001)
    out["same_again"] = solve(G, 1001)
    out["new_n_bucket"] = solve(G, 901)
    out["new_n"] = solve(G, 1500)
    out["new_lambda"] = solve(family(0.1), 1001)
    print(json.dumps(out))
""")

_FLOOR_PROCESS = textwrap.dedent(r"""
    import jax, jax.numpy as jnp
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = jnp.linspace(0, 1, 641)
    fig, ax = plt.subplots()
    ax.plot(x, jnp.sqrt(x))
    fig.savefig("floor.png")
""")

_MAPS = textwrap.dedent(r"""
    import json
    import jax.numpy as jnp
    import varcalc as vc

    def maps():
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    counts, ok = [], 0
    for i in range(COUNT):
        c = 0.05 + i * 1e-3
        p = vc.Problem(lambda f, df, x, c=c: (f + c) * jnp.sqrt(1 + df**2), (0.0, 1.0),
                       bc={"left": 1.0, "right": 1.2})
        ok += vc.solve(p, n=101).converged
        counts.append(maps())
    print(json.dumps({"maps": counts, "converged": ok}))
""")


def _python(code, cwd, env=None, timeout=3600):
    t = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return time.perf_counter() - t, res.stdout


def part_solve(repeats):
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as work:
            env = dict(os.environ, VARCALC_NO_CACHE="1")
            runs.append(json.loads(_python(_SOLVE, work, env)[1].strip().splitlines()[-1]))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    fl = med["floor"]
    print(f"1. vc.solve latency at n = 1001 (median of {repeats} fresh processes):")
    print(f"   floor: compile jit(vmap(grad, hessian)) of the integrand  {fl:6.3f} s")
    for key, label in (
        ("first_in_process", "first solve in a fresh process"),
        ("new_integrand", "new integrand (another one solved before)"),
        ("new_n_bucket", "same integrand at a new n, same size bucket (901)"),
        ("new_n", "same integrand at a new n, new bucket (1500)"),
        ("new_lambda", "same integrand written again as a new lambda"),
        ("same_again", "same integrand, same n (nothing to compile)"),
    ):
        print(f"   {label:55s} {med[key]:6.3f} s  = {med[key] / fl:5.2f} x floor")
    return med


def part_cli(repeats):
    floor, cold, warm = [], [], []
    for _ in range(repeats):
        cache = tempfile.mkdtemp(prefix="varcalc-cache-")
        work = tempfile.mkdtemp(prefix="varcalc-run-")
        try:
            env = dict(os.environ, VARCALC_CACHE_DIR=cache, MPLBACKEND="Agg")
            floor.append(_python(_FLOOR_PROCESS, work, env)[0])
            for store in (cold, warm):
                t = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "varcalc", "solve", "brachistochrone", "--quiet"],
                    cwd=work,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                store.append(time.perf_counter() - t)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
    f, c, w = (statistics.median(v) for v in (floor, cold, warm))
    print(f"2. varcalc solve brachistochrone, whole process (median of {repeats}):")
    print(f"   floor process (import jax + matplotlib, one figure)      {f:6.2f} s")
    print(f"   empty compilation cache                                  {c:6.2f} s  = {c / f:4.2f} x floor")
    print(f"   warm compilation cache                                   {w:6.2f} s  = {w / f:4.2f} x floor")
    return dict(floor=f, cold=c, warm=w)


def part_maps(count):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, VARCALC_NO_CACHE="1")
        t, out = _python(_MAPS.replace("COUNT", str(count)), work, env)
    res = json.loads(out.strip().splitlines()[-1])
    m = res["maps"]
    per = (m[-1] - m[19]) / (len(m) - 20)
    print(
        f"3. {count} distinct integrands in one process ({t:.0f} s): {res['converged']}/{count} converged; "
        f"memory maps {m[0]} after the first, {m[19]} after 20, {m[-1]} at the end: "
        f"{per:.1f} per new integrand after the first 20 (max {max(m)})"
    )
    return dict(per_integrand=per, converged=res["converged"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("solve", "cli", "maps"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--count", type=int, default=300, help="integrands for the memory-map part")
    args = ap.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.only in (None, "solve"):
        part_solve(args.repeats)
    if args.only in (None, "cli"):
        part_cli(args.repeats)
    if args.only in (None, "maps"):
        part_maps(args.count)


if __name__ == "__main__":
    main()
