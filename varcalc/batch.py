"""``vc.solve_batch``: many problems of one structure in one compiled call.

A batch is one :class:`~varcalc.Problem` solved for ``B`` sets of values: parameters ``p`` (a
pytree whose leaves have a leading batch axis), Dirichlet values, initial guesses.  Everything that
varies is a traced input of the compiled Newton loop (see :func:`varcalc.solve`), so
``jax.vmap`` over a leading axis solves all lanes with one compilation::

    Problem ─► discretize (one grid, one set of quadrature blocks: the union over lanes)
            ─► (B, d, n) initial unknowns, (B, ...) parameters
            ─► jit(vmap(Newton loop))  [shard_map over a device mesh on the batch axis]
            ─► BatchSolution (numpy arrays with a leading batch axis; batch[i] -> vc.Solution)

Every lane has its own Newton iteration inside the vmapped ``lax.while_loop``: a lane that fails
(NaN, no descent, too many iterations) stops with its own status and does not change the others
(a finished lane's state is frozen while the others go on).  The batch is solved in chunks of
``chunk_size`` lanes (all padded to one shape, so one compilation serves every chunk); on several
devices each device runs its own loop on its share of the lanes (``jax.shard_map``: no
communication while iterating).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from . import cache
from .newton import RUNAWAY_CHECKED, Newton, Status, runaway
from .problem import Problem
from .quadrature import assign_rules
from .solution import Solution

if TYPE_CHECKING:  # matplotlib is imported on first plot
    from matplotlib.figure import Figure

__all__ = ["solve_batch", "BatchSolution"]

_S = sys.modules[__package__ + ".solve"]  # the module (``varcalc.solve`` is also the function)


def solve_batch(
    problem: Problem,
    n: int | None = None,
    *,
    grid: ArrayLike | None = None,
    params: Any = None,
    bc: Mapping[str, Any] | None = None,
    guess: Callable[..., Any] | ArrayLike | None = None,
    constraint_values: Mapping[str, Any] | None = None,
    solver: Newton | None = None,
    quadrature: str = "auto",
    singular_ends: Sequence[str] | Mapping[str, int] | None = None,
    mode: Literal["minimize", "maximize", "stationary"] = "minimize",
    devices: str | int | Sequence[jax.Device] | None = None,
    chunk_size: int | None = None,
    progress: bool | Callable[..., Any] = False,
    degree: int = 1,
) -> BatchSolution:
    """Solve ``B`` instances of ``problem`` (different parameters, boundary values, guesses) at once.

    Parameters
    ----------
    problem : Problem
        The structure shared by all lanes: integrand, domain, which ends are Dirichlet ends,
        constraints.  Its own ``params`` and ``bc`` values are the defaults for what is not batched.
    n, grid
        One grid for every lane, as in :func:`varcalc.solve` (``n`` nodes, default 201, or ``grid``).
        There is no coarse-grid warm start (``vc.solve`` makes one above 8193 nodes): for large
        grids give good guesses, e.g. interpolated from a batch solved on a coarser grid.
    params : pytree, optional
        The structure of ``problem.params`` with a leading batch axis ``B`` on every leaf: lane ``i``
        solves with ``jax.tree.map(lambda a: a[i], params)``.
    bc : dict, optional
        Dirichlet values by end (``"left"``, ``"right"``, ``"left'"``, ``"right'"``), each an array
        of shape ``(B,) + problem's unknown shape``.  Only ends that ``problem.bc`` fixes can vary.
    guess : callable or array_like, optional
        ``guess(x)`` returning node values for all lanes (shape ``(n,)``/``(n, m)``) or per lane
        (``(B, n)``/``(B, n, m)``); or such an array.  Default: per lane the straight line between
        the lane's Dirichlet values (as :func:`varcalc.solve`).  Dirichlet values are imposed.
    constraint_values : dict, optional
        ``{name: (B,) values}`` for the problem's :class:`~varcalc.Integral` constraints.
    solver : Newton, optional
        Iteration options (one set for the batch).
    quadrature, singular_ends, mode
        As in :func:`varcalc.solve`.  With ``quadrature="auto"`` an end is treated as singular when
        it is singular for *any* lane (one quadrature layout, one compilation for the batch).
    devices : None, "all", int or sequence of jax.Device
        Shard the batch axis over these devices (a 1-D ``jax.sharding.Mesh`` named ``"batch"``;
        each device iterates on its own lanes).  ``None``: JAX's default device only; ``"all"``:
        ``jax.devices()``; an int ``k``: the first ``k``.  On several hosts, call
        ``jax.distributed.initialize()`` in every process first and pass ``devices="all"``:
        every process calls ``solve_batch`` with the same arguments and gets the whole result.
    chunk_size : int, optional
        Lanes per compiled call (the last chunk is padded).  Default: the whole batch on GPU/TPU;
        on CPU about 32768 nodes per chunk (cache-sized; measured fastest), at least 1 lane per
        device.  Rounded up to a multiple of the number of devices.
    progress : bool or callable
        ``True``: print a line per chunk to stderr (lanes done, converged, elapsed, estimate).
        A callable is called after each chunk as ``progress(done, total, converged, elapsed)``.
    degree : int
        Polynomial degree of the elements, as in :func:`varcalc.solve`.  With ``degree > 1`` an end
        that is singular for *any* lane is mapped away for every lane (``x - a ∝ s^k``, ``k`` found
        along a lane singular there; the map keeps a smooth lane smooth), and each lane starts from
        its guess at the nodes, linear in between (cubic Hermite for ``order=2``).

    Returns
    -------
    BatchSolution
        Arrays with a leading axis ``B``: ``f``, ``value``, ``converged``, ``status``,
        ``iterations``, ...; ``batch[i]`` is lane ``i`` as an ordinary :class:`varcalc.Solution`.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x, p: 0.5 * df**2 - p["q"] * f, (0.0, 1.0),
    ...                bc={"left": 0.0, "right": 0.0}, params={"q": 1.0})
    >>> batch = vc.solve_batch(p, n=11, params={"q": np.array([1.0, 2.0, 4.0])})
    >>> batch.converged.tolist(), np.round(batch.f[:, 5], 6).tolist()   # exact: q x (1 - x) / 2
    ([True, True, True], [0.125, 0.25, 0.5])
    """
    t_start = time.perf_counter()
    if not isinstance(problem, Problem):
        raise TypeError(f"problem: expected a vc.Problem, got {type(problem).__name__}")
    solver = Newton.checked(solver)
    if not (progress is True or progress is False or callable(progress)):
        raise TypeError(f"progress: expected True, False or a callable, got {progress!r}")
    sizes = {}
    params_b = _check_batched_params(problem, params, sizes)
    bc_b = _check_batched_bc(problem, bc, sizes)
    cv_b = _check_batched_constraints(problem, constraint_values, sizes)
    guess_values = _guess_values(guess)  # None, callable or array (shape checked on the grid)
    lane_problem = _lane_problem_factory(problem, bc_b, cv_b)
    lane_params = _lane_params_factory(problem, params_b)

    # The template: lane 0's discretization (validates everything once).  Singular ends: detected
    # below over all lanes, so the template is built without detection.
    order1 = problem.order == 1
    detect = order1 and singular_ends is None and quadrature == "auto"
    disc = _S.discretize(
        lane_problem(0),
        n,
        grid=grid,
        guess=None,
        quadrature=quadrature,
        singular_ends=() if detect else singular_ends,
        params=lane_params(0),
        mode=mode,
        degree=degree,
    )

    def lanes(disc):
        """Every lane's initial unknowns on the template's grid, and ``aux`` with its batch axes."""
        x_user, lay = disc.x_user, disc.layout
        U0 = _batched_guess(problem, lay, x_user, guess_values, sizes)
        B = _batch_size(sizes)
        U0 = _default_and_bc(problem, x_user, U0, bc_b, B)
        if guess is None and problem.integrals and not problem.is_vector and order1:
            sign = -1.0 if mode == "maximize" else 1.0
            U0 = np.stack(
                [_S._feasible_default_guess(lane_problem(i), x_user, U0[i], lane_params(i), sign) for i in range(B)]
            )
        V0, U0 = _initial_unknowns(disc, problem, U0, bc_b, B)
        aux = disc.aux()
        batched = set()  # entries of aux with a batch axis
        if params_b is not None:
            aux, batched = dict(aux, p=params_b), batched | {"p"}
        if cv_b is not None:
            c = np.array(
                [cv_b[con.name] if con.name in cv_b else np.full(B, con.value) for con in problem.integrals]
            ).T  # (B, k_int)
            aux, batched = dict(aux, c=c), batched | {"c"}
        return B, U0, V0, aux, frozenset(batched)

    B, U0, V0, aux, batched = lanes(disc)
    if detect:
        ends = _union_singular_ends(disc, U0, aux, batched)
        if degree == 1:  # P1: accurate rules in the end cells, for every lane
            disc.singular_ends = ends
            disc.blocks = tuple(assign_rules(disc.x, ends))
        elif ends:  # degree p: the end map x - a ∝ s^k, k found along a lane singular there
            powers = {}
            ok = _singular_lanes(disc, U0, aux, batched)  # (B, E): is G finite at the end, per lane
            for e in ends:
                lane = int(np.argmin(ok[:, _dirichlet_ends(problem).index(e)]))
                one = _S.discretize(
                    lane_problem(lane),
                    n,
                    grid=grid,
                    singular_ends=(e,),
                    params=lane_params(lane),
                    mode=mode,
                    degree=degree,
                )
                powers[e] = one.layout.end_powers[0 if e == "left" else 1]
            disc = _S.discretize(
                lane_problem(0), n, grid=grid, singular_ends=powers, params=lane_params(0), mode=mode, degree=degree
            )
            B, U0, V0, aux, batched = lanes(disc)
    x_user = disc.x_user
    nn = x_user.size

    mesh = _device_mesh(devices)
    n_dev = 1 if mesh is None else mesh.devices.size
    chunk = _chunk_size(chunk_size, B, nn, n_dev)
    fn = _batched_solver(disc, solver, batched, mesh)
    common = dict(
        z0=jnp.asarray(disc.z0),
        x=jnp.asarray(disc.x),
        fixed=jnp.asarray(disc.fixed),
        lower=jnp.asarray(disc.lower if disc.lower is not None else np.zeros(0)),
        upper=jnp.asarray(disc.upper if disc.upper is not None else np.zeros(0)),
    )
    aux_common = {k: v for k, v in aux.items() if k not in batched}
    report = _progress_reporter(progress, B)
    pieces = []
    t_solve = time.perf_counter()
    pending = None
    n_conv = 0
    for start in range(0, B, chunk):
        idx = np.arange(start, start + chunk)
        valid = int(np.sum(idx < B))
        idx = np.where(idx < B, idx, 0)  # pad with lane 0 (a valid problem; results discarded)
        aux_c = dict(aux_common, **{k: jax.tree.map(lambda a: a[idx], aux[k]) for k in batched})
        args = (
            V0[idx],
            common["z0"],
            common["x"],
            aux_c,
            common["fixed"],
            common["lower"],
            common["upper"],
            jnp.asarray(float(solver.rtol)),
            jnp.asarray(float(solver.atol)),
        )
        out = fn(*_place(args, mesh, batched))  # asynchronous: overlaps the next chunk's setup
        if pending is not None:
            n_conv += _collect(pending, pieces)
            report(sum(p["k"].shape[0] for p in pieces), n_conv, time.perf_counter() - t_solve)
        pending = (out, valid)
    n_conv += _collect(pending, pieces)
    report(B, n_conv, time.perf_counter() - t_solve)
    out = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    elapsed = time.perf_counter() - t_start
    return BatchSolution._build(
        problem, disc, out, U0, params_b, bc_b, cv_b, elapsed, chunk, n_dev, lane_problem, lane_params
    )


# -- input checks -----------------------------------------------------------------------------
def _check_batched_params(problem, params, sizes):
    if params is None:
        return None
    _S._check_params(problem, params)  # the structure; the leading batch axis is checked below
    out = []
    for default, leaf in zip(jax.tree.leaves(problem.params), jax.tree.leaves(params)):
        a = np.asarray(leaf, dtype=np.float64) if not _is_int(leaf) else np.asarray(leaf)
        shape = np.shape(default)
        if a.ndim != len(shape) + 1 or a.shape[1:] != shape:
            raise ValueError(
                f"params: expected leaves of shape (B,) + {shape} (a leading batch axis on "
                f"the default's shape), got {a.shape}"
            )
        sizes.setdefault("params", a.shape[0])
        if a.shape[0] != sizes["params"]:
            raise ValueError(f"params: leaves have different batch sizes ({sizes['params']} and {a.shape[0]})")
        out.append(a)
    return jax.tree.unflatten(jax.tree.structure(problem.params), out)


def _is_int(leaf):
    return np.issubdtype(np.asarray(leaf).dtype, np.integer)


def _check_batched_bc(problem, bc, sizes):
    if bc is None:
        return None
    if not isinstance(bc, dict):
        raise TypeError(f"bc: expected a dict end -> array of batch values, got {type(bc).__name__}")
    out = {}
    for key, values in bc.items():
        if key not in problem.bc:
            raise ValueError(
                f"bc: {key!r} is not a Dirichlet end of this problem (its bc: "
                f"{sorted(problem.bc)}); solve_batch varies the values of fixed ends only"
            )
        try:
            a = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"bc[{key!r}]: expected real numbers, got {type(values).__name__}") from None
        if a.ndim != len(problem.shape) + 1 or a.shape[1:] != problem.shape:
            raise ValueError(f"bc[{key!r}]: expected shape (B,) + {problem.shape} (one value per lane), got {a.shape}")
        if not np.all(np.isfinite(a)):
            lane = int(np.argmax(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)))
            raise ValueError(f"bc[{key!r}]: non-finite value in lane {lane}")
        sizes.setdefault("bc", a.shape[0])
        if a.shape[0] != sizes["bc"]:
            raise ValueError(f"bc: values have different batch sizes ({sizes['bc']} and {a.shape[0]})")
        out[key] = a
    return out or None


def _guess_values(guess):
    if guess is None or callable(guess):
        return guess
    try:
        return np.asarray(guess, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"guess: expected real numbers, got {type(guess).__name__}") from None


def _batched_guess(problem, lay, x, guess, sizes):
    """``U0`` (B, n, m) from the guess, or None for the default (straight lines)."""
    if guess is None:
        return None
    what = "guess"
    if callable(guess):
        try:
            values = guess(x)
        except Exception as exc:  # the user's function: report what failed, keep the cause
            raise ValueError(f"guess: calling guess(x) on the grid (shape {x.shape}) raised {exc!r}") from exc
        values, what = np.asarray(values, dtype=np.float64), "guess(x)"
    else:
        values = guess
    n, m, shape = x.size, lay.m, problem.shape
    one = [(n,) + shape, (n, m)] + ([(n,)] if m == 1 else [])
    if values.shape in one:
        U = values.reshape(1, n, m)
    elif values.ndim >= 2 and values.shape[1:] in one:
        U = values.reshape(values.shape[0], n, m)
        sizes.setdefault("guess", values.shape[0])
    else:
        raise ValueError(
            f"{what}: expected node values of shape {one[0]} (all lanes) or (B,) + {one[0]} "
            f"(per lane) for {n} nodes, got {values.shape}"
        )
    bad = ~np.all(np.isfinite(U), axis=2)
    if bad.any():
        lane, node = np.argwhere(bad)[0]
        where = f" (lane {lane})" if U.shape[0] > 1 else ""
        raise ValueError(f"{what}: non-finite value at x = {float(x[node])!r}{where}")
    return U


def _batch_size(sizes):
    if not sizes:
        raise ValueError(
            "params, bc, guess: nothing has a batch axis; give params (leaves of shape (B, ...)), "
            "bc (dict end -> (B,) values) or per-lane guesses (B, n)"
        )
    values = set(sizes.values())
    if len(values) > 1:
        got = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"params, bc, guess: different batch sizes: {got}")
    B = values.pop()
    if B < 1:
        raise ValueError("params, bc, guess: the batch is empty")
    return B


def _check_batched_constraints(problem, cv, sizes):
    if cv is None:
        return None
    if not isinstance(cv, dict):
        raise TypeError(f"constraint_values: expected a dict name -> (B,) values, got {type(cv).__name__}")
    names = [c.name for c in problem.integrals]
    out = {}
    for name, values in cv.items():
        if name not in names:
            raise ValueError(
                f"constraint_values: {name!r} is not an Integral constraint of this problem "
                f"(its Integral constraints: {names})"
            )
        a = np.asarray(values, dtype=np.float64)
        if a.ndim != 1 or not np.all(np.isfinite(a)):
            raise ValueError(f"constraint_values[{name!r}]: expected finite values of shape (B,), got shape {a.shape}")
        sizes.setdefault("constraint_values", a.shape[0])
        if a.shape[0] != sizes["constraint_values"]:
            raise ValueError("constraint_values: values have different batch sizes")
        out[name] = a
    return out or None


def _lane_problem_factory(problem, bc_b, cv_b):
    if bc_b is None and cv_b is None:
        return lambda i: problem

    def lane(i):
        bc = dict(problem.bc)
        for key, values in (bc_b or {}).items():
            v = values[i]
            bc[key] = float(v) if problem.shape == () else v
        cons = [
            dataclasses.replace(c, value=float(cv_b[c.name][i]))
            if cv_b and c in problem.integrals and c.name in cv_b
            else c
            for c in problem.constraints
        ]
        # Other values make another problem: the template's exact solution does not apply.
        return dataclasses.replace(
            problem,
            bc=bc,
            constraints=cons,
            components=problem.shape if problem.is_vector else None,
            exact=None,
            exact_value=None,
        )

    return lane


def _lane_params_factory(problem, params_b):
    if params_b is None:
        return lambda i: problem.params
    return lambda i: jax.tree.map(lambda a: a[i], params_b)


def _bc_flat(problem, bc_b, key, B):
    """Lane values of Dirichlet value ``key``, shape (B, m)."""
    if bc_b is not None and key in bc_b:
        return bc_b[key].reshape(B, -1)
    return np.broadcast_to(problem.bc_flat[key], (B, problem.components))


def _initial_unknowns(disc, problem, U0, bc_b, B):
    """``V0`` (B, d, n) from ``U0`` (B, n, m), as ``_Discretization.set_guess`` does per lane."""
    lay = disc.layout
    if disc.lower is not None:
        m = disc.layout.m
        U0 = np.clip(U0, disc.lower[:m].T[None], disc.upper[:m].T[None])
    rows = [np.swapaxes(U0, 1, 2)]
    if lay.order == 2:
        S0 = np.gradient(U0, disc.x_user, axis=1)
        for key, node in (("left'", 0), ("right'", -1)):
            if key in problem.bc:
                S0[:, node] = _bc_flat(problem, bc_b, key, B)
        rows.append(np.swapaxes(S0, 1, 2))
    if lay.degree > 1:  # interior values (the last node's are dummies): linear between the nodes,
        # for C¹ elements the cubic Hermite interpolant of the values and slopes
        from .elements import gll_nodes
        from .families._hermite import hermite_interior

        if lay.order == 2:
            inner = hermite_interior(disc.x_user, U0, S0, lay.element.interior_points())
        else:
            t = gll_nodes(lay.degree)[1:-1][None, None, :, None]  # (1, 1, p-1, 1)
            inner = (1 - t) * U0[:, :-1, None, :] + t * U0[:, 1:, None, :]  # (B, n-1, p-1, m)
        inner = inner.reshape(B, U0.shape[1] - 1, -1)
        inner = np.concatenate([inner, np.zeros((B, 1, inner.shape[2]))], axis=1)
        rows.append(np.swapaxes(inner, 1, 2))
    if lay.r:
        rows.append(np.zeros((B, lay.r, U0.shape[1])))
    return np.ascontiguousarray(np.concatenate(rows, axis=1)), U0


def _default_and_bc(problem, x, U, bc_b, B):
    """The default guess (per lane the straight line between its end values, as vc.solve) or the
    given one broadcast to (B, n, m), with each lane's Dirichlet values at the ends."""
    n, m = x.size, problem.components
    has = {e: e in problem.bc for e in ("left", "right")}
    if U is None:
        if has["left"] and has["right"]:
            t = ((x - x[0]) / (x[-1] - x[0]))[None, :, None]
            left, right = _bc_flat(problem, bc_b, "left", B), _bc_flat(problem, bc_b, "right", B)
            U = (1 - t) * left[:, None, :] + t * right[:, None, :]
        elif has["left"] or has["right"]:
            end = "left" if has["left"] else "right"
            U = np.broadcast_to(_bc_flat(problem, bc_b, end, B)[:, None, :], (B, n, m))
        else:
            U = np.zeros((B, n, m))
    U = np.array(np.broadcast_to(U, (B, n, m)))
    for end, node in (("left", 0), ("right", -1)):
        if has[end]:
            U[:, node] = _bc_flat(problem, bc_b, end, B)
    return U


