"""Scherk's minimal surface on the unit square: varcalc's planar Newton against a scikit-fem
minimal-surface solver written the way scikit-fem's example (docs/examples/ex10.py) does it.

The scikit-fem side (written here, not copied): P1 elements, the hand-derived Jacobian of the
area functional as a ``BilinearForm``, its residual as a ``LinearForm``, a fixed damping of 0.7
on every Newton update, ``skfem.solve`` (SciPy's ``spsolve``) on the condensed system, stopped
when ``‖Δx‖₂ < 1e-8`` (at most 40 iterations: it needs 25 at 66k nodes) — started from the Dirichlet data and zero inside, as the example does.
Both solvers run on the same triangulation (scikit-fem gets varcalc's node and triangle arrays)
and their nodal errors against the exact surface are printed, so "equal accuracy" can be checked.

varcalc's side: only the energy density ``sqrt(1 + |∇u|²)`` is written; its Hessian comes from
``vmap(jax.hessian)``.  Times are wall-clock of one cold run in a fresh process state per size
(JAX compilation included).

    python benchmarks/bench_planar.py                 # 66,049, 263,169 and 1,002,001 nodes: the table
    python benchmarks/bench_planar.py --sizes 257     # one size
    python benchmarks/bench_planar.py --kinds auto:auto direct:off cg:on   # more varcalc variants

Each row is one fresh process: wall time, CPU time (user + system of all threads: less
sensitive to other jobs on a shared machine than the wall time), peak resident memory
(``ru_maxrss``), the time in the JAX derivative kernels and in the linear solves of the finest
level, and the 1-minute load average at the end of the row's run.  The load average
(``os.getloadavg``) is also printed before and after: on a loaded machine the wall times are
inflated by about load / cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def skfem_style(nodes, triangles, exact, max_iter=40, damping=0.7):
    from skfem import Basis, BilinearForm, ElementTriP1, LinearForm, MeshTri, condense, solve
    from skfem.helpers import dot, grad

    @BilinearForm
    def jacobian(u, v, w):
        gw = grad(w["w"])
        s = np.sqrt(1.0 + dot(gw, gw))
        return dot(grad(u), grad(v)) / s - dot(grad(u), gw) * dot(gw, grad(v)) / s**3

    @LinearForm
    def residual(v, w):
        gw = grad(w["w"])
        return dot(gw, grad(v)) / np.sqrt(1.0 + dot(gw, gw))

    t0 = time.perf_counter()
    m = MeshTri(nodes.T.copy(), triangles.T.copy())
    basis = Basis(m, ElementTriP1())
    D = m.boundary_nodes()
    inner = m.interior_nodes()
    x = np.zeros(basis.N)
    x[D] = exact(nodes[D])
    converged = False
    for it in range(1, max_iter + 1):
        w = basis.interpolate(x)
        J = jacobian.assemble(basis, w=w)
        F = residual.assemble(basis, w=w)
        dx = solve(*condense(J, -F, I=inner))
        x_prev = x.copy()
        x = x + damping * dx
        if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e6:
            break
        if np.linalg.norm(x - x_prev) < 1e-8:
            converged = True
            break
    elapsed = time.perf_counter() - t0
    err = float(np.max(np.abs(x - exact(nodes)))) if np.all(np.isfinite(x)) else float("nan")
    return dict(
        solver="scikit-fem style (P1, hand Jacobian, damping 0.7, spsolve)",
        nodes=len(nodes),
        iterations=it,
        converged=converged,
        time=elapsed,
        error=err,
    )


def varcalc_run(n, linear_solver, sequence):
    from varcalc.problems import planar_scherk as S

    import varcalc as vc

    t0 = time.perf_counter()
    sol = vc.solve_planar(S.problem, n=n, linear_solver=linear_solver, sequence=sequence)
    elapsed = time.perf_counter() - t0
    st = sol.stats
    return dict(
        solver=f"varcalc ({st['linear_solver']}, sequence={sequence})",
        nodes=len(sol.nodes),
        iterations=sol.iterations,
        converged=sol.converged,
        time=elapsed,
        error=sol.error(),
        value_error=sol.value_error(),
        levels=[(lv["nodes"], lv["iterations"]) for lv in st["sequence"]],
        time_linear=st["time_linear_total"],
        time_derivatives=st["time_derivatives_total"],
        linear_iterations=st["linear_iterations_total"],
        peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    )


def _child(args):
    """One measurement in a fresh process (cold JAX, own peak memory)."""
    kind, n = args.child, args.n
    if kind == "skfem":
        from varcalc.problems import planar_scherk as S

        import varcalc as vc

        mesh = vc.Rectangle((0, 1), (0, 1)).triangulate(n)
        out = skfem_style(mesh.nodes, mesh.triangles, S.exact)
        out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    else:
        ls, seq = kind.split(":")
        seq = {"auto": "auto", "on": True, "off": False}[seq]
        out = varcalc_run(n, ls, seq)
        if args.warm:  # the same solve again: compiled kernels cached (as with JAX's persistent cache)
            out["warm_time"] = varcalc_run(n, ls, seq)["time"]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = ru.ru_utime + ru.ru_stime  # CPU time of all threads: less sensitive to a shared machine
    import os

    out["load"] = os.getloadavg()[0]  # 1-minute load average at the end of this row's run
    print("RESULT " + json.dumps(out), flush=True)


WARM = False


def run(kind, n):
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--n", str(n)] + (["--warm"] if WARM else []),
        capture_output=True,
        text=True,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return dict(
        solver=kind,
        nodes=n * n,
        converged=False,
        time=float("nan"),
        error=float("nan"),
        iterations=-1,
        failure=proc.stderr[-500:],
    )


def _row(r, base=None):
    speed = f"{base / r['time']:6.1f}x" if base and r.get("converged") else "       "
    return (
        f"| {r['nodes']:>9,} | {r['solver']:<44} | {r['iterations']:>3} | {str(r['converged']):<5} | "
        f"{r['time']:7.2f} | {r.get('cpu_s', float('nan')):7.2f} | {r.get('peak_rss_gb', float('nan')):5.2f} | "
        f"{r['error']:.2e} | {r.get('time_derivatives', float('nan')):6.2f} | {r.get('time_linear', float('nan')):6.2f} | "
        f"{speed} | {r.get('load', float('nan')):4.1f} |"
        + (f" levels {r['levels']}" if r.get("levels") else "")
        + (f" warm {r['warm_time']:.2f} s" if "warm_time" in r else "")
    )


def main():
    import os

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[257, 513, 1001], help="nodes per side")
    ap.add_argument(
        "--skfem-max",
        type=int,
        default=257,
        help="run the scikit-fem-style solver up to this many nodes per side (it diverges at 513)",
    )
    ap.add_argument("--skip-skfem", action="store_true")
    ap.add_argument(
        "--kinds",
        nargs="*",
        default=["auto:auto"],
        help="varcalc runs as linear_solver:sequence (sequence on/off/auto)",
    )
    ap.add_argument("--warm", action="store_true", help="also time a second varcalc solve in the same process")
    ap.add_argument("--child")
    ap.add_argument("--n", type=int)
    args = ap.parse_args()
    if args.child:
        return _child(args)
    global WARM
    WARM = args.warm
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    print("| nodes | solver | it | conv | wall s | cpu s | peak GB | max err | deriv s | linear s | vs skfem | load |")
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for n in args.sizes:
        base = None
        if not args.skip_skfem and n <= args.skfem_max:
            r = run("skfem", n)
            rows.append(r)
            base = r["time"] if r.get("converged") else None
            print(_row(r), flush=True)
        for kind in args.kinds:
            r = run(kind, n)
            rows.append(r)
            print(_row(r, base), flush=True)
    print(f"load average after: {os.getloadavg()}")
    return rows


if __name__ == "__main__":
    main()
