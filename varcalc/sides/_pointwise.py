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
        self.size = int(np.prod(self.shape, dtype=int))  # equations per point
        self.rows = self.size

    def on_element(self, element):
        """One multiplier per equation at each collocation point of a node column (the node; with
        degree-p elements also its cell's interior GLL nodes, so g = 0 holds at all of them)."""
        self.element = element
        self.points = element.collocation_count
        self.rows = self.size * self.points

    def at_node(self, v, F, xx, jac, node, z, aux):
        pts = node["points"]  # the element's collocation points of this column: F (P, m), x, w (P,)
        mu = jnp.reshape(v[self.row0 : self.row0 + self.rows], (self.points, self.size))
        g = jax.vmap(lambda f, x: jnp.reshape(self.con.fun(jnp.reshape(f, self.value_shape), x), (self.size,)))(
            pts["F"], pts["x"]
        )
        return jnp.sum(pts["w"][:, None] * mu * g)

    def init(self, disc):
        """Multipliers are not unknowns at points whose values are fixed (Dirichlet nodes, dummies)."""
        fixed = self.element.fixed_points(disc.fixed, disc.layout.m)  # (P, n)
        rows = np.repeat(fixed, self.size, axis=0)  # (P size, n), point-major as at_node reads them
        disc.fixed[self.row0 : self.row0 + self.rows] |= rows

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
                        "the boundary values must satisfy g(f, x) = 0"
                    )

    def report(self, disc, V, z):
        mu = np.asarray(V)[self.row0 : self.row0 + self.size].T  # at the nodes
        return {self.name: mu[:, 0] if self.shape == () else mu}


def _pointwise_shape(constraint, problem):
    """Output shape of a Pointwise constraint's ``g``, ``()`` or ``(r,)`` (probed with eval_shape)."""
    f = jax.ShapeDtypeStruct(problem.shape, jnp.float64)
    x = jax.ShapeDtypeStruct((), jnp.float64)
    try:
        out = jax.eval_shape(constraint.fun, f, x)
    except Exception as exc:
        raise TypeError(
            f"Pointwise {constraint.name!r}: calling g(f, x) with f of shape {problem.shape} "
            f"raised {type(exc).__name__}: {exc}"
        ) from exc
    if not hasattr(out, "shape") or len(out.shape) > 1:
        raise ValueError(
            f"Pointwise {constraint.name!r}: g(f, x) must return a scalar or a 1-D array, "
            f"got {getattr(out, 'shape', type(out).__name__)}"
        )
    r = int(np.prod(out.shape, dtype=int))
    if r >= problem.components:
        raise ValueError(
            f"Pointwise {constraint.name!r}: g imposes {r} equations on an unknown with only "
            f"{problem.components} components, which fixes f entirely; a pointwise constraint needs "
            "fewer equations than components"
        )
    return tuple(out.shape)