def _dirichlet_ends(problem):
    return [e for e in ("left", "right") if e in problem.bc]


def _union_singular_ends(disc, U0, aux, batched):
    """Dirichlet ends where G or ∂G/∂f is not finite at the end along *some* lane's guess."""
    ok = _singular_lanes(disc, U0, aux, batched)
    return tuple(e for j, e in enumerate(_dirichlet_ends(disc.problem)) if not ok[:, j].all())


def _singular_lanes(disc, U0, aux, batched):
    """``(B, E)`` bool: are G and ∂G/∂f finite at each Dirichlet end (``E`` of them) along each
    lane's guess?  False: the end is singular for that lane."""
    problem = disc.problem
    ends = _dirichlet_ends(problem)
    if not ends:
        return np.ones((U0.shape[0], 0), bool)
    x = disc.x
    idx = [(0, 1) if e == "left" else (-1, -2) for e in ends]
    f = np.stack([U0[:, i] for i, _ in idx], axis=1)  # (B, E, m)
    df = np.stack([(U0[:, j] - U0[:, i]) / (x[j] - x[i]) for i, j in idx], axis=1)
    xe = np.array([x[i] for i, _ in idx])
    check = _S._end_check(disc.layout, problem, nested=True)
    key = ("ends", check, batched, tuple(sorted(aux)))
    aux_axes = {k: (0 if k in batched else None) for k in aux}
    fn = cache.get(key, lambda: jax.jit(jax.vmap(check, in_axes=(0, 0, None, None, aux_axes))))
    return np.asarray(fn(f, df, xe, jnp.asarray(disc.z0), aux))  # (B, E)


