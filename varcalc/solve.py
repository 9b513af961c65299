"""``vc.solve``: the door from a :class:`Problem` to a :class:`Solution`.

Data flow::

    Problem ─► grid (mesh.py) ─► quadrature groups (quadrature.py)
            ─► DiscreteLagrangian (lagrangian.py: the element object of families/ — P1, Hermite3,
               Lagrange(p) — and the side-condition objects of sides/, each refusing what it does
               not support and finishing its part of the discretization)
            ─► compiled Newton loop (newton.py, cached per problem structure and shapes) ─► Solution

Input is validated here before anything is traced: grid, guess, what the integrand returns, and
whether it is finite at the guess (naming the first bad ``x``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from . import _entry, cache
from .drivers import (
    _BASELINE_OPTIONS,
    CHUNK_NODES,
    ChunkedKernel,
    Kernel,
    bucket,
    chunked_nodes,
    context,
    minimize_loop,
    pad_grid,
    pad_numpy,
    padded_context,
    run_python,
    stationary_loop,
)
from .families import element_for
from .families._base import QUADRATURES
from .functional import DiscreteFunctional
from .implicit import implicit_solver, is_traced
from .lagrangian import DiscreteLagrangian, Layout, internal_integrand
from .mesh import check_grid, uniform_grid
from .newton import Newton, lumped_mass
from .problem import Problem
from .quadrature import CellBlock
from .sides import sides_for
from .solution import Solution
from .steps import MinimizeStep, StationaryStep

__all__ = ["solve", "discretize"]


_QUADRATURES = QUADRATURES  # ("auto", "midpoint", "accurate"); each element family says which apply


def solve(
    problem: Problem,
    n: int | None = None,
    *,
    grid: ArrayLike | None = None,
    guess: Callable[..., Any] | ArrayLike | None = None,
    solver: Newton | None = None,
    quadrature: str = "auto",
    singular_ends: Sequence[str] | Mapping[str, int] | None = None,
    warm_start: bool | None = None,
    verbose: bool = False,
    params: Any = None,
    mode: Literal["minimize", "maximize", "stationary"] = "minimize",
    bc: Mapping[str, Any] | None = None,
    constraint_values: Mapping[str, Any] | None = None,
    degree: int | None = None,
    tol: float | None = None,
) -> Solution:
    """Find the extremal of ``problem`` on a grid by Newton's method on the exact Hessian.

    Parameters
    ----------
    problem : Problem
    n : int, optional
        Number of nodes of a uniform grid, both ends included (default 201 when ``grid`` is
        not given either).
    grid : array_like, shape (n,), optional
        Explicit strictly increasing nodes from ``a`` to ``b`` (e.g. :func:`graded_grid`).
    guess : callable or array_like, optional
        Initial extremal: a function ``x -> f`` (vectorised over an array of ``x``) or node values
        of shape ``(n,)`` / ``(n, m)`` / ``(n,) + shape``.  Default: the straight line between the
        Dirichlet values (a constant when one end is free, zero when both are).
    solver : Newton, optional
        Iteration options (``max_iter``, ``rtol``, ``atol``).
    quadrature : {"auto", "midpoint", "accurate"}
        ``"auto"``: one point per cell, except near an end where the integrand is singular along
        the guess (detected), which gets accurate rules.  ``"midpoint"``: one point everywhere
        (inexact at singular ends; for comparison).  ``"accurate"``: treat every Dirichlet end as
        singular.  (``order=2`` problems use 4 Gauss points per cell.)
    singular_ends : sequence of {"left", "right"}, or dict {end: k}, optional
        Overrides the detection of singular ends.  With ``degree > 1`` a singular end is mapped
        away, ``x - a ∝ s^k`` (:mod:`varcalc.endmap`; the extremal is smooth in ``s`` when ``k``
        fits its exponent, e.g. ``k = 3`` for ``f ~ x^(2/3)``); ``k`` is found from the integrand
        unless given in the dict.
    warm_start : bool, optional
        Solve first on every k-th node (about 2000 nodes) and start from that solution,
        interpolated.  Newton's iteration count from a poor guess grows with n; from the coarse
        solution it is a handful.  Default: on for grids of more than 8193 nodes.
    verbose : bool
        Print the Newton iteration table.
    params : pytree, optional
        Parameter values for an integrand ``G(..., x, p)`` (overrides ``problem.params``; same
        structure, so the compiled solver is reused).
    mode : {"minimize", "maximize", "stationary"}
        ``"minimize"`` (default) reports success only at a minimum (on the constraints' tangent
        space); a stationary point with negative second variation gets ``Status.SADDLE``.
        ``"maximize"`` minimises ``-J``.  ``"stationary"`` finds any extremal (Newton on the
        Euler–Lagrange equations with a residual merit function), e.g. a saddle of the action.
    bc : dict, optional
        Dirichlet values replacing some of ``problem.bc`` (same keys; no new free or fixed ends).
    constraint_values : dict, optional
        ``{name: value}`` replacing the values of the problem's :class:`Integral` constraints.
    degree : int, optional
        Polynomial degree ``p`` of the elements of an ``order=1`` problem (default 1: piecewise
        linear; with ``tol=`` and no ``n``/``grid``: chosen automatically).  ``p >= 2``: continuous Lagrange elements on the ``p + 1`` Gauss–Lobatto nodes of
        each cell with ``p + 2`` Gauss points (:mod:`varcalc.elements`): for a smooth problem the
        nodal and L² errors are O(h^{p+1}) and ``|J_h - J|`` is O(h^{2p}).  The ``n`` nodes are the
        cell ends; the unknowns are ``(n - 1) p + 1`` values per component.  A singular end is
        mapped away (``x - a ∝ s^k``, see ``singular_ends`` and :mod:`varcalc.endmap`).
        ``order=2``: C¹ elements of degree ``p >= 3`` (value and slope at each node, ``p - 3``
        values inside each cell; :class:`varcalc.families.HermiteP`).  Integral, Pointwise (at
        every Gauss–Lobatto node), Data and OnCurve side conditions apply; Bound does not yet.

    tol : float, optional
        Accuracy on demand: a target for the estimate of ``|J_h - J| / |J_h|``.  Alone (no
        ``degree``, ``n`` or ``grid``): the discretization is chosen automatically
        (:func:`varcalc.auto.solve_auto`): degree-p elements raised while the estimates fall
        spectrally, graded or halved cells where they do not, the end map at a singular end found
        along the guess or from the iterates; the returned solution is the one the estimate
        ``sol.stats["error_estimate"]`` measures, ``sol.stats["mesh_history"]`` says what was chosen
        and why, and a warning says when the tolerance was not met.  ``guess`` starts it.  With
        ``n`` or ``degree=1``: piecewise-linear h-refinement from ``n`` nodes (default 33;
        :func:`varcalc.adaptive.solve_adaptive`).  With ``degree=p > 1``: raise the degree from
        ``p`` (``n`` default 5; :func:`varcalc.adaptive.solve_p_adaptive`).  Not combined with
        ``grid``, ``singular_ends``, ``warm_start``, ``bc``, ``constraint_values`` or the
        quadrature options (nor ``guess``, except alone).

    Returns
    -------
    Solution
        Check ``sol.converged`` (and ``sol.status``, ``sol.message``); a failed solve is
        returned, not raised.  Inside ``jax.grad``/``jvp``/``vjp``/``jit``/``vmap`` with respect
        to ``params``, ``bc`` or ``constraint_values``, a :class:`~varcalc.implicit.TracedSolution`
        (JAX values; derivatives by the implicit function theorem, see :mod:`varcalc.implicit`).

    Examples
    --------
    >>> import jax.numpy as jnp, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> sol = vc.solve(p, n=11)
    >>> sol.converged, sol.iterations, round(float(sol(0.5)), 6)   # exact: f = x(x-1)/2
    (True, 1, -0.125)
    """
    # No discretization given at all: the documented default (P1, 201 nodes), reported with its
    # two-grid error estimate (see _report_default_estimate).
    default_grid = n is None and grid is None and degree is None and tol is None
    if tol is not None and degree is None and n is None and grid is None and not _is_planar(problem):
        return _solve_auto(
            problem,
            tol,
            guess=guess,
            solver=solver,
            params=params,
            mode=mode,
            verbose=verbose,
            others=dict(singular_ends=singular_ends, warm_start=warm_start, bc=bc, constraint_values=constraint_values),
            quadrature=quadrature,
        )
    degree = 1 if degree is None else degree
    if degree != 1 and _is_planar(problem):
        raise ValueError(
            "degree: not available for a 2-D (planar) problem; use vc.solve_planar(problem, n=..., element='P2')"
        )
    if tol is not None:
        given = [
            name
            for name, v in (
                ("grid", grid),
                ("guess", guess),
                ("singular_ends", singular_ends),
                ("warm_start", warm_start),
                ("bc", bc),
                ("constraint_values", constraint_values),
            )
            if v is not None
        ]
        given += ["quadrature"] * (quadrature != "auto")
        if given:
            raise ValueError(
                f"{', '.join(given)}: not combined with tol= (the adaptive solve chooses "
                "the grid and its quadrature); give them without tol="
            )
        if _is_planar(problem):  # 2-D: residual estimator, Dörfler marking, Triangle's refinement
            from .planar.adapt import solve_adaptive as planar_adaptive

            return planar_adaptive(problem, tol, n=n, solver=solver, params=params, verbose=verbose)
        from .adaptive import solve_adaptive, solve_p_adaptive

        if degree != 1:  # p-refinement from this degree (high-order elements, singular ends mapped)
            return solve_p_adaptive(
                problem,
                tol,
                degree=degree,
                n0=5 if n is None else n,
                solver=solver,
                params=params,
                mode=mode,
                verbose=verbose,
            )
        return solve_adaptive(
            problem, tol, n0=33 if n is None else n, solver=solver, params=params, mode=mode, verbose=verbose
        )
    if _is_planar(problem):  # a 2-D domain: varcalc.planar (P1 triangles; solve_planar for more)
        return _solve_planar(
            problem,
            n,
            grid=grid,
            guess=guess,
            solver=solver,
            quadrature=quadrature,
            singular_ends=singular_ends,
            warm_start=warm_start,
            verbose=verbose,
            params=params,
            mode=mode,
            bc=bc,
            constraint_values=constraint_values,
        )
    degree = _check_degree(degree)
    if is_traced(params, bc, constraint_values):
        return _solve_traced(
            problem,
            n,
            grid=grid,
            guess=guess,
            solver=solver,
            quadrature=quadrature,
            singular_ends=singular_ends,
            params=params,
            mode=mode,
            bc=bc,
            constraint_values=constraint_values,
            degree=degree,
        )
    if bc is not None or constraint_values is not None:
        problem = _with_values(problem, bc, constraint_values)
    disc = discretize(
        problem,
        n,
        grid=grid,
        guess=guess,
        quadrature=quadrature,
        singular_ends=singular_ends,
        params=params,
        mode=mode,
        degree=degree,
    )
    solver = Newton.checked(solver)

    element = disc.layout.element
    if warm_start and not element.warm_start:
        raise ValueError(element.warm_start_message())
    if warm_start is None:
        warm_start = disc.x.size > _WARM_START_MIN_NODES and element.warm_start
    t0 = time.perf_counter()
    coarse = _warm_start(disc, solver) if warm_start else None

    sol = run_newton(disc, solver, t0)
    if not sol.converged and disc.layout.k_int:
        _diagnose_integrals(problem, disc, sol)
    if coarse is not None:
        sol.stats["warm_start"] = {
            "nodes": int(coarse.x.size),
            "iterations": coarse.iterations,
            "converged": coarse.converged,
        }
    if default_grid and sol.converged:
        _report_default_estimate(sol)
    if verbose:
        print(sol.table())
    return sol


# With no discretization argument, a relative error estimate of J above this is "poor" and warned
# about.  P1 on 201 nodes gives 1e-6 to 4e-4 on the catalog (measured: docs/guide/accuracy.md); the
# upper end is what singular ends and layers cost, where tol= reaches 1e-8 with a few dozen unknowns.
DEFAULT_GRID_POOR = 1e-4


def _report_default_estimate(sol):
    """``vc.solve(problem)`` with no ``n``, ``grid``, ``degree`` or ``tol``: the answer comes with its
    two-grid error estimate (one more solve on the halved grid, warm-started: a few Newton steps and
    no compile beyond the halved grid's size bucket), in ``sol.stats["error_estimate"]`` (estimate of
    ``|J_h - J| / |J_h|``), and a warning when it is poor or cannot be computed."""
    try:
        rel = float(sol.error_estimate.relative_value_error)
    except ValueError:  # elements or side conditions the estimate does not cover: say so, don't fail
        rel = float("nan")
    sol.stats["error_estimate"] = rel
    if not (rel <= DEFAULT_GRID_POOR):
        what = "could not be estimated" if not np.isfinite(rel) else f"is about {rel:.1e} (estimated)"
        warnings.warn(
            f"vc.solve(problem) used the default grid (P1, {sol.x.size} nodes): the relative error "
            f"of J {what}. For a chosen accuracy pass tol=, e.g. vc.solve(problem, tol=1e-8), "
            "which picks the elements and grid itself and reports its estimate.",
            UserWarning,
            stacklevel=3,
        )


def _solve_auto(problem, tol, *, guess, solver, params, mode, verbose, others, quadrature):
    """``vc.solve(problem, tol=...)`` without ``degree``, ``n`` or ``grid``: the automatic choice of
    :func:`varcalc.auto.solve_auto` (``guess`` starts its first level)."""
    from .auto import solve_auto

    given = [name for name, v in others.items() if v is not None] + ["quadrature"] * (quadrature != "auto")
    if given:
        raise ValueError(
            f"{', '.join(given)}: not combined with tol= (the automatic solve chooses the "
            "discretization and its quadrature); give them without tol="
        )
    return solve_auto(problem, tol, guess=guess, solver=solver, params=params, mode=mode, verbose=verbose)


# Up to this many nodes a single solve runs the Python loop: its step is numpy (nothing generic
# compiles), so a new functional or a new size bucket costs the kernel's compile alone (catenary,
# first solve: 0.4-0.7 s at 10³-1.6·10⁴ nodes, against 1.1-2.2 s for the fused loop, which compiles
# the whole Newton program).  Warm, the fused loop is 2.5-4x faster (1.6 against 6.9 ms at 1001
# nodes, 7.4 against 18 ms at 16001; brachistochrone at 10⁴: 0.035 against 0.059 s; 2-core CPU),
# so above this size — where a grid is also warm-started from a coarse solve (which runs here) and
# throughput counts — and for vmap, batches and jit, the fused loop runs.
PYTHON_LOOP_MAX_NODES = 8193


def run_newton(disc, solver, t0=None, fused=None) -> Solution:
    """Newton on a discretization, as a :class:`Solution` (timed from ``t0``, default now).

    Up to :data:`PYTHON_LOOP_MAX_NODES` nodes, the Python-loop driver
    (:func:`varcalc.drivers.run_python`) on unknowns padded to a size bucket: the step runs in
    numpy and compiles nothing; the integrand's kernel compiles once per bucket.
    Above, or with ``fused=True``, the fused loop (:func:`_compiled_solver`).  A non-finite start
    raises ValueError naming the first bad cell."""
    t0 = time.perf_counter() if t0 is None else t0
    if disc.x.size > PYTHON_LOOP_MAX_NODES if fused is None else fused:  # throughput: as for batches
        out = jax.device_get(_compiled_solver(disc, solver)(*disc.arrays(), solver.rtol, solver.atol))
    else:
        out = _python_run(disc, solver)(
            disc.V0, disc.z0, disc.x, disc.aux(), disc.fixed, disc.lower, disc.upper, solver.rtol, solver.atol
        )
    if not np.isfinite(out["value"][0]):
        _check_guess_finite(disc)
    return Solution._from_newton(disc.problem, disc, out, time.perf_counter() - t0)


def _is_planar(problem):
    if isinstance(problem, Problem):  # 1-D: no import of varcalc.planar (~0.3-0.6 s on a first solve)
        return False
    from .planar import PlanarProblem

    return isinstance(problem, PlanarProblem)


def _solve_planar(problem, n, *, guess, solver, verbose, params, quadrature, mode, **one_d_only):
    """``vc.solve`` of a 2-D problem: :func:`varcalc.planar.solve_planar` with the common options."""
    from .planar import solve_planar

    given = sorted(k for k, v in one_d_only.items() if v is not None)
    if quadrature != "auto":
        given.append("quadrature")
    if mode != "minimize":
        given.append("mode")
    if given:
        raise ValueError(
            f"{', '.join(given)}: not available for a 2-D (planar) problem; use "
            "vc.solve_planar(problem, n=..., mesh=..., element='P1'|'P2', linear_solver=...)"
        )
    return solve_planar(problem, n, guess=guess, solver=solver, verbose=verbose, params=params)


def _checked_overrides(problem, bc, constraint_values):
    """Validate the ``bc=`` / ``constraint_values=`` overrides of :func:`solve` (keys only)."""
    bc = {} if bc is None else bc
    cv = {} if constraint_values is None else constraint_values
    if not isinstance(bc, dict):
        raise TypeError(f"bc: expected a dict of Dirichlet values, got {type(bc).__name__}")
    if not isinstance(cv, dict):
        raise TypeError(f"constraint_values: expected a dict {{name: value}}, got {type(cv).__name__}")
    extra = [k for k in bc if k not in problem.bc]
    if extra:
        raise ValueError(
            f"bc: key(s) {extra} are not Dirichlet conditions of this problem "
            f"(it has {sorted(problem.bc)}); bc= replaces values, it cannot fix a free end"
        )
    names = [c.name for c in problem.integrals]
    extra = [k for k in cv if k not in names]
    if extra:
        raise ValueError(
            f"constraint_values: unknown constraint name(s) {extra}; the problem's Integral constraints are {names}"
        )
    return bc, cv


def _with_values(problem, bc, constraint_values):
    """``problem`` with some Dirichlet values and Integral values replaced (validated again)."""
    import dataclasses

    bc, cv = _checked_overrides(problem, bc, constraint_values)
    constraints = [
        dataclasses.replace(c, value=cv[c.name]) if getattr(c, "name", None) in cv and c in problem.integrals else c
        for c in problem.constraints
    ]
    # Other values, so the problem's exact solution no longer applies.
    return dataclasses.replace(
        problem,
        bc={**problem.bc, **bc},
        constraints=constraints,
        components=problem.shape if problem.is_vector else None,
        exact=None,
        exact_value=None,
    )


def _solve_traced(
    problem, n, *, grid, guess, solver, quadrature, singular_ends, params, mode, bc, constraint_values, degree=1
):
    """:func:`solve` under a JAX transformation: the Newton loop wrapped by
    :func:`varcalc.implicit.implicit_solver` (derivatives by the implicit function theorem).

    The grid, quadrature and guess are chosen from the problem's own (concrete) values; the
    traced values enter as inputs of the compiled loop.  No warm start (it needs concrete values).
    """
    bc, cv = _checked_overrides(problem, bc, constraint_values)
    if params is not None:
        _check_params(problem, params)
        want = [np.shape(v) for v in jax.tree.leaves(problem.params)]
        got = [np.shape(v) for v in jax.tree.leaves(params)]
        if want != got:
            raise ValueError(f"params: expected leaves of shapes {want} (as problem.params), got {got}")
    concrete = params if not is_traced(params) else None
    with jax.ensure_compile_time_eval():  # under jit too: the discretization is made of numbers
        disc = discretize(
            problem,
            n,
            grid=grid,
            guess=guess,
            quadrature=quadrature,
            singular_ends=singular_ends,
            params=concrete,
            mode=mode,
            degree=degree,
        )
    solver = Newton.checked(solver)
    lay = disc.layout
    V0, z0, x, aux, fixed, lo, hi = disc.arrays()
    for key, value in bc.items():
        row, node = _BC_SLOTS[key]
        V0 = V0.at[row * lay.m : (row + 1) * lay.m, node].set(jnp.reshape(jnp.asarray(value, V0.dtype), (lay.m,)))
    c = jnp.asarray(aux.pop("c"))
    for j, con in enumerate(problem.integrals):
        if con.name in cv:
            c = c.at[j].set(cv[con.name])
    p = aux.pop("p") if params is None else params
    aux.pop("p", None)
    core = _implicit_core(disc, solver)
    V, z, J, status, k = core(V0, z0, p, c, (x, aux, fixed, lo, hi, solver.rtol, solver.atol))
    n_nodes = disc.x.size
    to_user = lambda rows: rows.T.reshape((n_nodes,) + problem.shape)
    x_out, start, end, end_map = disc.x_user, None, None, disc.end_map
    if lay.free_end:
        A, B = lay.ends(z, aux)
        x_out = A + (B - A) * jnp.asarray(disc.x)
        if end_map is not None:  # a mapped singular end too: the map onto [A, B]
            end_map = type(end_map)(end_map.powers, A, B)
            x_out = end_map.x_of_s(jnp.asarray(disc.x))
        start = A if "left" in lay.curve_ends else None
        end = B if "right" in lay.curve_ends else None
    mult = {con.name: z[j] for j, con in enumerate(problem.integrals)}
    row = lay.d_el
    for con, shape, r in zip(problem.pointwise, lay.pointwise_shapes, lay.pointwise_sizes):
        mu = V[row : row + int(np.prod(shape))].T  # at the nodes (high order: then interior points)
        mult[con.name] = mu[:, 0] if shape == () else mu
        row += r
    for e in lay.curve_ends:
        mult[problem.end_curve(e).name] = z[lay.end_index(e) + 1]
    slope = to_user(V[lay.m : 2 * lay.m]) if lay.order == 2 else None
    elements = None
    if lay.degree > 1:  # (cells, p+1) + shape, as Solution.element_values
        elements = disc.functional.element_values(V[: lay.d_el], jnp.asarray(disc.x))
        elements = elements.reshape((n_nodes - 1, lay.degree + 1) + problem.shape)
    return Solution._traced(
        problem,
        x=x_out,
        f=to_user(V[: lay.m]),
        slope=slope,
        value=J,
        multipliers=mult,
        status=status.astype(jnp.int32),
        iterations=k.astype(jnp.int32),
        start=start,
        end=end,
        element_values=elements,
        end_map=end_map,
        mode=disc.mode,
        degree=lay.degree,
        singular_ends=disc.singular_ends,
        grid=disc.x if disc.end_map is not None else None,
    )


def _implicit_core(disc, solver):
    """The compiled Newton loop with its implicit-differentiation rule (cached like the loop)."""
    run = _compiled_solver(disc, solver)
    key = ("implicit", run, disc.mode == "maximize")
    lag = lambda: DiscreteLagrangian(disc.problem, disc.layout, disc.blocks)
    return cache.get(
        key,
        lambda: implicit_solver(
            run,
            lag(),
            has_z=disc.uses_kkt,
            bounds=disc.layout.has_bound,
            sign=-1.0 if disc.mode == "maximize" else 1.0,
            run_concrete=_python_run(disc, solver),
        ),
    )


def _python_run(disc, solver):
    """``run(V0, z0, x, aux, fixed, lower, upper, rtol, atol) -> out`` as the fused loop's (numpy),
    by the Python-loop driver on unknowns padded to a size bucket (``disc`` gives the structure
    only: the grid, data, parameters ``p`` and constraint values ``c`` come in ``x`` and ``aux``;
    ``lower``/``upper`` are read with bounds only)."""
    step = _step(disc, solver, xp=np)

    def run(V0, z0, x, aux, fixed, lower, upper, rtol, atol):
        n = np.shape(x)[0]
        N = padded_nodes(disc, n)
        aux = {k: (v if k == "p" else np.asarray(v)) for k, v in aux.items()}
        kernel, x_k, aux_k = kernel_inputs(disc, N, x, aux)
        bounds = (np.asarray(lower), np.asarray(upper), np.asarray(x)) if disc.layout.has_bound else ()
        ctx = context(aux, np.asarray(fixed), np.float64(rtol), np.float64(atol), *bounds)
        out = run_python(
            step, kernel, pad_numpy(np.asarray(V0), N, 1), np.asarray(z0), x_k, aux_k, padded_context(ctx, n, N)
        )
        for key in ("U", "g"):
            out[key] = out[key][:, :n]
        return out

    return run


# Where a Dirichlet key sits in the unknowns V (d, n): (block row of m, node): values, then slopes.
_BC_SLOTS = {"left": (0, 0), "right": (0, -1), "left'": (1, 0), "right'": (1, -1)}
_WARM_START_MIN_NODES = 8193
_WARM_START_NODES = 2049
_MODES = ("minimize", "maximize", "stationary")


def _warm_start(disc, solver):
    """Solve on a subsample of the grid; on success its interpolant becomes the initial guess."""
    x = disc.x_user
    k = -(-(x.size - 1) // (_WARM_START_NODES - 1))  # ceil
    idx = np.unique(np.append(np.arange(0, x.size, k), x.size - 1))
    if disc.problem.data is not None:  # keep the data sites
        idx = np.union1d(idx, np.flatnonzero(disc.data_w > 0))
    # The fused loop: a warm-started grid is large, and its coarse solve is part of the throughput.
    coarse_disc = discretize(
        disc.problem,
        None,
        grid=x[idx],
        guess=disc.U0[idx],
        singular_ends=disc.singular_ends,
        params=disc.params,
        mode=disc.mode,
    )
    coarse = run_newton(coarse_disc, solver, fused=True)
    if coarse.converged:
        disc.coarse_nodes = idx
        U0 = disc.from_coarse(coarse, coarse.f)
        for end, i in (("left", 0), ("right", -1)):  # keep the Dirichlet values exact
            if end in disc.problem.bc:
                U0[i] = disc.U0[i]
        disc.set_guess(U0, coarse)
    return coarse


class _Discretization:
    """Everything fixed before the iteration: grid, initial unknowns, masks, quadrature groups
    (``blocks`` and ``singular_ends``, filled in by :func:`discretize` once the guess is known).

    ``x_user`` is the physical grid; ``x`` the grid the solver works on (``ξ ∈ [0, 1]`` for a free
    end, ``s ∈ [0, 1]`` with ``x_user = φ(s)`` for a mapped singular end (``end_map``), else the
    same).  ``V0`` (d, n) and ``z0`` (k,) are the initial unknowns (see
    :mod:`varcalc.lagrangian` for their layout).
    """

    def __init__(self, problem, x_user, U0, params, mode, degree=1, end_powers=(1, 1), s=None):
        self.problem = problem
        self.layout = Layout(problem, degree, end_powers)
        self.mode = mode
        self.params = problem.params if params is None else params
        self.x_user = x_user
        a, b = problem.domain
        lay = self.layout
        self.end_map = lay.end_map({"a": float(a), "b": float(b)})
        self.x = (x_user - x_user[0]) / (x_user[-1] - x_user[0]) if lay.free_end else x_user
        if s is not None:  # a mapped singular end: the solver's grid is s, x_user = φ(s)
            self.x = np.asarray(s, dtype=np.float64)
        self.singular_ends = ()  # set by discretize() with the quadrature blocks
        self.blocks = ()
        n = x_user.size
        self.fixed = np.zeros((lay.d, n), bool)
        for key, (row, node) in _BC_SLOTS.items():
            if key in problem.bc:
                self.fixed[row * lay.m : (row + 1) * lay.m, node] = True
        lay.element.fix(self.fixed, lay.m)  # the element's dummy rows
        self.z0 = np.zeros(lay.k)
        self.lower = self.upper = None
        self.data_w = np.zeros(n)
        self.data_y = np.zeros((n, lay.m))
        for side in lay.sides:  # multipliers at fixed nodes, free ends' abscissae, the box, the data
            side.init(self)
        self.set_guess(U0)

    def from_coarse(self, coarse, values):
        """Node values ``values`` of a coarse solution interpolated onto this grid, shape (n, -1).

        The coarse grid is every k-th node of this one (``coarse_nodes``), and values are
        interpolated linearly in the node *index*, not in ``x``: a graded grid is built so that
        the solution is smooth in the index (f ~ x^(2/3) is ~ s² on x = s³), while linear
        interpolation in ``x`` misses such a profile by a factor ~k in the first coarse cell.
        """
        F = np.asarray(values).reshape(coarse.x.size, -1)
        s = np.arange(self.x.size)
        return np.stack([np.interp(s, self.coarse_nodes, F[:, j]) for j in range(F.shape[1])], axis=1)

    def set_guess(self, U0, coarse=None):
        """Initial values ``U0`` (n, m) -> ``V0`` (d, n), with slopes and multipliers — from
        ``coarse`` (a solution on fewer nodes) when given, else zero multipliers."""
        lay = self.layout
        if self.lower is not None:
            U0 = np.clip(U0, self.lower[: lay.m].T, self.upper[: lay.m].T)
        self._check_slope_guess(U0, coarse)
        self.U0 = U0
        rows = [U0.T] + lay.element.guess_rows(self, U0, coarse)  # interior values, slopes
        for side in lay.sides:  # multipliers: zero, or the coarse solution's
            rows += side.guess(self, coarse)
        self.V0 = np.concatenate(rows, axis=0)
        if self.lower is not None:  # the element's other rows too (degree p: interior GLL values)
            self.V0 = np.where(self.fixed, self.V0, np.clip(self.V0, self.lower, self.upper))
        if coarse is not None:
            for side in lay.sides:
                side.guess_z(self, coarse)

    def _check_slope_guess(self, U0, coarse):
        """A slope bound's barrier needs a start strictly inside (no projection): refuse a guess
        whose slopes (at the points where the bound holds) are not, naming the cell and a remedy."""
        bound = self.problem.slope_bound
        if bound is None:
            return
        side = next(s for s in self.layout.sides if s.con is bound)
        xq, _, _, D = side.slope_points(self)
        rows = [U0.T] + self.layout.element.guess_rows(self, U0, coarse)
        V = np.concatenate(rows, axis=0)
        p = D.shape[1] - 1
        w = np.concatenate([V[:p, :-1].T, V[:1, 1:].T], axis=1)
        x = self.x_user
        slope = w @ D.T / np.diff(x)[:, None]
        lo, hi = (v.reshape(xq.shape) for v in bound.values(xq.reshape(-1)))
        bad = ~((slope > lo) & (slope < hi))
        if bad.any():
            i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise ValueError(
                f"guess: its slope {slope[i, j]:.6g} at x = {xq[i, j]:.6g} (cell [{x[i]:.6g}, {x[i + 1]:.6g}]) is "
                f"not strictly inside the Bound {bound.name!r} on f' ({lo[i, j]:.6g} .. {hi[i, j]:.6g}); give a "
                "guess=... whose slopes satisfy it strictly (the end values must allow one)"
            )

    @property
    def functional(self):
        """The cell part of the discrete Lagrangian (used for error reports)."""
        return DiscreteLagrangian(self.problem, self.layout, self.blocks).elements

    def aux(self):
        problem = self.problem
        a, b = problem.domain
        mass = lumped_mass(self.x)
        aux = dict(
            p=self.params,
            c=np.array([c.value for c in problem.integrals], dtype=np.float64),
            # numpy scalars, not Python floats: strongly typed, so every caller (solve, certificate,
            # tangent rule) hits the same compiled kernel
            sign=np.float64(-1.0 if self.mode == "maximize" else 1.0),
            a=np.float64(a),
            b=np.float64(b),
            length=np.float64(self.x[-1] - self.x[0]),
            mass=mass,
            w=self.data_w,
            y=self.data_y,
        )
        for side in self.layout.sides:
            side.aux(self, aux)
        return aux

    def arrays(self):
        """The inputs of the compiled solver (all traced: new values do not recompile)."""
        lo = self.lower if self.lower is not None else np.zeros(0)
        hi = self.upper if self.upper is not None else np.zeros(0)
        return (
            jnp.asarray(self.V0),
            jnp.asarray(self.z0),
            jnp.asarray(self.x),
            self.aux(),
            jnp.asarray(self.fixed),
            jnp.asarray(lo),
            jnp.asarray(hi),
        )

    @property
    def uses_kkt(self):
        lay = self.layout
        return self.mode == "stationary" or lay.k > 0 or lay.r > 0

    def quadrature_summary(self) -> dict[str, int]:
        return self.layout.element.quadrature_summary(self)


def discretize(
    problem: Problem,
    n: int | None = None,
    *,
    grid: ArrayLike | None = None,
    guess: Callable[..., Any] | ArrayLike | None = None,
    quadrature: str = "auto",
    singular_ends: Sequence[str] | Mapping[str, int] | None = None,
    params: Any = None,
    mode: Literal["minimize", "maximize", "stationary"] = "minimize",
    degree: int = 1,
) -> _Discretization:
    """Validate the inputs of :func:`solve` and build its discretization (no solve)."""
    _require_float64()
    if not isinstance(problem, Problem):
        raise TypeError(f"problem: expected a vc.Problem, got {type(problem).__name__}")
    degree = _check_degree(degree)
    # The element family (varcalc.families) and the side conditions (varcalc.sides), each
    # refusing what it does not support.
    element = element_for(problem.order, degree)
    sides = sides_for(problem)
    element.check(problem, quadrature, sides)
    for side in sides:
        if side.elements is not None and element.name not in side.elements:
            raise ValueError(element.sides_message([side.kind]))
    if grid is not None and n is not None:
        raise ValueError("n, grid: give one of them, not both (n means a uniform grid of n nodes)")
    if mode not in _MODES:
        raise ValueError(f"mode: expected one of {_MODES}, got {mode!r}")
    for side in sides:
        side.check_mode(mode)
    params = _check_params(problem, params)
    x = uniform_grid(problem.domain, 201 if n is None else n) if grid is None else check_grid(grid, problem.domain)
    for side in sides:  # nodes a side needs (data sites)
        x = side.grid(x, given=grid is not None)
    if quadrature not in _QUADRATURES:
        raise ValueError(f"quadrature: expected one of {_QUADRATURES}, got {quadrature!r}")
    _probe_integrand(problem, params)
    _check_side_conditions(sides, problem, x)
    disc = _Discretization(problem, x, _guess_values(problem, x, guess, params, mode), params, mode, degree)

    def build(x, end_powers, s):  # the discretization on another grid (an element's end map)
        return _Discretization(
            problem, x, _guess_values(problem, x, guess, params, mode), params, mode, degree, end_powers=end_powers, s=s
        )

    # The element finishes it: quadrature blocks and singular ends (P1), end maps (Lagrange).
    return disc.layout.element.setup(
        disc,
        build,
        grid=grid,
        guess=guess,
        quadrature=quadrature,
        singular_ends=singular_ends,
        detect=_detect_singular_ends,
    )


_MAX_DEGREE = 16


def _guess_values(problem, x, guess, params, mode):
    """Initial node values (n, m): ``guess``, or the default (made feasible for an Integral)."""
    U0 = _initial_values(problem, x, guess)
    if guess is None and problem.integrals and not problem.is_vector and problem.order == 1:
        U0 = _feasible_default_guess(problem, x, U0, params, -1.0 if mode == "maximize" else 1.0)
    return U0


def _check_degree(degree):
    """``degree`` must be an integer from 1 to ``_MAX_DEGREE``."""
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"degree: expected an integer polynomial degree, got {type(degree).__name__}")
    if not 1 <= degree <= _MAX_DEGREE:
        raise ValueError(f"degree: expected 1 <= degree <= {_MAX_DEGREE}, got {degree}")
    return int(degree)


def _feasible_default_guess(problem, x, U0, params, sign):
    """The straight line plus the bubble ``A sin(π (x - a)/(b - a))`` that meets the first Integral.

    The straight line is often a critical point of the constraint (arc length), where the
    constraint's gradient vanishes and the KKT matrix is singular (Dido's problem from f = 0).
    The amplitude ``A`` is found by bisection on the midpoint-rule ``∫H``; of the two signs, the
    one with the lower ``sign · J`` is kept (``sign = -1`` to maximise).
    Returns ``U0`` unchanged when no amplitude up to ``2 (b - a)`` meets the constraint.
    """
    c = problem.integrals[0]
    a, b = x[0], x[-1]
    bubble = np.sin(np.pi * (x - a) / (b - a))[:, None]
    extra = (params,) if problem.params is not None else ()
    xm, h = 0.5 * (x[1:] + x[:-1]), np.diff(x)

    def integral(fun, U):
        f, df = 0.5 * (U[1:, 0] + U[:-1, 0]), np.diff(U[:, 0]) / h
        vals = _vectorised(fun)(jnp.asarray(f), jnp.asarray(df), jnp.asarray(xm), *extra)
        return float(np.sum(h * np.asarray(vals)))

    best = None
    for sign in (1.0, -1.0):
        amps = sign * (b - a) * np.geomspace(1e-3, 2.0, 40)
        resid = [integral(c.fun, U0 + A * bubble) - c.value for A in amps]
        crossing = [i for i in range(len(amps) - 1) if np.sign(resid[i]) != np.sign(resid[i + 1])]
        if not crossing:
            continue
        lo, hi = amps[crossing[0]], amps[crossing[0] + 1]
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            same = np.sign(integral(c.fun, U0 + mid * bubble) - c.value) == np.sign(resid[crossing[0]])
            lo, hi = (mid, hi) if same else (lo, mid)
        U = U0 + 0.5 * (lo + hi) * bubble
        J = sign * integral(problem.integrand, U)
        if np.isfinite(J) and (best is None or J < best[0]):
            best = (J, U)
    return U0 if best is None else best[1]


def _vectorised(fun):
    return cache.get(
        ("vectorised", fun),
        lambda: jax.jit(lambda f, df, x, *p: jax.vmap(lambda a, b_, c_: fun(a, b_, c_, *p))(f, df, x)),
    )


def _check_params(problem, params):
    if params is None:
        return problem.params
    if problem.params is None:
        raise ValueError(
            "params: this problem's integrand takes no parameters; create it with "
            "vc.Problem(..., params=default_values) and write G(f, df, x, p)"
        )
    want = jax.tree.structure(problem.params)
    got = jax.tree.structure(params)
    if want != got:
        raise ValueError(f"params: expected the structure of problem.params, {want}, got {got}")
    return params


def _check_side_conditions(sides, problem, x):
    """Constraints that contradict the boundary conditions or each other: ValueError naming them
    (each side condition checks itself, :meth:`varcalc.sides.Side.check_grid`)."""
    for side in sides:
        side.check_grid(problem, x)


def _diagnose_integrals(problem, disc, sol):
    """After a failed constrained solve: is an Integral constraint impossible with these BCs?

    Solves ``min ∫H`` under the same boundary conditions; a value below that minimum cannot be
    attained (e.g. a chain shorter than the distance between its supports): ValueError.
    """
    for c in problem.integrals:
        aux_problem = Problem(
            c.fun,
            problem.domain,
            problem.bc,
            components=problem.shape if problem.is_vector else None,
            order=problem.order,
            params=problem.params,
        )
        try:
            least = solve(aux_problem, grid=disc.x_user, params=disc.params, warm_start=False)
        except ValueError:
            continue
        if least.converged and c.value < least.value - 1e-9 * (1 + abs(least.value)):
            raise ValueError(
                f"Integral {c.name!r}: value {c.value:g} is below the least possible ∫H = {least.value:.6g} "
                f"for these boundary conditions (by {least.value - c.value:.3g}); e.g. a chain cannot be "
                "shorter than the distance between its supports"
            )


def _require_float64():
    if not jax.config.jax_enable_x64:  # (a config read: jnp.zeros(()) here would compile a program)
        raise RuntimeError(
            "varcalc needs float64 but JAX's x64 mode is off (jax_enable_x64 was disabled after "
            "importing varcalc). Re-enable it with jax.config.update('jax_enable_x64', True)."
        )


def _initial_values(problem: Problem, x: np.ndarray, guess) -> np.ndarray:
    n, m = x.size, problem.components
    if guess is None:
        left, right = problem.bc_flat.get("left"), problem.bc_flat.get("right")
        if left is not None and right is not None:
            t = ((x - x[0]) / (x[-1] - x[0]))[:, None]
            U0 = (1 - t) * left + t * right
        elif left is not None or right is not None:
            U0 = np.broadcast_to(left if left is not None else right, (n, m)).copy()
        else:
            U0 = np.zeros((n, m))
    else:
        if callable(guess):
            try:
                values = guess(x)
            except Exception as exc:  # the user's function: report what failed, keep the cause
                raise ValueError(f"guess: calling guess(x) on the grid (shape {x.shape}) raised {exc!r}") from exc
            what = "guess(x)"
        else:
            values, what = guess, "guess"
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{what}: expected real numbers, got {type(values).__name__}") from None
        expected = [(n,), (n, m)] if not problem.is_vector else [(n, m)]
        if len(problem.shape) > 1:
            expected.append((n,) + problem.shape)
            if values.shape == (n,) + problem.shape:
                values = values.reshape(n, m)
        if values.shape == (n,) and problem.is_vector and m == 1:
            values = values[:, None]
        if values.shape not in expected and not (values.shape == (n,) and m == 1):
            raise ValueError(
                f"{what}: expected node values of shape {' or '.join(map(str, expected))} "
                f"for {n} nodes, got shape {values.shape}"
            )
        U0 = values.reshape(n, m).copy()
        if not np.all(np.isfinite(U0)):
            i = int(np.argmax(~np.all(np.isfinite(U0), axis=1)))
            raise ValueError(f"{what}: non-finite value at x = {x[i]!r}")
    if "left" in problem.bc:
        U0[0] = problem.bc_flat["left"]
    if "right" in problem.bc:
        U0[-1] = problem.bc_flat["right"]
    return U0


def _probe_integrand(problem: Problem, params):
    """Trace G (and each Integral's H) once with abstract arguments: a real scalar comes out?"""
    shape = problem.shape
    arg = jax.ShapeDtypeStruct(shape, jnp.float64)
    x = jax.ShapeDtypeStruct((), jnp.float64)
    args = (arg,) * (problem.order + 1) + (x,) + ((params,) if problem.params is not None else ())
    names = "f, df, d2f" if problem.order == 2 else "f, df"
    sig = f"G({names}, x{', p' if problem.params is not None else ''})"
    funs = [("integrand", problem.integrand)] + [(f"Integral {c.name!r}", c.fun) for c in problem.integrals]
    for what, fun in funs:
        try:
            out = jax.eval_shape(fun, *args)
        except jax.errors.ConcretizationTypeError as exc:
            raise TypeError(
                f"{what}: it branches on or converts the values of its arguments, which JAX cannot trace; "
                f"write it with jax.numpy (jnp.where instead of if). Original error: {exc}"
            ) from exc
        except Exception as exc:  # the user's function: say how it was called
            raise TypeError(
                f"{what}: calling {sig} with {names} of shape {shape} and scalar x raised "
                f"{type(exc).__name__}: {exc}. Write it with jax.numpy and check its signature {sig}."
            ) from exc
        if not hasattr(out, "shape") or out.shape != ():
            got = getattr(out, "shape", type(out).__name__)
            raise ValueError(f"{what}: expected {sig} to return a scalar, got shape {got}")
        if not jnp.issubdtype(out.dtype, jnp.floating) and not jnp.issubdtype(out.dtype, jnp.integer):
            raise TypeError(f"{what}: expected a real scalar, got dtype {out.dtype}")


def _detect_singular_ends(disc) -> tuple[str, ...]:
    """Dirichlet ends where G or ∂G/∂f is not finite at the end point along the guess."""
    problem = disc.problem
    ends = [e for e in ("left", "right") if e in problem.bc]
    if not ends:
        return ()
    x, U0 = disc.x, disc.U0
    idx = [(0, 1) if e == "left" else (-1, -2) for e in ends]
    f = np.stack([U0[i] for i, _ in idx])
    df = np.stack([(U0[j] - U0[i]) / (x[j] - x[i]) for i, j in idx])
    xe = np.array([x[i] for i, _ in idx])
    check = _end_check(disc.layout, disc.problem)
    ok = np.asarray(check(f, df, xe, jax.device_put(disc.z0), disc.aux()))
    return tuple(e for e, good in zip(ends, ok) if not good)


def _check_guess_finite(disc: _Discretization):
    # Only on the error path, so compiled on demand rather than cached.
    V0, x, aux = jnp.asarray(disc.V0), jnp.asarray(disc.x), disc.aux()
    energies = jax.jit(disc.functional.cell_energies)(V0[: disc.layout.d_el], x, jnp.asarray(disc.z0), aux)
    bad = ~np.isfinite(np.asarray(energies))
    if bad.any():
        i = int(np.argmax(bad))
        xu = disc.x_user
        raise ValueError(
            f"guess: the integrand is NaN/inf on the initial guess for x in the cell "
            f"[{float(xu[i]):.6g}, {float(xu[i + 1]):.6g}] (the first bad cell; f goes from "
            f"{np.round(disc.U0[i], 6).tolist()} to {np.round(disc.U0[i + 1], 6).tolist()} there). "
            "Give a guess=... inside the integrand's domain of definition."
        )


# -- compiled pieces, cached per integrand and structure in varcalc.cache (jit adds one entry per
# shape) ---------------------------------------------------------------------------------------
def _end_check(layout, problem, *, nested=False):
    """Are G̃ and ∂G̃/∂f finite at each (f, df, x)?  Jitted (one compile instead of eager ops) on
    the baseline tier: two points, so compile time is all there is.  ``nested=True``: the plain
    vmapped function, for use inside another transformation (JAX refuses compiler options on a
    nested jit)."""

    def make():
        G = DiscreteFunctional(internal_integrand(problem, layout), problem.is_vector, ())._G

        def finite(f, df, xx, z, aux):
            value, grad_f = jax.value_and_grad(G)(f, df, xx, z, aux)
            return jnp.isfinite(value) & jnp.all(jnp.isfinite(grad_f))

        check = jax.vmap(finite, in_axes=(0, 0, 0, None, None))
        return check if nested else jax.jit(check, compiler_options=_BASELINE_OPTIONS)

    return cache.get(("end_check", nested, layout.key(problem)), make)


def _chunkable(disc) -> bool:
    """Is ``disc``'s Lagrangian made of cell terms alone, so that a :class:`ChunkedKernel` (one
    compiled chunk for every grid size) can evaluate it?  P1 elements with one quadrature rule, no
    global unknowns, and no side with node, end or quadrature-point terms (a Bound has none)."""
    lay = disc.layout
    plain_sides = all(not (s.rows or s.z or s.integrand or s.nodal or s.point or s.free_end) for s in lay.sides)
    return (
        lay.degree == 1
        and lay.order == 1
        and lay.k == 0
        and plain_sides
        and len(disc.blocks) <= 1
        and not disc.uses_kkt
    )  # (the minimising step: mode="stationary" calls the kernel's kkt)


def padded_nodes(disc, n: int) -> int:
    """The node count the Python loop pads ``n`` nodes of ``disc`` to: whole chunks of the
    chunked kernel (:func:`varcalc.drivers.chunked_nodes`) where it applies, else the size bucket."""
    return chunked_nodes(n) if _chunkable(disc) else bucket(n)


def kernel_inputs(disc, N, x=None, aux=None):
    """``(kernel, x, aux)`` for unknowns padded to ``N`` nodes, from ``disc``'s
    structure and its grid ``x`` and ``aux`` (or the given ones, of the same size).

    The kernel is compiled per bucket: the grid is continued past its end, per-node data padded,
    ``aux["cells"]`` holds the real cell count, and the last quadrature block runs on to the
    bucket's last cell (its padded cells masked).  The blocks before it —
    the tanh-sinh cells at a singular left end, whose count does not depend on ``n`` — stay as
    they are, so a new ``n`` in a known bucket compiles no kernel there either."""
    x = disc.x if x is None else np.asarray(x)
    aux = disc.aux() if aux is None else aux
    n = x.size
    blocks = disc.blocks  # (empty for elements with one rule of their own: Hermite, Lagrange)
    chunked = _chunkable(disc)
    if blocks:  # the last block runs on to the last padded cell (of one chunk, when chunked)
        last = CHUNK_NODES - 1 if chunked else N - 1
        blocks = blocks[:-1] + (CellBlock(blocks[-1].start, last, blocks[-1].rule_name),)
    aux = dict(
        aux,
        mass=pad_numpy(aux["mass"], N, 0),
        w=pad_numpy(aux["w"], N, 0),
        y=pad_numpy(aux["y"], N, 0),
        cells=np.int64(n - 1),
    )
    if "slope_lower" in aux:  # per cell (read by the step, not the kernel): padded cells unbounded
        aux.update(
            slope_lower=pad_numpy(aux["slope_lower"], N - 1, 0, -np.inf),
            slope_upper=pad_numpy(aux["slope_upper"], N - 1, 0, np.inf),
        )
    kernel = _kernel(disc, blocks)
    return (ChunkedKernel(kernel) if chunked else kernel), pad_grid(x, N), aux


def _kernel(disc, blocks=None) -> Kernel:
    """The compiled per-integrand pieces of ``disc``'s Lagrangian (cached per structure), on
    ``disc.blocks`` or the given quadrature ``blocks`` (those of a grid padded to a bucket)."""
    problem, lay = disc.problem, disc.layout
    blocks = disc.blocks if blocks is None else blocks
    return cache.get(("kernel", lay.key(problem), blocks), lambda: Kernel(DiscreteLagrangian(problem, lay, blocks)))


def _step(disc, solver, xp=jnp):
    """The generic Newton step for ``disc``'s structure: :class:`~varcalc.steps.MinimizeStep`
    (with bounds) or :class:`~varcalc.steps.StationaryStep` (multipliers, free ends, saddles);
    ``xp``: ``jax.numpy`` (traced, the fused loop) or ``numpy`` (the Python loop, on the host)."""
    lay = disc.layout
    opts = dict(max_iter=solver.max_iter, max_backtracks=solver.max_backtracks, xp=xp)
    if not disc.uses_kkt:
        return MinimizeStep(bounds=lay.has_bound, **opts)
    rows = np.arange(lay.d) >= lay.d_el
    mult = lay.multiplier_mask if lay.n_multipliers_global else None  # not: a free end's abscissa
    return StationaryStep(
        multipliers=mult, multiplier_rows=rows, minimize=disc.mode != "stationary", bounds=lay.has_bound, **opts
    )


def _compiled_solver(disc, solver):
    """The fused Newton loop (one ``lax.while_loop``, jitted) for one problem structure: what
    ``vmap``, batches and ``jax.grad`` through a solve use.  Values — guess, grid, parameters,
    constraint values — are inputs."""
    problem, lay = disc.problem, disc.layout
    step = _step(disc, solver)
    key = ("fused", lay.key(problem), disc.blocks, step.key())

    def make():
        lag = DiscreteLagrangian(problem, lay, disc.blocks)
        opts = dict(max_iter=solver.max_iter, max_backtracks=solver.max_backtracks)

        def run(V0, z0, x, aux, fixed, lower, upper, rtol, atol):
            if isinstance(step, StationaryStep):
                bounds = dict(lower=lower, upper=upper) if step.bounds else {}
                return stationary_loop(
                    lag,
                    V0,
                    z0,
                    x,
                    aux,
                    fixed,
                    rtol,
                    atol,
                    multipliers=step.multipliers,
                    multiplier_rows=step.multiplier_rows,
                    minimize=step.minimize,
                    **bounds,
                    **opts,
                )
            return minimize_loop(lag, V0, x, aux, fixed, lower, upper, rtol, atol, bounds=step.bounds, **opts)

        return jax.jit(run)

    return cache.get(key, make)


# What the layers below this module (estimate, adaptive, certify) call without importing it.
_entry.register(
    solve=solve,
    discretize=discretize,
    run_newton=run_newton,
    kernel_inputs=kernel_inputs,
    check_degree=_check_degree,
    step=_step,
    padded_nodes=padded_nodes,
)
