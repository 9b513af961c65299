"""Planar geometry: meshing (Triangle), P1/P2 orders on curved domains, adaptive refinement.

Four tables, one script (``python benchmarks/bench_mesh.py``; ``--quick`` for smaller sizes):

1. **The issue's 80 polygons** (circles by 17- to 129-gons, with and without a hole) meshed by
   the old home-made mesher (``git show 38aba7f:varcalc/planar/domain.py`, the commit before it`, when git has it) and by
   Triangle: how many mesh, and the time.
2. **Meshing time** of Disk, Annulus and an L-shaped Polygon at growing ``n``: nodes, triangles,
   minimum angle, time.
3. **Orders on curved domains**: ``-Δu = 4 + 8x`` on the unit disk (``u = (1 - r²)(1 + x)``) and
   ``-Δu = 16 r² - 5`` on the annulus ``1/2 < r < 1`` (``u = (r² - 1/4)(1 - r²)``), zero on the
   circles: P1, isoparametric P2, and P2 with straight boundary chords.
4. **Adaptive refinement on the L-shape**, ``u = r^(2/3) sin(2θ/3)`` (harmonic, Dirichlet data
   from u): varcalc's adaptive P1 (residual estimator, Dörfler θ = 0.5, Triangle refinement)
   against uniform meshes and against an adaptive loop written with scikit-fem the way its
   adaptive Poisson example (docs/examples/ex22.py) does it (facet-jump estimator through
   ``InteriorFacetBasis``, ``adaptive_theta`` max-marking, ``MeshTri.refined(marked)``: red-green-blue
   refinement) from the same first mesh.  Energy error ``‖∇(u - u_h)‖`` by the degree-5 rule
   with the exact gradient; rate = slope of log error against log N over the last levels.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import varcalc as vc
from varcalc.planar.elements import rule


def circle(radius, k, center=(0.0, 0.0)):
    t = 2 * np.pi * np.arange(k) / k
    return np.asarray(center) + radius * np.column_stack([np.cos(t), np.sin(t)])


def min_angle(mesh):
    P = mesh.nodes[mesh.triangles]
    out = []
    for k in range(3):
        u, v = P[:, (k + 1) % 3] - P[:, k], P[:, (k + 2) % 3] - P[:, k]
        c = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        out.append(np.degrees(np.arccos(np.clip(c, -1, 1))))
    return float(np.min(out))


def polygons_80():
    print("\n## 1. The issue's 80 polygons (circles by n-gons, n = 17..129, with/without a hole), n = 33")
    old = None
    try:
        src = subprocess.run(
            ["git", "show", "38aba7f:varcalc/planar/domain.py"],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
            check=True,
        ).stdout
        if "import triangle" not in src:
            path = os.path.join(tempfile.mkdtemp(), "old_domain.py")
            open(path, "w").write(src)
            import importlib.util

            spec = importlib.util.spec_from_file_location("old_domain", path)
            old = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(old)
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    cases = [(k, hole) for k in np.linspace(17, 129, 40).astype(int) for hole in (False, True)]
    print("| mesher | meshed | failed | time |\n|---|---:|---:|---:|")
    import varcalc.planar.domain as now

    for name, mod in (("home-made (before)", old), ("Triangle (now)", now)):
        if mod is None:
            continue
        ok, t0 = 0, time.perf_counter()
        for k, hole in cases:
            try:
                P = mod.Polygon(circle(1.0, k), holes=[circle(0.4, max(8, k // 2), (0.1, 0.0))] if hole else [])
                P.triangulate(33)
                ok += 1
            except ValueError:
                pass
        print(f"| {name} | {ok} | {len(cases) - ok} | {time.perf_counter() - t0:.2f} s |")


def meshing_times(sizes):
    print("\n## 2. Meshing time (Triangle, lattice-seeded, min angle 30°)")
    print("| domain | n | nodes | triangles | min angle | time |\n|---|---:|---:|---:|---:|---:|")
    L = vc.Polygon([(0, 0), (1, 0), (1, 1), (-1, 1), (-1, -1), (0, -1)])
    for dom in (vc.Disk((0, 0), 1.0), vc.Annulus((0, 0), 0.5, 1.0), L):
        for n in sizes:
            t0 = time.perf_counter()
            m = dom.triangulate(n)
            t = time.perf_counter() - t0
            print(
                f"| {type(dom).__name__} | {n} | {len(m.nodes):,} | {len(m.triangles):,} | {min_angle(m):.1f}° | {t:.2f} s |"
            )


def curved_orders(quick):
    print("\n## 3. Orders on curved domains (non-nested meshes, h halving; order from consecutive rows)")
    zero = lambda p: np.zeros(len(p))
    cases = (
        (
            "disk",
            vc.Disk((0, 0), 1.0),
            lambda u, du, x: 0.5 * du @ du - (4 + 8 * x[0]) * u,
            lambda p: (1 - (p**2).sum(1)) * (1 + p[:, 0]),
        ),
        (
            "annulus",
            vc.Annulus((0, 0), 0.5, 1.0),
            lambda u, du, x: 0.5 * du @ du - (16 * (x @ x) - 5) * u,
            lambda p: ((p**2).sum(1) - 0.25) * (1 - (p**2).sum(1)),
        ),
    )
    print("| domain | element | n | nodes | max nodal error | L² error | order (nodal) | order (L²) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, dom, G, ex in cases:
        prob = vc.PlanarProblem(G, dom, bc=zero, exact=ex)
        for el, ns in (
            ("P1", (9, 17, 33, 65)),
            ("P2 isoparametric", (5, 9, 17, 33)),
            ("P2 straight chords", (5, 9, 17, 33)),
        ):
            ns = ns[:3] if quick else ns
            prev = None
            for n in ns:
                m = dom.triangulate(n)
                if "straight" in el:
                    m.boundary_projection = None
                s = vc.solve_planar(prob, mesh=m, element=el[:2])
                e, l2 = s.error(), s.l2_error()
                o = ("", "") if prev is None else (f"{np.log2(prev[0] / e):.2f}", f"{np.log2(prev[1] / l2):.2f}")
                print(f"| {name} | {el} | {n} | {len(s.nodes):,} | {e:.3e} | {l2:.3e} | {o[0]} | {o[1]} |")
                prev = (e, l2)


# -- the L-shape -----------------------------------------------------------------------------------

L_VERTICES = [(0, 0), (1, 0), (1, 1), (-1, 1), (-1, -1), (0, -1)]


def l_exact(p):
    th = np.mod(np.arctan2(p[:, 1], p[:, 0]), 2 * np.pi)
    return np.hypot(p[:, 0], p[:, 1]) ** (2 / 3) * np.sin(2 * th / 3)


def l_grad(p):
    r = np.hypot(p[:, 0], p[:, 1])
    th = np.mod(np.arctan2(p[:, 1], p[:, 0]), 2 * np.pi)
    ur, ut = 2 / 3 * r ** (-1 / 3) * np.sin(2 * th / 3), 2 / 3 * r ** (-1 / 3) * np.cos(2 * th / 3)
    return np.column_stack([ur * np.cos(th) - ut * np.sin(th), ur * np.sin(th) + ut * np.cos(th)])


def energy_error(nodes, tri, u):
    """‖∇(u - u_h)‖_{L²} for P1 u_h, degree-5 rule with the exact gradient."""
    lam, w = rule(5)
    X = nodes[tri]
    e1, e2 = X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], -1), np.stack([-e1[:, 1], e1[:, 0]], -1)], -2) / det[:, None, None]
    dl = np.einsum("aj,tji->tai", np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]]), inv)
    gh = np.einsum("ta,tai->ti", u[tri], dl)
    xq = np.einsum("qv,tvi->tqi", lam, X)
    ge = l_grad(xq.reshape(-1, 2)).reshape(len(tri), len(w), 2)
    return float(np.sqrt(np.sum(np.abs(det)[:, None] * w * ((ge - gh[:, None]) ** 2).sum(-1))))


def skfem_adaptive(nodes, triangles, max_nodes, theta=0.5):
    """An adaptive Laplace loop in the style of scikit-fem's ex22 (written here, not copied)."""
    from skfem import (
        Basis,
        ElementTriP1,
        Functional,
        InteriorFacetBasis,
        MeshTri,
        adaptive_theta,
        condense,
        solve,
    )
    from skfem.helpers import grad
    from skfem.models.poisson import laplace

    @Functional
    def jump(w):
        d = grad(w["u1"]) - grad(w["u2"])
        return w.h * (d[0] * w.n[0] + d[1] * w.n[1]) ** 2

    m = MeshTri(nodes.T.copy(), triangles.T.copy())
    rows, t0 = [], time.perf_counter()
    while True:
        basis = Basis(m, ElementTriP1())
        K = laplace.assemble(basis)
        D = m.boundary_nodes()
        x = np.zeros(basis.N)
        x[D] = l_exact(m.p[:, D].T)
        x = solve(*condense(K, x=x, D=D))
        rows.append((m.p.shape[1], energy_error(m.p.T, m.t.T, x), time.perf_counter() - t0))
        if m.p.shape[1] > max_nodes:
            return rows
        # f = 0: the estimator is the facet jumps, shared half by each side
        fb = [InteriorFacetBasis(m, ElementTriP1(), side=i) for i in (0, 1)]
        eta_E = jump.elemental(fb[0], u1=fb[0].interpolate(x), u2=fb[1].interpolate(x))
        per_facet = np.zeros(m.facets.shape[1])
        np.add.at(per_facet, fb[0].find, eta_E)
        est = np.sum(0.5 * per_facet[m.t2f], axis=0)
        m = m.refined(adaptive_theta(est, theta))