# -- devices, chunks, the compiled call -------------------------------------------------------
def _device_mesh(devices):
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"devices: expected None, 'all', a count or a list of jax devices, got {devices!r}")
        devs = jax.devices()
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        avail = jax.devices()
        if not 1 <= devices <= len(avail):
            raise ValueError(f"devices: expected a count from 1 to {len(avail)} (jax.devices()), got {devices}")
        devs = avail[:devices]
    else:
        try:
            devs = list(devices)
        except TypeError:
            raise TypeError(
                f"devices: expected None, 'all', a count or a list of jax devices, got {devices!r}"
            ) from None
        if not devs or not all(hasattr(d, "platform") and hasattr(d, "id") for d in devs):
            raise TypeError(f"devices: expected a non-empty list of jax devices, got {devices!r}")
    if len(devs) == 1 and jax.process_count() == 1:
        return None if devs[0] == jax.devices()[0] else jax.sharding.Mesh(np.array(devs), ("batch",))
    return jax.sharding.Mesh(np.array(devs), ("batch",))


_CPU_NODES_PER_CHUNK = 32768


def _chunk_size(chunk_size, B, n, n_dev):
    if chunk_size is None:
        if jax.default_backend() == "cpu":
            per_dev = max(1, _CPU_NODES_PER_CHUNK // n)
            chunk = min(B, per_dev * n_dev)
        else:
            chunk = B
    else:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
        chunk = min(int(chunk_size), B)
    return int(math.ceil(chunk / n_dev) * n_dev)


def _batched_solver(disc, solver, batched, mesh):
    """``jit(vmap(run))`` of the compiled Newton loop (``shard_map`` over ``mesh`` when given)."""
    run = _S._compiled_solver(disc, solver)
    aux_keys = tuple(sorted(disc.aux()))
    key = ("batched", run, batched, aux_keys, None if mesh is None else tuple(d.id for d in mesh.devices.flat))
    return cache.get(key, lambda: _make_batched(run, batched, aux_keys, mesh))


def _make_batched(run, batched, aux_keys, mesh):
    aux_axes = {k: (0 if k in batched else None) for k in aux_keys}
    fn = jax.vmap(run, in_axes=(0, None, None, aux_axes, None, None, None, None, None))
    if mesh is not None:
        P = jax.sharding.PartitionSpec
        aux_specs = {k: (P("batch") if k in batched else P()) for k in aux_keys}
        fn = jax.shard_map(
            fn,
            mesh=mesh,
            in_specs=(P("batch"), P(), P(), aux_specs, P(), P(), P(), P(), P()),
            out_specs=P("batch"),
            check_vma=False,
        )
    return jax.jit(fn)


def _place(args, mesh, batched):
    """Put the chunk's inputs on the mesh: batch axis sharded, the rest replicated.  Built with
    ``jax.make_array_from_callback`` so that it also works when the mesh spans several processes."""
    if mesh is None:
        return args
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    def put(a, spec):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, NamedSharding(mesh, spec), lambda i: a[i])

    V0, z0, x, aux, fixed, lower, upper, rtol, atol = args
    aux = {
        k: (jax.tree.map(lambda a: put(a, P("batch")), v) if k in batched else jax.tree.map(lambda a: put(a, P()), v))
        for k, v in aux.items()
    }
    rep = lambda a: put(a, P())
    return (put(V0, P("batch")), rep(z0), rep(x), aux, rep(fixed), rep(lower), rep(upper), rep(rtol), rep(atol))


