"""``Pointwise``: ``g(f, x) = 0`` at every node, multipliers ``μ_i`` as extra rows of ``V``;
``N_i = mass_i μ_i · g(f_i, x_i)`` (times ``dx/dξ`` on a free end's reference grid)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..constraints import Pointwise
from ._base import Side


class PointwiseSide(Side):
    kind = "Pointwise"
    public = Pointwise
    rank = 0
    orders = (1,)
    adds_unknowns = True
    nodal = True

    def prepare(self, problem):
        self.shape = _pointwise_shape(self.con, problem)
        self.rows = int(np.prod(self.shape, dtype=int))

    def at_node(self, v, F, xx, jac, node, z, aux):
        mu = v[self.row0:self.row0 + self.rows]
        return jac * node["mass"] * jnp.dot(mu, jnp.reshape(self.con.fun(F, xx), (self.rows,)))

    def check_grid(self, problem, x):
        c = self.con
        for end in ("left", "right"):
            if end in problem.bc:
                xe = x[0] if end == "left" else x[-1]
                val = np.asarray(c.fun(jnp.asarray(problem.bc[end]), jnp.asarray(xe)))
                if np.max(np.abs(val)) > 1e-9 * (1 + np.max(np.abs(problem.bc[end]))):
                    raise ValueError(
                        f"Pointwise {c.name!r}: the Dirichlet value bc[{end!r}] = "
                        f"{np.asarray(problem.bc[end]).tolist()} violates the constraint (g = {val.tolist()}); "
                        "the boundary values must satisfy g(f, x) = 0")

    def report(self, disc, V, z):
        mu = np.asarray(V)[self.row0:self.row0 + self.rows].T
        return {self.name: mu[:, 0] if self.shape == () else mu}


def _pointwise_shape(constraint, problem):
    """Output shape of a Pointwise constraint's ``g``, ``()`` or ``(r,)`` (probed with eval_shape)."""
    f = jax.ShapeDtypeStruct(problem.shape, jnp.float64)
    x = jax.ShapeDtypeStruct((), jnp.float64)
    try:
        out = jax.eval_shape(constraint.fun, f, x)
    except Exception as exc:
        raise TypeError(f"Pointwise {constraint.name!r}: calling g(f, x) with f of shape {problem.shape} "
                        f"raised {type(exc).__name__}: {exc}") from exc
    if not hasattr(out, "shape") or len(out.shape) > 1:
        raise ValueError(f"Pointwise {constraint.name!r}: g(f, x) must return a scalar or a 1-D array, "
                         f"got {getattr(out, 'shape', type(out).__name__)}")
    r = int(np.prod(out.shape, dtype=int))
    if r >= problem.components:
        raise ValueError(
            f"Pointwise {constraint.name!r}: g imposes {r} equations on an unknown with only "
            f"{problem.components} components, which fixes f entirely; a pointwise constraint needs "
            "fewer equations than components")
    return tuple(out.shape)
