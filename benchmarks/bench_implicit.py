"""Cost of a derivative through ``vc.solve`` against a Newton iteration, and of a certificate.

The issue's target: one gradient through a solve costs at most about one extra Newton iteration.
For the catenary G = f sqrt(1 + f'²) on [-1, 1] (f(±1) = cosh 1; the derivative is taken with
respect to the right boundary value) and the parametric catenoid (derivative with respect to
the ring radius, an integrand parameter), on n nodes:

* ``solve``: ``jax.jit(lambda h: vc.solve(...).value)`` — the Newton loop alone;
* ``value+grad``: ``jax.jit(jax.value_and_grad(...))`` — the same solve plus the implicit
  derivative (one Hessian assembly, one banded factorisation, one gradient JVP);
* per iteration: solve time / Newton iterations.

All compiled and warmed up first; best of 5.  Also the time of ``sol.certificate`` (inertia,
shift-invert Lanczos eigenpair, Legendre, Jacobi), warm.

    python benchmarks/bench_implicit.py [--sizes 10001 100001]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from varcalc.problems import parametric_catenoid

import varcalc as vc


def best_of(fun, *args, repeat=5):
    jax.block_until_ready(fun(*args))  # compile + warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fun(*args))
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10001, 100001])
    args = parser.parse_args()
    catenary = vc.Problem(
        lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)}
    )
    cases = [
        (
            "catenary, d/d(boundary value)",
            lambda n: lambda h: vc.solve(catenary, n=n, bc={"right": h}, warm_start=False).value,
            np.cosh(1.0),
            lambda n: vc.solve(catenary, n=n, warm_start=False),
        ),
        (
            "catenoid, d/d(ring radius)",
            lambda n: (
                lambda R: vc.solve(parametric_catenoid.problem, n=n, params={"R": R, "L": 0.5}, warm_start=False).value
            ),
            1.0,
            lambda n: vc.solve(parametric_catenoid.problem, n=n, warm_start=False),
        ),
    ]
    print(f"JAX {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    print(
        f"{'problem':<32} {'n':>8} {'iters':>5} {'solve [s]':>10} {'per iter':>10} {'value+grad':>11} "
        f"{'extra/iter':>10} {'certificate':>11}"
    )
    for name, make, theta, plain in cases:
        for n in args.sizes:
            fun = make(n)
            t_solve = best_of(jax.jit(fun), theta)
            t_grad = best_of(jax.jit(jax.value_and_grad(fun)), theta)
            sol = plain(n)
            iters = sol.iterations
            sol.certificate  # compile
            t0 = time.perf_counter()
            plain(n).certificate
            t_cert = time.perf_counter() - t0
            per_iter = t_solve / max(iters, 1)
            print(
                f"{name:<32} {n:>8} {iters:>5} {t_solve:>10.4f} {per_iter:>10.4f} {t_grad:>11.4f} "
                f"{(t_grad - t_solve) / per_iter:>10.2f} {t_cert:>11.3f}"
            )


if __name__ == "__main__":
    main()