def _collect(pending, pieces):
    """Fetch one chunk's results to numpy (gathered from every process on several hosts)."""
    out, valid = pending
    if not all(getattr(a, "is_fully_addressable", True) for a in jax.tree.leaves(out)):
        from jax.experimental import multihost_utils

        out = multihost_utils.process_allgather(out, tiled=True)
    out = jax.device_get(out)
    out = {k: np.asarray(v)[:valid] for k, v in out.items()}
    pieces.append(out)
    return int(np.sum(out["status"] == int(Status.SUCCESS)))


def _progress_reporter(progress, total):
    if callable(progress):
        return lambda done, conv, elapsed: progress(done, total, conv, elapsed)
    if not progress:
        return lambda done, conv, elapsed: None
    tty = sys.stderr.isatty()
    first = []  # (done, elapsed) of the first chunk, which includes compilation

    def report(done, conv, elapsed):
        if not first:
            first.append((done, elapsed))
            left = elapsed / done * (total - done)
        else:  # the rate after the first chunk (compilation excluded)
            d0, t0 = first[0]
            left = (elapsed - t0) / max(done - d0, 1) * (total - done)
        line = (
            f"solve_batch: {done}/{total} problems ({100 * done / total:.0f}%), {conv} converged, "
            f"{elapsed:.1f} s" + (f", ~{left:.0f} s left" if done < total else "")
        )
        end = "\n" if (done == total or not tty) else ""
        print(("\r" if tty else "") + line, end=end, file=sys.stderr, flush=True)

    return report


