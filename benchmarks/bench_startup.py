"""Time to first solution: the whole `varcalc solve brachistochrone` process, plot included.

Runs the CLI in fresh processes (a) with an empty JAX compilation cache (first run ever on a
machine) and (b) with the cache warm (every later run), and prints the median of each.

    python benchmarks/bench_startup.py [--repeats 5]
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(cache_dir: str, workdir: str) -> float:
    env = dict(os.environ, VARCALC_CACHE_DIR=cache_dir, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "varcalc", "solve", "brachistochrone", "--quiet"],
        cwd=workdir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    cold, warm = [], []
    for _ in range(args.repeats):
        cache = tempfile.mkdtemp(prefix="varcalc-cache-")
        work = tempfile.mkdtemp(prefix="varcalc-run-")
        try:
            cold.append(run_once(cache, work))  # empty cache: compiles
            warm.append(run_once(cache, work))  # same cache: loads the compiled program
        finally:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
    print(f"varcalc solve brachistochrone (whole process, plot included), median of {args.repeats}:")
    print(f"  cold compilation cache: {statistics.median(cold):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in cold)})")
    print(f"  warm compilation cache: {statistics.median(warm):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in warm)})")


if __name__ == "__main__":
    main()
