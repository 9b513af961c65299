#!/usr/bin/env python
"""``degree=p`` with every feature: unknowns and error at degree p against the lowest-order element.

    python benchmarks/bench_degree.py          # ~2-4 min on 2 CPU cores (compilation included)

One row per feature (issue 15, item 3).  For each, the lowest-order element (P1 for ``order=1``,
cubic Hermite — the default ``degree=1`` — for ``order=2``) on ``n`` and ``2n - 1`` nodes gives its
measured convergence order r in the error e against the number of unknowns N (e ∝ N^-r); degree p
on a few cells gives (N_p, e_p); the last column is the lowest-order element's unknowns at the
error e_p, extrapolated along its measured order: N_2 (e_2 / e_p)^(1/r) (where e_p is at rounding
this is a lower bound of what the lowest-order element would need).  Unknowns are the free entries
of the solver's unknowns (values, slopes, interior values, multipliers; per lane for the batch).

Errors (all against exact solutions): |J_h - J| / |J| unless said otherwise.
* order=2: f = sin x under the load sin x (G = ½ f''² - sin(x) f, clamped ends); the catalog's
  clamped beam (a quintic deflection: exact at p = 5); ``mode="stationary"`` on the same problem.
* Pointwise: problems/sphere_implicit.py (|f|² = 1 in R³, great circle).
* OnCurve: G = ½(f'² + f²), f(0) = 1, right end on x + 0.1 f = 1 (transversality solved to rounding).
* Data (order 1): G = ½(f'² + f²), f(0) = 0, f(1) = 1, one data site at ½ (piecewise exact).
* Data (order 2): problems/smoothing_spline.py on its data sites (the spline is in both spaces).
* mode="stationary"/"maximize": problems/harmonic_oscillator.py (stationary) and -G (maximize).
* vector, matrix: problems/sphere_geodesic.py (angles), problems/spd_geodesic.py (2x2 SPD).
* Integral: problems/dido.py (mode="maximize").
* parameters + jax.grad: problems/brachistochrone_design.py: dT*/dY by ``jax.grad`` through
  ``vc.solve(problem, bc={"right": Y})`` (singular start mapped away at p > 1), error against the
  derivative of the closed-form cycloid time (5-point stencil, h = 1e-3: its own error ~1e-12).
* batch: ``vc.solve_batch`` with lanes starting at depth 0.1 (smooth) and at rest at 0 (singular):
  the worst lane's error (exact: cycloids with their cusp on f = 0).
"""

from __future__ import annotations

import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import fsolve
from varcalc.problems import beam, dido
from varcalc.problems import brachistochrone as br
from varcalc.problems import brachistochrone_design as bd
from varcalc.problems import harmonic_oscillator as ho
from varcalc.problems import smoothing_spline as ss
from varcalc.problems import spd_geodesic as spd
from varcalc.problems import sphere_geodesic as sg
from varcalc.problems import sphere_implicit as si

import varcalc as vc


def unknowns(sol):
    return int(np.sum(~np.asarray(sol._state[0].fixed)))


def rel_J(sol, exact):
    return abs(sol.value - exact) / abs(exact)


# -- problems with exact solutions not in the catalog ---------------------------------------------
L2 = 2.0
SIN = vc.Problem(
    lambda f, df, d2f, x: 0.5 * d2f**2 - jnp.sin(x) * f,
    (0.0, L2),
    order=2,
    bc={"left": 0.0, "left'": 1.0, "right": float(np.sin(L2)), "right'": float(np.cos(L2))},
)
SIN_J = -0.5 * (L2 / 2 - np.sin(2 * L2) / 4)

CURVE = vc.Problem(
    lambda f, df, x: 0.5 * df**2 + 0.5 * f**2,
    (0.0, 1.0),
    bc={"left": 1.0},
    right_end=vc.OnCurve(lambda x, f: x - 1.0 + 0.1 * f, name="curve"),
)


def _curve_exact():
    def eqs(u):
        c, B = u
        f, df = np.cosh(B) + c * np.sinh(B), np.sinh(B) + c * np.cosh(B)
        return [(0.5 * f**2 - 0.5 * df**2) * 0.1 - df, B - 1.0 + 0.1 * f]

    c, B = fsolve(eqs, [-0.7, 0.9], xtol=1e-13)
    return 0.5 * (np.sinh(B) + c * np.cosh(B)) * (np.cosh(B) + c * np.sinh(B)) - 0.5 * c


CURVE_J = _curve_exact()

DATA = vc.Problem(
    lambda f, df, x: 0.5 * df**2 + 0.5 * f**2,
    (0.0, 1.0),
    bc={"left": 0.0, "right": 1.0},
    data=vc.Data([0.5], [1.0], [1.0]),
)
_sh, _ch = np.sinh(0.5), np.cosh(0.5)
_f1 = (1 / _sh + 2.0) / (2 * _ch / _sh + 2.0)
DATA_J = 0.5 * _f1**2 * _ch / _sh + 0.5 * ((-_f1 + _ch) / _sh - _f1 * (-_f1 * _ch + 1) / _sh) + (_f1 - 1.0) ** 2

HO_MAX = vc.Problem(lambda f, df, x: -ho.integrand(f, df, x), ho.problem.domain, bc=ho.problem.bc)