# -- the result -------------------------------------------------------------------------------
@dataclasses.dataclass(eq=False, repr=False)
class BatchSolution:
    """The lanes of a :func:`solve_batch`, as numpy arrays with a leading batch axis ``B``.

    Attributes
    ----------
    x : ndarray, shape (n,) — or (B, n) when a free end moves the grid per lane
    f : ndarray, shape (B, n) or (B, n) + unknown's shape
    value : ndarray (B,)
        ``J_h`` at each lane's last iterate.
    converged : ndarray of bool (B,)
    status : ndarray of int (B,)
        :class:`varcalc.Status` values (``batch.status == vc.Status.SUCCESS`` works).
    iterations : ndarray of int (B,)
    residual : ndarray (B,)
        Pointwise Euler–Lagrange residual at the last iterate.
    negative : ndarray of int (B,)
        Negative directions of the second variation at the last iterate.
    params : pytree or None
        The batched parameters (leading axis ``B``), as given.
    bc : dict or None
        The batched Dirichlet values, as given (shape ``(B,) + unknown's shape``).
    constraint_values : dict or None
        The batched Integral values, as given.
    guess : ndarray (B, n[, ...])
        Initial node values of each lane.
    singular_ends, quadrature
        The batch's (one) quadrature layout.
    time : float
        Wall time of the whole :func:`solve_batch` call (compilation included on a first call).
    chunk_size, devices : int
        How it was run.

    ``batch[i]`` is lane ``i`` as a :class:`varcalc.Solution` (history, multipliers, plot, ...);
    ``len(batch)`` is ``B``; ``messages`` gives each lane's status message.
    """

    problem: Problem
    x: np.ndarray
    f: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    negative: np.ndarray
    params: object
    bc: dict | None
    constraint_values: dict | None
    guess: np.ndarray
    singular_ends: tuple
    quadrature: dict
    time: float
    chunk_size: int
    devices: int
    _disc: object = None
    _out: dict = None
    _lane_problem: object = None
    _lane_params: object = None
    _solutions: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def _build(cls, problem, disc, out, U0, params_b, bc_b, cv_b, elapsed, chunk, n_dev, lane_problem, lane_params):
        lay = disc.layout
        B = out["k"].shape[0]
        lanes = np.arange(B)
        k = out["k"].astype(int)
        status = out["status"].astype(int)
        sign = -1.0 if disc.mode == "maximize" else 1.0
        value = sign * out["J"]
        V = out["U"]
        z = out["z"] if "z" in out else np.zeros((B, 0))
        n = V.shape[2]
        finite = (
            np.all(np.isfinite(V.reshape(B, -1)), axis=1)
            & np.all(np.isfinite(z.reshape(B, -1)), axis=1)
            & np.isfinite(value)
        )
        status = np.where((status == Status.SUCCESS) & ~finite, int(Status.NONFINITE), status)
        negative = out["negative"][lanes, k].astype(int)
        if disc.uses_kkt:
            n_mult = lay.n_multipliers_global + int(np.sum(~disc.fixed[lay.d_el :]))
            negative = negative - n_mult
            if disc.mode != "stationary":
                status = np.where((status == Status.SUCCESS) & (negative > 0), int(Status.SADDLE), status)
        x = np.asarray(disc.x_user)
        if lay.free_end:
            A = z[:, lay.end_index("left")] if "left" in lay.curve_ends else np.full(B, x[0])
            Bend = z[:, lay.end_index("right")] if "right" in lay.curve_ends else np.full(B, x[-1])
            x = A[:, None] + (Bend - A)[:, None] * np.asarray(disc.x)[None, :]
            x[:, 0], x[:, -1] = A, Bend
        f = np.swapaxes(V[:, : lay.m], 1, 2).reshape((B, n) + problem.shape)
        sol = cls(
            problem=problem,
            x=x,
            f=f,
            value=value,
            converged=status == Status.SUCCESS,
            status=status,
            iterations=k,
            residual=out["residual"][lanes, k],
            negative=negative,
            params=params_b,
            bc=bc_b,
            constraint_values=cv_b,
            guess=U0.reshape((B, n) + problem.shape),
            singular_ends=disc.singular_ends,
            quadrature=disc.quadrature_summary(),
            time=elapsed,
            chunk_size=chunk,
            devices=n_dev,
            _disc=disc,
            _out=out,
            _lane_problem=lane_problem,
            _lane_params=lane_params,
        )
        # A failed lane may have run off to infinity: UNBOUNDED, decided from its histories as the
        # lane's full report decides it (newton.runaway, numpy on the host, per failed lane).
        for i in np.flatnonzero(np.isin(sol.status, [int(s) for s in RUNAWAY_CHECKED])):
            merit = None if disc.uses_kkt else out["value"][i, : k[i] + 1]
            if runaway(f[i], sol.guess[i], merit) is not None:
                sol.status[i] = int(Status.UNBOUNDED)
        # Constrained problems: a failed lane's status may be refined (INFEASIBLE, naming the
        # violated constraint) by the full per-lane report.
        if problem.constraints or lay.curve_ends:
            for i in np.flatnonzero(~sol.converged):
                sol.status[i] = int(sol[int(i)].status)
        return sol

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i) -> Solution:
        """Lane ``i`` as a :class:`varcalc.Solution` (the same report ``vc.solve`` gives)."""
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index: expected an integer lane number, got {type(i).__name__}")
        B = len(self)
        if not -B <= i < B:
            raise IndexError(f"index: lane {i} out of range for a batch of {B}")
        i = int(i) % B
        if i not in self._solutions:
            disc0 = self._disc
            problem = self._lane_problem(i)
            ends = disc0.singular_ends
            if disc0.end_map is not None:  # the same map (its powers), the same grid
                ends = {e: k for e, k in zip(("left", "right"), disc0.end_map.powers) if k > 1}
            disc = _S.discretize(
                problem,
                grid=disc0.x_user,
                guess=self.guess[i],
                quadrature="auto",
                singular_ends=ends,
                params=self._lane_params(i),
                mode=disc0.mode,
                degree=disc0.layout.degree,
            )
            if problem.order == 1:
                disc.blocks = disc0.blocks
            out = {k: v[i] for k, v in self._out.items()}
            sol = Solution._from_newton(problem, disc, out, self.time / B)
            sol.stats["batch"] = {"lane": i, "size": B, "time": self.time}
            self._solutions[i] = sol
        return self._solutions[i]

    @property
    def messages(self) -> list[str]:
        """Each lane's status message (lanes with the same outcome share one report)."""
        shared: dict = {}
        out = []
        for i in range(len(self)):
            # A failure's message quotes the lane's own numbers (the constraint violated, max |f|).
            if i in self._solutions or not self.converged[i]:
                out.append(self[i].message)
                continue
            key = (int(self.status[i]), int(self.negative[i]), int(self.iterations[i]))
            if key not in shared:
                shared[key] = self[i].message
            out.append(shared[key])
        return out

    def columns(self) -> dict[str, np.ndarray]:
        """One column per batched input (parameters by name, ``bc_<end>``) and per result
        (``value``, ``converged``, ``status``, ``iterations``, ``residual``), each of length ``B``."""
        cols: dict[str, np.ndarray] = {}
        B = len(self)
        if self.params is not None:
            for path, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]:
                name = _path_name(path) or "p"
                _add_columns(cols, name, np.asarray(leaf).reshape(B, -1))
        for key, values in (self.bc or {}).items():
            _add_columns(cols, f"bc_{key}", np.asarray(values).reshape(B, -1))
        for key, values in (self.constraint_values or {}).items():
            cols[key] = np.asarray(values)
        cols["value"] = self.value
        cols["converged"] = self.converged
        cols["status"] = np.array([Status(int(s)).name for s in self.status])
        cols["iterations"] = self.iterations
        cols["residual"] = self.residual
        return cols

    # -- I/O ---------------------------------------------------------------------------------
    def to_npz(self, path: str | os.PathLike) -> None:
        """Arrays ``x``, ``f``, ``value``, ``converged``, ``status``, ``iterations``, ``residual``,
        ``guess``, the batched inputs (``param_<name>``, ``bc_<end>``) and a JSON header ``meta``."""
        arrays = dict(
            x=self.x,
            f=self.f,
            value=self.value,
            converged=self.converged,
            status=self.status,
            iterations=self.iterations,
            residual=self.residual,
            negative=self.negative,
            guess=self.guess,
        )
        if self.params is not None:
            for path_, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]:
                arrays[f"param_{_path_name(path_) or 'p'}"] = np.asarray(leaf)
        for key, values in (self.bc or {}).items():
            arrays[f"bc_{key}"] = np.asarray(values)
        for key, values in (self.constraint_values or {}).items():
            arrays[f"constraint_{key}"] = np.asarray(values)
        np.savez(path, meta=np.array(json.dumps(self._meta())), **arrays)

    def to_json(self, path: str | os.PathLike | None = None, *, arrays: bool = False) -> dict:
        """A per-lane summary (the :meth:`columns` and each lane's message) as JSON; with
        ``arrays=True`` also ``x`` and ``f``.  Returns the dict; writes it when ``path`` is given."""
        cols = self.columns()
        msgs = self.messages
        lanes = []
        for i in range(len(self)):
            row = {k: _json_scalar(v[i]) for k, v in cols.items()}
            row["message"] = msgs[i]
            lanes.append(row)
        d = dict(self._meta(), lanes=lanes)
        if arrays:
            d["x"], d["f"] = self.x.tolist(), self.f.tolist()
        if path is not None:
            with open(path, "w") as fh:
                json.dump(d, fh, indent=1)
        return d

    def to_csv(self, path: str | os.PathLike) -> None:
        """One row per lane: the :meth:`columns` (inputs, value, converged, status, ...)."""
        import csv

        cols = self.columns()
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["lane"] + list(cols))
            for i in range(len(self)):
                w.writerow([i] + [_csv_value(v[i]) for v in cols.values()])

    def save(self, path: str | os.PathLike) -> None:
        """Write by extension: ``.npz``, ``.json`` or ``.csv``."""
        s = str(path).lower()
        if s.endswith(".npz"):
            self.to_npz(path)
        elif s.endswith(".json"):
            self.to_json(path)
        elif s.endswith(".csv"):
            self.to_csv(path)
        else:
            raise ValueError(f"path: expected a .npz, .json or .csv file name, got {str(path)!r}")

    def _meta(self) -> dict:
        return {
            "name": getattr(self.problem, "name", None),
            "size": len(self),
            "nodes": int(self.f.shape[1]),
            "converged": int(np.sum(self.converged)),
            "time": self.time,
            "chunk_size": self.chunk_size,
            "devices": self.devices,
            "singular_ends": list(self.singular_ends),
            "quadrature": self.quadrature,
        }

    def plot(self, path: str | os.PathLike | None = None, *, against: str | None = None, ax: Any = None) -> Figure:
        """Value (and convergence) of each lane against a batched input.

        ``against``: a column name from :meth:`columns` (default: the first batched input).
        Converged lanes are dots on a line, failed lanes red crosses; a second panel shows the
        Newton iterations.  Returns the matplotlib Figure (saved to ``path`` when given).
        """
        import matplotlib.pyplot as plt

        cols = self.columns()
        inputs = [k for k in cols if k not in ("value", "converged", "status", "iterations", "residual")]
        name = against if against is not None else (inputs[0] if inputs else None)
        if name is not None and name not in cols:
            raise ValueError(f"against: expected one of {inputs}, got {name!r}")
        t = np.asarray(cols[name], dtype=float) if name is not None else np.arange(len(self), dtype=float)
        order = np.argsort(t, kind="stable")
        t, value, ok, its = t[order], self.value[order], self.converged[order], self.iterations[order]
        if ax is None:
            fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        else:
            a1, a2 = ax
            fig = a1.figure
        a1.plot(t[ok], value[ok], ".-", ms=4, lw=1, label=f"converged ({int(ok.sum())})")
        if (~ok).any():
            # A failed lane's value means nothing (its last iterate): mark where, on the lower edge.
            a1.plot(
                t[~ok],
                np.zeros((~ok).sum()),
                "x",
                color="tab:red",
                clip_on=False,
                transform=a1.get_xaxis_transform(),
                label=f"not converged ({int((~ok).sum())})",
            )
        a1.set_ylabel("J (converged lanes)")
        a1.set_title(f"{getattr(self.problem, 'name', 'problem')}: {len(self)} problems, one batched solve")
        a1.legend(loc="best")
        a1.grid(alpha=0.3)
        a2.plot(t, its, ".", ms=3, color="tab:gray")
        a2.set_ylabel("Newton it.")
        a2.set_xlabel(name if name is not None else "lane")
        a2.grid(alpha=0.3)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    def __repr__(self) -> str:
        return (
            f"BatchSolution(size={len(self)}, converged={int(np.sum(self.converged))}/{len(self)}, "
            f"n={self.f.shape[1]}, time={self.time:.3g} s)"
        )

    def _repr_html_(self):
        """Jupyter: a summary (lanes converged, the range of J, nodes, time) and :meth:`plot`."""
        from ._display import summary_html, with_figure

        ok = np.asarray(self.converged, bool)
        values = np.asarray(self.value)[ok]
        rows = [
            ("converged", f"{int(ok.sum())} / {len(self)}"),
            ("nodes", self.f.shape[1]),
            ("J (converged lanes)", f"{values.min():.6g} .. {values.max():.6g}" if values.size else "-"),
            ("time", f"{self.time:.3g} s"),
        ]
        name = getattr(self.problem, "name", None) or "BatchSolution"
        return with_figure(summary_html(f"{name}: {len(self)} problems", rows, ok=bool(ok.all())), lambda: self.plot())


def _path_name(path) -> str:
    parts = []
    for p in path:
        for attr in ("key", "name", "idx"):
            if hasattr(p, attr):
                parts.append(str(getattr(p, attr)))
                break
    return ".".join(parts)


def _add_columns(cols, name, values):
    if values.shape[1] == 1:
        cols[name] = values[:, 0]
    else:
        for j in range(values.shape[1]):
            cols[f"{name}[{j}]"] = values[:, j]


def _json_scalar(v):
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    return str(v)


def _csv_value(v):
    if isinstance(v, (np.bool_, bool)):
        return int(bool(v))
    if isinstance(v, (np.floating, float)):
        return repr(float(v))
    return v
