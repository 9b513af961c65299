"""``vc.solve``: the door from a :class:`Problem` to a :class:`Solution`.

Data flow::

    Problem ─► grid (mesh.py) ─► quadrature groups (quadrature.py) ─► DiscreteFunctional
            ─► compiled Newton loop (newton.py, cached per integrand and shapes) ─► Solution

Input is validated here before anything is traced: grid, guess, what the integrand returns, and
whether it is finite at the guess (naming the first bad ``x``).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from .functional import DiscreteFunctional
from .mesh import check_grid, uniform_grid
from .newton import Newton, newton_loop
from .problem import Problem
from .quadrature import assign_rules
from .solution import Solution

__all__ = ["solve", "discretize"]


_QUADRATURES = ("auto", "midpoint", "accurate")


def solve(problem: Problem, n: int | None = None, *, grid=None, guess=None,
          solver: Newton | None = None, quadrature: str = "auto", singular_ends=None,
          warm_start: bool | None = None, verbose: bool = False) -> Solution:
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
        of shape ``(n,)`` / ``(n, m)``.  Default: the straight line between the Dirichlet values
        (a constant when one end is free, zero when both are).
    solver : Newton, optional
        Iteration options (``max_iter``, ``rtol``, ``atol``).
    quadrature : {"auto", "midpoint", "accurate"}
        ``"auto"``: one point per cell, except near an end where the integrand is singular along
        the guess (detected), which gets accurate rules.  ``"midpoint"``: one point everywhere
        (inexact at singular ends; for comparison).  ``"accurate"``: treat every Dirichlet end as
        singular.
    singular_ends : sequence of {"left", "right"}, optional
        Overrides the detection of singular ends.
    warm_start : bool, optional
        Solve first on every k-th node (about 2000 nodes) and start from that solution,
        interpolated.  Newton's iteration count from a poor guess grows with n; from the coarse
        solution it is a handful.  Default: on for grids of more than 8193 nodes.
    verbose : bool
        Print the Newton iteration table.

    Returns
    -------
    Solution
        Check ``sol.converged`` (and ``sol.status``, ``sol.message``); a failed solve is
        returned, not raised.

    Examples
    --------
    >>> import jax.numpy as jnp, varcalc as vc
    >>> p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
    >>> sol = vc.solve(p, n=11)
    >>> sol.converged, sol.iterations, round(float(sol(0.5)), 6)   # exact: f = x(x-1)/2
    (True, 1, -0.125)
    """
    disc = discretize(problem, n, grid=grid, guess=guess, quadrature=quadrature,
                      singular_ends=singular_ends)
    solver = Newton() if solver is None else solver
    if not isinstance(solver, Newton):
        raise TypeError(f"solver: expected a vc.Newton(...) options object, got {type(solver).__name__}")

    if warm_start is None:
        warm_start = disc.x.size > _WARM_START_MIN_NODES
    t0 = time.perf_counter()
    coarse = _warm_start(disc, solver) if warm_start else None

    run = _compiled_newton(problem.integrand, problem.is_vector, disc.blocks, disc.free_flags,
                           solver.max_iter, solver.max_backtracks)
    out = run(jnp.asarray(disc.U0.T), jnp.asarray(disc.x), solver.rtol, solver.atol)
    out = jax.device_get(out)
    elapsed = time.perf_counter() - t0
    if not np.isfinite(out["value"][0]):
        _check_guess_finite(disc)  # raises ValueError naming the first bad cell
    sol = Solution._from_newton(problem, disc, out, elapsed)
    if coarse is not None:
        sol.stats["warm_start"] = {"nodes": int(coarse.x.size), "iterations": coarse.iterations,
                                   "converged": coarse.converged}
    if verbose:
        print(sol.table())
    return sol


_WARM_START_MIN_NODES = 8193
_WARM_START_NODES = 2049