def cycloid_through(f0, X, Y, g=br.g):
    """Least time from (0, f0) at speed √(2 g f0) to (X, Y): a cycloid with its cusp on f = 0."""
    if f0 == 0.0:
        return br.cycloid_time(X, Y)

    def eqs(u):
        R, t0, t1 = u
        return [R * (1 - np.cos(t0)) - f0, R * (1 - np.cos(t1)) - Y, R * (t1 - np.sin(t1) - t0 + np.sin(t0)) - X]

    R, t0, t1 = fsolve(eqs, [0.5, 0.6, 2.0], xtol=1e-14)
    return np.sqrt(R / g) * (t1 - t0)


BR = br.make_problem(1.0, 0.6)
LANES = np.array([0.1, 0.0])
LANES_T = np.array([cycloid_through(f0, 1.0, 0.6) for f0 in LANES])


def batch_error(n, degree):
    b = vc.solve_batch(BR, n=n, degree=degree, bc={"left": LANES})
    assert b.converged.all(), b.status
    return float(np.max(np.abs(b.value - LANES_T) / LANES_T)), unknowns(b[0])


def design_error(n, degree):
    """|dT*/dY by jax.grad through vc.solve - the closed form's| / |closed form's|."""
    P = bd.problem
    grad = float(jax.grad(lambda Y: vc.solve(P, n=n, degree=degree, bc={"right": Y}).value)(bd.Y))
    h = 1e-3
    T = lambda Y: br.cycloid_time(bd.X, Y)
    exact = (-T(bd.Y + 2 * h) + 8 * T(bd.Y + h) - 8 * T(bd.Y - h) + T(bd.Y - 2 * h)) / (12 * h)
    return abs(grad - exact) / abs(exact), unknowns(vc.solve(P, n=n, degree=degree))


def solved(problem, exact, **kw):
    def run(n, degree):
        sol = vc.solve(problem, n=n, degree=degree, **kw)
        assert sol.converged, sol.message
        return rel_J(sol, exact), unknowns(sol)

    return run


def spline(n, degree):  # on the data sites (n: unused), the exact spline is in both spaces
    sol = vc.solve(ss.problem, grid=ss.x_data, degree=degree)
    return rel_J(sol, ss.exact_value), unknowns(sol)


# feature, problem, run(n, degree) -> (error, unknowns), low-order (degree, n), high order (p, n)
ROWS = [
    ("order=2", "f = sin x beam", solved(SIN, SIN_J), (1, 17), (8, 5)),
    ("order=2", "beam (clamped)", solved(beam.make_problem("clamped"), beam.clamped_exact_value), (1, 17), (5, 3)),
    ("order=2 stationary", "f = sin x beam", solved(SIN, SIN_J, mode="stationary"), (1, 17), (8, 5)),
    ("Pointwise", "sphere_implicit", solved(si.problem, si.problem.exact_value), (1, 33), (6, 5)),
    ("OnCurve", "cosh, end on a line", solved(CURVE, CURVE_J), (1, 33), (6, 5)),
    ("Data (order 1)", "f''=f, one site", solved(DATA, DATA_J), (1, 33), (6, 5)),
    ("Data (order 2)", "smoothing_spline", spline, (1, None), (5, None)),
    (
        "stationary",
        "harmonic_oscillator",
        solved(ho.problem, ho.problem.exact_value, mode="stationary"),
        (1, 33),
        (6, 5),
    ),
    ("maximize", "-harmonic_oscillator", solved(HO_MAX, -ho.problem.exact_value, mode="maximize"), (1, 33), (6, 5)),
    ("vector", "sphere_geodesic", solved(sg.problem, sg.problem.exact_value), (1, 33), (6, 5)),
    ("matrix", "spd_geodesic", solved(spd.problem, spd.exact_value), (1, 33), (6, 5)),
    (
        "Integral",
        "dido",
        solved(dido.problem, dido.problem.exact_value, mode="maximize", guess=dido.guess),
        (1, 33),
        (6, 5),
    ),
    ("params + jax.grad", "brachistochrone_design dT/dY", design_error, (1, 129), (12, 5)),
    ("batch (ends differ)", "brachistochrone lanes", batch_error, (1, 129), (8, 5)),
]


def main():
    print(
        f"# bench_degree: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f} (uptime); jax {jax.__version__}"
    )
    head = (
        f"{'feature':20s} {'problem':30s} | {'low-order: N':>12s} {'error':>8s} {'order':>5s} | "
        f"{'p':>2s} {'cells':>5s} {'N_p':>4s} {'error':>8s} | {'low-order N at e_p':>18s} {'time':>6s}"
    )
    print(head)
    print("-" * len(head))
    for feature, name, run, (d1, n1), (p, n) in ROWS:
        t0 = time.perf_counter()
        if n1 is None:  # fixed grid: no order to measure
            e1, N1 = run(None, d1)
            ep, Np = run(None, p)
            cells = ss.x_data.size - 1
            order, eq = "-", "(exact in both)"
            low = f"{N1:12d} {e1:8.1e}"
        else:
            e1, N1 = run(n1, d1)
            e2, N2 = run(2 * n1 - 1, d1)
            ep, Np = run(n, p)
            r = np.log(e1 / e2) / np.log(N2 / N1)
            floor = max(ep, 1e-16)
            eq = f"{N2 * (e2 / floor) ** (1 / r):18.3g}" + ("" if ep > 1e-15 else " (>)")
            order, cells = f"{r:5.2f}", n - 1
            low = f"{N2:12d} {e2:8.1e}"
        print(
            f"{feature:20s} {name:30s} | {low} {order:>5s} | {p:2d} {cells:5d} {Np:4d} {ep:8.1e} | {eq:>18s} "
            f"{time.perf_counter() - t0:6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
