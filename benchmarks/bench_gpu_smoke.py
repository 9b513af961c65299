"""The same code on whatever JAX runs on (CPU or GPU): single solves and one vmapped batch.

    python benchmarks/bench_gpu_smoke.py [BATCH ...]     # default batches: 100 1000

A first look for the batched/GPU work: the Newton loop is pure JAX, so `jax.vmap` of the compiled
loop solves a batch of problems in one call.  Prints medians of repeated calls.
"""

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import varcalc as vc

S = sys.modules["varcalc.solve"]


def catenary(f, df, x):
    return f * jnp.sqrt(1 + df**2)


def travel_time(f, df, x):
    return jnp.sqrt((1 + df**2) / (2 * 9.81 * f))


def median_time(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    print("devices:", jax.devices())
    cat = vc.Problem(catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)}, exact=np.cosh)
    brach = vc.Problem(travel_time, (0.0, 1.0), bc={"left": 0.0, "right": 0.6})
    for n in (10**5 + 1, 10**6 + 1):
        t = median_time(lambda: vc.solve(cat, n=n))
        sol = vc.solve(cat, n=n)
        print(f"catenary n={n}: {t:.4f} s, {sol.iterations} it, error {sol.error():.1e}")
    grid = vc.graded_grid((0.0, 1.0), 10**5 + 1, power=2)
    t = median_time(lambda: vc.solve(brach, grid=grid))
    print(f"brachistochrone n=1e5: {t:.4f} s, {vc.solve(brach, grid=grid).iterations} it")
    # A batch: catenaries with end heights from 1.6 to 2.0 (below ~1.509 no catenary exists and
    # the solve fails, as it should), 1024 nodes each, one compiled call.
    disc = S.discretize(cat, n=1024)
    run = S._compiled_newton(catenary, False, disc.blocks, disc.free_flags, 100, 60)
    batched = jax.jit(jax.vmap(run, in_axes=(0, None, None, None)))
    for batch in [int(b) for b in sys.argv[1:]] or [100, 1000]:
        ends = np.linspace(1.6, 2.0, batch)
        U0 = jnp.asarray(np.broadcast_to(ends[:, None, None], (batch, 1, 1024)).copy())
        x = jnp.asarray(disc.x)
        go = lambda: jax.block_until_ready(batched(U0, x, 1e-10, 1e-12)["U"])
        t = median_time(go, repeats=3)
        out = batched(U0, x, 1e-10, 1e-12)
        ok = int(np.sum(np.asarray(out["status"]) == 0))
        print(f"batch of {batch} catenaries (1024 nodes): {t:.4f} s, {t / batch * 1e6:.1f} us/problem, {ok} converged")


if __name__ == "__main__":
    main()
