"""Integral constraints on a planar problem: Newton on the KKT system, solved by a Schur complement.

``min J[u]`` subject to ``C_i[u] = ∫_Ω H_i(u, ∇u, x) dx = v_i`` (``vc.Integral``) is a stationary
point of the Lagrangian ``L = J + Σ λ_i (C_i - v_i)``.  Each Newton step solves the bordered system

    [W  C] [du]     [∇J + C λ]          W = ∇²J + Σ λ_i ∇²C_i   (sparse: the Lagrangian's integrand
    [Cᵀ 0] [dλ] = - [C(u) - v ]          C = (∇C_1 … ∇C_k)        G + λ·H assembled as any integrand)

with one factorisation of ``W`` (or one AMG hierarchy) and the k × k Schur complement ``Cᵀ W⁻¹ C``:
``a = -W⁻¹(∇J + Cλ)``, ``B = W⁻¹C``, ``dλ = (CᵀB)⁻¹ (Cᵀa + r)``, ``du = a - B dλ``.  The step is
globalised by backtracking on the exact ℓ1 penalty ``φ = J + ρ Σ |C_i - v_i|`` with ``ρ`` above
``2 max |λ|`` (its directional derivative along the KKT step is ``∇Jᵀdu - ρ‖r‖₁ < 0`` when ``W`` is
positive definite on the constraints' tangent space).  Converged when the step satisfies
``‖du‖∞ <= atol + rtol ‖u‖∞`` and the constraints hold to ``1e-10 (1 + |v|)``.
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np

from ..newton import Status
from .assemble import Kernels
from .linear import choose, solve_linear

__all__ = ["newton_kkt", "lagrangian_integrand"]


def lagrangian_integrand(problem):
    """``G + Σ λ_i H_i`` as an integrand ``(u, du, x, (p, λ))``, made once per problem (so that its
    compiled kernels are cached with it)."""
    if getattr(problem, "_lagrangian", None) is None:
        G, Hs, wp = problem.integrand, tuple(c.fun for c in problem.integrals), problem.with_params

        def L(u, du, x, q):
            p, lam = q
            args = (u, du, x) + ((p,) if wp else ())
            return G(*args) + sum(lam[i] * H(*args) for i, H in enumerate(Hs))

        problem._lagrangian = L
    return problem._lagrangian


def newton_kkt(problem, disc, kern, U, p, opts, linear_solver, verbose):
    """Run the constrained Newton iteration from ``U`` (N·m,); returns what ``_newton`` returns plus
    ``multipliers`` ({name: λ}) and ``constraint_residuals`` ({name: C - v})."""
    from .solve import _pad, _result

    cons = problem.integrals
    k = len(cons)
    targets = np.array([c.value for c in cons])
    free, size, mass = disc.free, len(U), disc.mass
    kind = choose(linear_solver, len(free))
    wp = problem.with_params
    kL = Kernels(lagrangian_integrand(problem), disc, True)
    kC = [Kernels(c.fun, disc, wp) for c in cons]
    pattern = disc.pattern

    def constraint(V, grad=False):
        if not grad:
            return np.array([kc.energy(V, p)[0] for kc in kC])
        out = [kc.derivatives(V, p, hessians=False) for kc in kC]
        return np.array([o[0] for o in out]), np.stack([o[2] for o in out])

    energy = lambda V: kern.energy(V, p)[0]  # noqa: E731
    g = kern.derivatives(U, p, hessians=False)[2]
    Cv, Cg = constraint(U, grad=True)
    # First multipliers: least squares for ∇J + Cλ = 0 in the M⁻¹ metric
    Cf = Cg[:, free].T  # (nfree, k)
    A = Cf.T @ (Cf / mass[free, None])
    lam = np.linalg.lstsq(A, -Cf.T @ (g[free] / mass[free]), rcond=None)[0]
    rho = 0.0
    hist = {
        key: []
        for key in (
            "value",
            "residual",
            "step",
            "alpha",
            "shift",
            "backtracks",
            "linear_iterations",
            "time_derivatives",
            "time_assembly",
            "time_linear",
            "time_line_search",
        )
    }
    stats = {"linear_solver": kind, "n_free": len(free), "nnz": pattern.nnz, "constraints": k}
    status, it = Status.MAX_ITERATIONS, 0
    tol_c = 1e-10 * (1.0 + np.abs(targets))
    for it in range(opts.max_iter + 1):
        t0 = time.perf_counter()
        L, scale, gL, Hel = kL.derivatives(U, (p, jnp.asarray(lam)))
        Cv, Cg = constraint(U, grad=True)
        g = gL - Cg.T @ lam  # ∇J
        J = L - float(lam @ Cv)
        r = Cv - targets
        t_der = time.perf_counter() - t0
        hist["value"].append(J)
        hist["residual"].append(float(np.max(np.abs(gL[free]) / mass[free])))
        if not (np.isfinite(J) and np.all(np.isfinite(gL)) and np.all(np.isfinite(r))):
            status = Status.NONFINITE
            break
        if it == opts.max_iter:
            break
        t0 = time.perf_counter()
        W = pattern.assemble(Hel)
        t_asm = time.perf_counter() - t0
        Cf = Cg[:, free].T
        cache, lin_its, t_lin, ok = {}, 0, 0.0, True
        cols = []
        for rhs in [-gL[free]] + [Cf[:, i] for i in range(k)]:
            x, info = solve_linear(W, rhs, kind, rtol=1e-10, cache=cache)
            lin_its, t_lin, ok = lin_its + info["iterations"], t_lin + info["time"], ok and info["converged"]
            cols.append(x)
        a, B = cols[0], np.stack(cols[1:], axis=1)
        if not ok or not np.all(np.isfinite(B)):
            status = Status.NOT_FACTORIZABLE
            break
        dlam = np.linalg.solve(Cf.T @ B, Cf.T @ a + r)
        du = np.zeros(size)
        du[free] = a - B @ dlam
        step_norm = float(np.max(np.abs(du)))
        small = step_norm <= opts.atol + opts.rtol * float(np.max(np.abs(U[free])))
        converged = small and bool(np.all(np.abs(r) <= tol_c))
        rho = max(rho, 2.0 * float(np.max(np.abs(lam + dlam))) + 1e-12)
        phi0 = J + rho * float(np.sum(np.abs(r)))
        slope = float(g[free] @ du[free]) - rho * float(np.sum(np.abs(r)))
        noise = 64 * np.finfo(float).eps * float(scale)
        t0 = time.perf_counter()
        alpha, trials = 1.0, 0
        while True:
            trials += 1
            V = U + alpha * du
            phi = energy(V) + rho * float(np.sum(np.abs(constraint(V) - targets)))
            if converged or (np.isfinite(phi) and phi <= phi0 + 1e-4 * alpha * min(slope, 0.0) + noise):
                break
            if trials > opts.max_backtracks:
                status = Status.LINE_SEARCH_FAILED
                break
            alpha *= 0.5
        for key, v in (
            ("step", step_norm),
            ("alpha", alpha),
            ("shift", 0.0),
            ("backtracks", trials - 1),
            ("linear_iterations", lin_its),
            ("time_derivatives", t_der),
            ("time_assembly", t_asm),
            ("time_linear", t_lin),
            ("time_line_search", time.perf_counter() - t0),
        ):
            hist[key].append(v)
        if verbose:
            print(
                f"{it:>3} {J:>22.15g} {hist['residual'][-1]:>10.3e} {step_norm:>10.3e} {alpha:>8.3g} "
                f"|C-v| {np.max(np.abs(r)):.2e} λ {lam + alpha * dlam}",
                flush=True,
            )
        if status == Status.LINE_SEARCH_FAILED:
            break
        U, lam = V, lam + alpha * dlam
        if converged:
            status = Status.SUCCESS
            it += 1
            J = energy(U)
            hist["value"].append(J)
            gL = kL.derivatives(U, (p, jnp.asarray(lam)), hessians=False)[2]
            hist["residual"].append(float(np.max(np.abs(gL[free]) / mass[free])))
            r = constraint(U) - targets
            break
    _pad(hist, it)
    out = _result(U, J, status, it, hist, stats)
    out["multipliers"] = {c.name: float(lam[i]) for i, c in enumerate(cons)}
    out["constraint_residuals"] = {c.name: float(r[i]) for i, c in enumerate(cons)}
    return out