def _warm_start(disc, solver):
    """Solve on a subsample of the grid; on success its interpolant becomes ``disc.U0``."""
    x = disc.x
    k = -(-(x.size - 1) // (_WARM_START_NODES - 1))  # ceil
    idx = np.unique(np.append(np.arange(0, x.size, k), x.size - 1))
    coarse = solve(disc.problem, grid=x[idx], guess=disc.U0[idx], solver=solver,
                   singular_ends=disc.singular_ends, warm_start=False)
    if coarse.converged:
        F = coarse.f.reshape(coarse.x.size, -1)
        U0 = np.stack([np.interp(x, coarse.x, F[:, j]) for j in range(F.shape[1])], axis=1)
        U0[0], U0[-1] = disc.U0[0], disc.U0[-1]  # keep the Dirichlet values exact
        disc.U0 = U0
    return coarse


def _free_range(dirichlet, n):
    """Free nodes ``U[i0:i1]`` given ``(left is Dirichlet, right is Dirichlet)``."""
    return (1 if dirichlet[0] else 0, n - 1 if dirichlet[1] else n)


class _Discretization:
    """Everything fixed before the iteration: grid, initial nodal values, quadrature groups."""

    def __init__(self, problem, x, U0, blocks, singular_ends):
        self.problem = problem
        self.x = x
        self.U0 = U0
        self.blocks = tuple(blocks)
        self.singular_ends = tuple(singular_ends)
        self.free_flags = ("left" in problem.bc, "right" in problem.bc)
        self.functional = DiscreteFunctional(problem.integrand, problem.is_vector, self.blocks)

    @property
    def free(self):
        return _free_range(self.free_flags, self.x.size)

    def quadrature_summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.blocks:
            out[b.rule_name] = out.get(b.rule_name, 0) + b.size
        return out


def discretize(problem: Problem, n=None, *, grid=None, guess=None, quadrature="auto",
               singular_ends=None) -> _Discretization:
    """Validate the inputs of :func:`solve` and build its discretization (no solve)."""
    _require_float64()
    if not isinstance(problem, Problem):
        raise TypeError(f"problem: expected a vc.Problem, got {type(problem).__name__}")
    if grid is not None and n is not None:
        raise ValueError("n, grid: give one of them, not both (n means a uniform grid of n nodes)")
    x = uniform_grid(problem.domain, 201 if n is None else n) if grid is None else check_grid(grid, problem.domain)
    if quadrature not in _QUADRATURES:
        raise ValueError(f"quadrature: expected one of {_QUADRATURES}, got {quadrature!r}")
    U0 = _initial_values(problem, x, guess)
    _probe_integrand(problem, x, U0)
    if singular_ends is None:
        if quadrature == "auto":
            singular_ends = _detect_singular_ends(problem, x, U0)
        elif quadrature == "accurate":
            singular_ends = tuple(problem.bc)
        else:
            singular_ends = ()
    else:
        singular_ends = tuple(singular_ends) if not isinstance(singular_ends, str) else (singular_ends,)
        bad = [e for e in singular_ends if e not in ("left", "right")]
        if bad:
            raise ValueError(f"singular_ends: expected a subset of ('left', 'right'), got {bad}")
    return _Discretization(problem, x, U0, assign_rules(x, singular_ends), singular_ends)


def _require_float64():
    if jnp.zeros(()).dtype != jnp.float64:
        raise RuntimeError(
            "varcalc needs float64 but JAX's x64 mode is off (jax_enable_x64 was disabled after "
            "importing varcalc). Re-enable it with jax.config.update('jax_enable_x64', True)."
        )


def _initial_values(problem: Problem, x: np.ndarray, guess) -> np.ndarray:
    n, m = x.size, problem.components
    if guess is None:
        left, right = problem.bc.get("left"), problem.bc.get("right")
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
        U0[0] = problem.bc["left"]
    if "right" in problem.bc:
        U0[-1] = problem.bc["right"]
    return U0


def _pointwise_args(problem, U0, x, i):
    """(f, df, x) at the middle of cell i, shaped as the integrand receives them."""
    f = 0.5 * (U0[i] + U0[i + 1])
    df = (U0[i + 1] - U0[i]) / (x[i + 1] - x[i])
    xm = 0.5 * (x[i] + x[i + 1])
    if not problem.is_vector:
        f, df = f[0], df[0]
    return jnp.asarray(f), jnp.asarray(df), jnp.asarray(xm)


def _probe_integrand(problem: Problem, x, U0):
    """Call G once (as the solver will, traced) and check it returns a real scalar."""
    i = (x.size - 1) // 2
    args = _pointwise_args(problem, U0, x, i)
    shapes = "f, df of shape " + (str((problem.components,)) if problem.is_vector else "()")
    try:
        out = jax.eval_shape(problem.integrand, *args)
    except jax.errors.ConcretizationTypeError as exc:
        raise TypeError(
            f"integrand: it branches on or converts the values of f, df or x, which JAX cannot trace; "
            f"write it with jax.numpy (jnp.where instead of if). Original error: {exc}"
        ) from exc
    except Exception as exc:  # the user's function: say how it was called
        raise TypeError(
            f"integrand: calling G(f, df, x) with {shapes} and scalar x raised {type(exc).__name__}: {exc}. "
            "Write G with jax.numpy and check its signature G(f, df, x)."
        ) from exc
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"integrand: expected G(f, df, x) to return a scalar, got shape {shape}")
    if not jnp.issubdtype(out.dtype, jnp.floating) and not jnp.issubdtype(out.dtype, jnp.integer):
        raise TypeError(f"integrand: expected a real scalar, got dtype {out.dtype}")


