"""Adaptive mesh refinement in 2-D: solve, estimate, mark, refine (P1).

* **Estimate** (:func:`estimate`): the residual estimator of the Euler–Lagrange equation
  ``-div ∂G/∂∇u + ∂G/∂u = 0`` for P1 (Verfürth, *A Posteriori Error Estimation Techniques*, 2013,
  §1.4): per triangle
  ``η_T² = h_T² |T| R_T² + Σ_{edges E of T} w_E |E|² [[∂G/∂∇u · n]]_E²``, with
  ``R_T = ∂G/∂u - div_x ∂G/∂∇u`` at the centroid (``u_h`` linear on ``T``; the divergence by
  automatic differentiation), the flux jump across interior edges shared half by each side
  (``w_E = 1/2``), the flux itself on edges where the natural condition holds (``w_E = 1``) and
  nothing on Dirichlet edges.  ``η = sqrt(Σ η_T²)`` bounds the error in the energy norm of the
  second variation up to a constant (for ``G = ½|∇u|² - f u``: ``‖∇(u - u_h)‖``).
* **Mark** (Dörfler 1996): the fewest triangles carrying a fraction ``θ`` of ``Σ η_T²``.
* **Refine**: Triangle's refinement (``r``) with the area bound ``|T| / 4`` on the marked
  triangles and its quality bound (30°) everywhere: a conforming, graded mesh whose nodes
  include the old ones.

On the L-shaped domain's corner singularity this reaches the optimal rate
``‖∇(u - u_h)‖ ~ N^{-1/2}`` (uniform refinement: ``N^{-1/3}``); ``benchmarks/bench_mesh.py``
measures it against a scikit-fem adaptive loop.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from .assemble import Discretization
from .domain import _tri_area2, refine_mesh

__all__ = ["dorfler", "estimate", "solve_adaptive"]


def _kernel(integrand, shape, with_params):
    """Jitted ``(U (T, 3) + shape, X (T, 3, 2), p) -> (R (T,) + shape, flux at the edge midpoints
    (T, 3) + shape + (2,))``, cached per integrand (one compilation per padded size)."""
    from .. import cache

    def make():
        G = integrand if with_params else (lambda u, du, x, p: integrand(u, du, x))
        Gu = jax.grad(G, argnums=0)
        Gp = jax.grad(G, argnums=1)

        def one(uT, XT, p):
            e1, e2 = XT[1] - XT[0], XT[2] - XT[0]
            det = e1[0] * e2[1] - e2[0] * e1[1]
            inv = jnp.array([[e2[1], -e2[0]], [-e1[1], e1[0]]]) / det
            dl = jnp.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]]) @ inv  # ∇λ_a, rows (3, 2)
            g = jnp.einsum("a...,ai->...i", uT, dl)  # the constant gradient
            xc = XT.mean(0)
            uc = uT.mean(0)
            u_at = lambda x: uc + g @ (x - xc)

            def flux(x):
                return Gp(u_at(x), g, x, p)

            div = jnp.trace(jax.jacfwd(flux)(xc), axis1=-2, axis2=-1)
            R = Gu(uc, g, xc, p) - div
            mids = 0.5 * (XT + jnp.roll(XT, -1, axis=0))  # midpoints of edges 01, 12, 20
            return R, jax.vmap(flux)(mids)

        return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))

    return cache.get(("planar-estimator", integrand, shape, with_params), make)


def estimate(sol, params=None):
    """Residual error indicators ``η_T`` (T,) of a P1 :class:`PlanarSolution` (see the module
    docstring); ``sqrt(Σ η_T²)`` estimates the energy-norm error.

    >>> import numpy as np, varcalc as vc
    >>> p = vc.PlanarProblem(lambda u, du, x: 0.5 * du @ du - u, vc.Disk((0, 0), 1.0),
    ...                      bc=lambda x: np.zeros(len(x)))
    >>> eta = estimate(vc.solve_planar(p, n=9)); eta.shape == (len(vc.Disk((0, 0), 1.0).triangulate(9).triangles),)
    True
    """
    if sol.element != "P1":
        raise ValueError(f"sol: the residual estimator is for P1 solutions, got {sol.element}")
    problem = sol.problem
    params = sol.params if params is None else params
    t, X = sol.triangles, sol.nodes[sol.triangles]
    T = len(t)
    size = 1 << max(int(T - 1).bit_length(), 4)  # padded to a power of two: one compilation per size class
    pad = np.concatenate([np.arange(T), np.zeros(size - T, np.int64)])
    fn = _kernel(problem.integrand, problem.shape, problem.with_params)
    R, q = fn(jnp.asarray(sol.u[t][pad]), jnp.asarray(X[pad]), params)
    R, q = np.asarray(R)[:T], np.asarray(q)[:T]  # (T,) + shape, (T, 3) + shape + (2,)
    area = 0.5 * np.abs(_tri_area2(X))
    edge = np.roll(X, -1, axis=1) - X  # (T, 3, 2): edges 01, 12, 20 (counter-clockwise)
    length = np.hypot(edge[..., 0], edge[..., 1])
    normal = np.stack([edge[..., 1], -edge[..., 0]], -1) / length[..., None]  # outward
    out = np.einsum("te...i,tei->te...", q, normal).reshape(T, 3, -1)  # flux out of T, per component
    # sum the two sides of each edge: the jump (outward normals are opposite)
    e = np.stack([t, np.roll(t, -1, axis=1)], -1).reshape(-1, 2)
    key = np.minimum(e[:, 0], e[:, 1]) * len(sol.nodes) + np.maximum(e[:, 0], e[:, 1])
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    jump = np.stack([np.bincount(inv, out.reshape(3 * T, -1)[:, c], len(counts)) for c in range(out.shape[-1])], -1)
    two = counts[inv] == 2
    weight = np.where(two, 0.5, 1.0)
    if problem.bc:  # Dirichlet edges (both ends fixed) carry no flux condition
        disc = Discretization(problem, _mesh_of(sol), "P1")
        fixed = disc.fixed.reshape(len(sol.nodes), -1).all(axis=1)
        weight = np.where(~two & fixed[e[:, 0]] & fixed[e[:, 1]], 0.0, weight)
    jumps = (weight * length.reshape(-1) ** 2 * np.sum(jump[inv] ** 2, axis=1)).reshape(T, 3).sum(1)
    h = length.max(axis=1)
    eta2 = h**2 * area * np.sum(R.reshape(T, -1) ** 2, axis=1) + jumps
    return np.sqrt(eta2)


def _mesh_of(sol):
    from .domain import TriMesh

    return TriMesh._trusted(sol.nodes, sol.triangles)


def dorfler(eta, theta=0.5):
    """Bool mask (T,) of the fewest triangles whose ``η_T²`` sum to ``θ Σ η_T²`` (Dörfler marking).

    >>> dorfler(np.array([3.0, 1.0, 2.0]), 0.5).tolist()    # 9 of 14 >= 7
    [True, False, False]
    """
    e2 = np.asarray(eta, np.float64) ** 2
    order = np.argsort(-e2)
    k = int(np.searchsorted(np.cumsum(e2[order]), theta * e2.sum() * (1 - 1e-12))) + 1
    mark = np.zeros(len(e2), bool)
    mark[order[:k]] = True
    return mark


def solve_adaptive(
    problem,
    tol=None,
    *,
    n=None,
    theta=0.5,
    max_nodes=50_000,
    max_levels=40,
    solver=None,
    params=None,
    linear_solver="auto",
    verbose=False,
    callback=None,
):
    """Adaptive P1 solve: refine where the residual estimator is large until ``η <= tol``.

    Parameters
    ----------
    problem : PlanarProblem
    tol : float, optional
        Target for the estimate ``η`` of the energy-norm error (absolute); None: refine until
        ``max_nodes`` or ``max_levels``.
    n : int, optional
        Resolution of the first mesh (``problem.domain.triangulate(n)``; default 9).
    theta : float
        Dörfler fraction in (0, 1]: larger marks more triangles per level (1: all of them).
    max_nodes, max_levels : int
        Stop before a level would exceed either.
    solver, params, linear_solver, verbose
        As for :func:`~varcalc.planar.solve_planar`.
    callback : callable, optional
        ``callback(level, sol, eta)`` after each level's solve and estimate (e.g. to record or
        plot the meshes).

    Returns
    -------
    PlanarSolution
        The last level's solution; ``stats["error_estimate"]`` (η), ``stats["indicators"]``
        (η_T, shape (T,)), ``stats["mesh_history"]`` (per level: nodes, triangles, estimate,
        time since the start), and the status of that solve.  When ``tol`` is not met, the
        message says so (the status stays the solve's).

    >>> import numpy as np, varcalc as vc
    >>> L = vc.Polygon([(0, 0), (1, 0), (1, 1), (-1, 1), (-1, -1), (0, -1)])
    >>> p = vc.PlanarProblem(lambda u, du, x: 0.5 * du @ du - u, L, bc=lambda x: np.zeros(len(x)))
    >>> sol = solve_adaptive(p, n=5, max_levels=2)
    >>> [lv["nodes"] for lv in sol.stats["mesh_history"]][0] < len(sol.nodes)
    True
    """
    from .solve import solve_planar

    if tol is not None and not (np.isscalar(tol) and float(tol) > 0):
        raise ValueError(f"tol: expected a positive number, got {tol!r}")
    if not 0 < float(theta) <= 1:
        raise ValueError(f"theta: expected 0 < theta <= 1, got {theta!r}")
    t0 = time.perf_counter()
    mesh = problem.domain.triangulate(9 if n is None else n)
    history, guess, sol = [], None, None
    for level in range(max_levels):
        sol = solve_planar(
            problem, mesh=mesh, guess=guess, solver=solver, params=params, linear_solver=linear_solver, sequence=False
        )
        if not sol.converged:
            break
        eta = estimate(sol, params)
        est = float(np.sqrt(np.sum(eta**2)))
        history.append(
            dict(nodes=len(sol.nodes), triangles=len(sol.triangles), estimate=est, time=time.perf_counter() - t0)
        )
        if callback is not None:
            callback(level, sol, eta)
        if verbose:
            print(f"level {level:2d}: {len(sol.nodes):7d} nodes, estimate {est:.3e}", flush=True)
        if (tol is not None and est <= tol) or level == max_levels - 1:
            break
        area = 0.5 * np.abs(_tri_area2(mesh.nodes[mesh.triangles]))
        new = refine_mesh(mesh, np.where(dorfler(eta, theta), area / 4, -1.0))
        if len(new.nodes) > max_nodes:
            break
        prev = sol
        guess = lambda pts, prev=prev: np.nan_to_num(prev(pts))
        mesh = new
    sol.stats["mesh_history"] = history
    if history and sol.converged:
        sol.stats["error_estimate"] = history[-1]["estimate"]
        sol.stats["indicators"] = eta
        if tol is not None and history[-1]["estimate"] > tol:
            sol.message = (
                f"estimate {history[-1]['estimate']:.3e} > tol = {tol:g} after {len(history)} levels "
                f"({len(sol.nodes)} nodes): raise max_nodes / max_levels or loosen tol"
            )
    return sol
