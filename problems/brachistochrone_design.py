"""Brachistochrone design: the end depth for a given fastest-descent time.

A design question answered by differentiating through the solver.  The least travel time from
rest at (0, 0) to (X, Y) is T*(Y) = min_f ∫_0^X sqrt((1 + f'²) / (2 g f)) dx.  Which depth Y makes
T*(Y) equal a target time?  `design()` runs Newton's method on Y ↦ T*(Y) - target, with dT*/dY
from `jax.value_and_grad` through `vc.solve(problem, bc={"right": Y})` (the implicit function
theorem at the computed extremal: one extra factorisation per step, no finite differences).
T*(Y) falls from ∞ (Y → 0) to its least value sqrt(π X / g) at Y = 2X/π (the end at the
cycloid's lowest point) and grows again beyond, so a target above that has two depths; starting
shallow, Newton finds the shallower one.  Exact reference: the same question for the closed-form
cycloid time θ_end sqrt(R / g), solved by bisection; `problem` is the brachistochrone to that depth.
"""

import jax
import numpy as np
from varcalc.problems import brachistochrone as brach

import varcalc as vc

X = 1.0  # horizontal distance [m]
TARGET = 0.6  # wanted travel time [s]; the least possible for X = 1 is sqrt(π / g) ≈ 0.5659 s
integrand = brach.integrand


def exact_depth(target=TARGET, X=X):
    """The shallower depth Y with cycloid_time(X, Y) = target (bisection on the closed form)."""
    lo, hi = 1e-6 * X, 2.0 * X / np.pi  # T* decreases on (0, 2X/π]
    if brach.cycloid_time(X, hi) >= target:
        raise ValueError(f"target: expected more than the least time {brach.cycloid_time(X, hi):.6g} s")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if brach.cycloid_time(X, mid) > target else (lo, mid)
    return 0.5 * (lo + hi)


Y = exact_depth()
problem = brach.make_problem(X, Y, name="brachistochrone_design")
exact = problem.exact
n = 161
grading = dict(power=3.0, end="left")
plot_options = {"invert_yaxis": True}


def design(target=TARGET, Y0=0.3, n=n, tol=1e-12, max_iter=20):
    """Newton on the end depth: returns ``(Y, history)`` with history rows ``(Y, T*(Y), dT*/dY)``.

    Each step is one solve plus one implicit derivative; the compiled solver is reused (the
    depth is a traced input).  Converges quadratically from ``Y0`` on the shallow branch.
    """
    grid = vc.graded_grid((0.0, X), n, **grading)
    travel_time = jax.jit(jax.value_and_grad(lambda y: vc.solve(problem, grid=grid, bc={"right": y}).value))
    y, history = float(Y0), []
    for _ in range(max_iter):
        T, dT = (float(v) for v in travel_time(y))
        history.append((y, T, dT))
        if not np.isfinite(T + dT):
            raise RuntimeError(f"design: the solve failed at Y = {y:.6g}; start from another Y0")
        step = (T - target) / dT
        y = y - step
        if abs(step) <= tol * abs(y):
            break
    return y, np.array(history)


if __name__ == "__main__":
    y, hist = design()
    for row in hist:
        print("Y = {:.15f}  T* = {:.15f}  dT*/dY = {:+.6f}".format(*row))
    print(f"designed depth {y:.12f} m; exact (closed-form cycloid) {Y:.12f} m; difference {y - Y:.2e}")