def _detect_singular_ends(problem: Problem, x, U0) -> tuple[str, ...]:
    """Dirichlet ends where G or ∂G/∂f is not finite at the end point along the guess."""
    ends = [e for e in ("left", "right") if e in problem.bc]
    if not ends:
        return ()
    idx = [(0, 1) if e == "left" else (-1, -2) for e in ends]
    f = np.stack([U0[i] for i, _ in idx])
    df = np.stack([(U0[j] - U0[i]) / (x[j] - x[i]) for i, j in idx])
    xe = np.array([x[i] for i, _ in idx])
    ok = np.asarray(_end_check(problem.integrand, problem.is_vector)(f, df, xe))
    return tuple(e for e, good in zip(ends, ok) if not good)


def _check_guess_finite(disc: _Discretization):
    # Only on the error path, so compiled on demand rather than cached.
    energies = np.asarray(jax.jit(disc.functional.cell_energies)(jnp.asarray(disc.U0.T), jnp.asarray(disc.x)))
    bad = ~np.isfinite(energies)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"guess: the integrand is NaN/inf on the initial guess for x in the cell "
            f"[{float(disc.x[i]):.6g}, {float(disc.x[i + 1]):.6g}] (the first bad cell; f goes from "
            f"{np.round(disc.U0[i], 6).tolist()} to {np.round(disc.U0[i + 1], 6).tolist()} there). "
            "Give a guess=... inside the integrand's domain of definition."
        )


# -- compiled pieces, cached per integrand and structure (jit adds one entry per shape) --------
_CACHE: dict = {}


def _end_check(integrand, vector):
    """Jitted: are G and ∂G/∂f finite at each (f, df, x)?  One compile instead of eager ops."""
    key = ("end_check", integrand, vector)
    if key not in _CACHE:
        G = DiscreteFunctional(integrand, vector, ())._G  # f, df as (m,) arrays, as the solver passes them

        def finite(f, df, xx):
            value, grad_f = jax.value_and_grad(G)(f, df, xx)
            return jnp.isfinite(value) & jnp.all(jnp.isfinite(grad_f))

        _CACHE[key] = jax.jit(jax.vmap(finite))
    return _CACHE[key]


def _compiled_newton(integrand, vector, blocks, dirichlet, max_iter, max_backtracks):
    """The jitted Newton loop for one integrand and cell-block layout (jit adds one entry per n)."""
    key = ("newton", integrand, vector, blocks, dirichlet, max_iter, max_backtracks)
    if key not in _CACHE:
        fun = DiscreteFunctional(integrand, vector, blocks)

        def run(U0, x, rtol, atol):
            return newton_loop(fun, U0, x, _free_range(dirichlet, U0.shape[1]), rtol, atol,
                               max_iter=max_iter, max_backtracks=max_backtracks)

        _CACHE[key] = jax.jit(run)
    return _CACHE[key]