def rate(rows, last=5):
    N = np.array([r[0] for r in rows[-last:]], float)
    e = np.array([r[1] for r in rows[-last:]])
    return float(np.polyfit(np.log(N), np.log(e), 1)[0])


def adaptive_l(max_nodes, uniform_ns):
    print(f"\n## 4. Adaptive P1 on the L-shape, u = r^(2/3) sin(2θ/3), up to ~{max_nodes:,} nodes")
    L = vc.Polygon(L_VERTICES)
    G = lambda u, du, x: 0.5 * du @ du
    prob = vc.PlanarProblem(G, L, bc=l_exact, exact=l_exact)
    rows, t0 = [], time.perf_counter()

    def record(level, sol, eta):
        rows.append(
            (
                len(sol.nodes),
                energy_error(sol.nodes, sol.triangles, sol.u),
                time.perf_counter() - t0,
                float(np.sqrt(np.sum(eta**2))),
            )
        )

    from varcalc.planar.adapt import solve_adaptive

    solve_adaptive(prob, n=5, max_nodes=max_nodes, callback=record)
    uni = []
    for n in uniform_ns:
        s = vc.solve_planar(prob, n=n)
        uni.append((len(s.nodes), energy_error(s.nodes, s.triangles, s.u), s.stats["time"]))
    first = L.triangulate(5)
    try:
        sk = skfem_adaptive(first.nodes, first.triangles, max_nodes)
    except ImportError:
        sk = None
    print("| method | level | nodes | energy error | estimate η | η / error | time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k, r in enumerate(rows):
        print(f"| varcalc adaptive | {k} | {r[0]:,} | {r[1]:.3e} | {r[3]:.3e} | {r[3] / r[1]:.2f} | {r[2]:.1f} s |")
    for k, r in enumerate(uni):
        print(f"| varcalc uniform (n = {uniform_ns[k]}) | | {r[0]:,} | {r[1]:.3e} | | | {r[2]:.1f} s |")
    if sk is not None:
        for k, r in enumerate(sk):
            print(f"| scikit-fem ex22-style adaptive | {k} | {r[0]:,} | {r[1]:.3e} | | | {r[2]:.1f} s |")
    print(
        "\nRates (slope of log energy error against log N, last 5 levels / last 3 uniform sizes; optimal -1/2, uniform -1/3):"
    )
    print(
        f"  varcalc adaptive {rate(rows):.3f}   uniform {rate(uni, 3):.3f}"
        + ("" if sk is None else f"   scikit-fem adaptive {rate(sk):.3f}")
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    args = ap.parse_args()
    print(f"# bench_mesh.py  (load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    polygons_80()
    meshing_times((65, 257) if args.quick else (65, 257, 1025))
    curved_orders(args.quick)
    adaptive_l(3000 if args.quick else 20000, (5, 9, 17, 33) if args.quick else (9, 17, 33, 65, 129))
    print(f"\n(load at the end: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    sys.exit(main())
