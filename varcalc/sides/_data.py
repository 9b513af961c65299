"""``Data``: ``N_i = sign · w_i |f_i - y_i|²`` at the data sites (grid nodes; zero weight elsewhere)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..constraints import Data
from ._base import Side


class DataSide(Side):
    kind = "Data"
    public = Data
    slot = "data"
    nodal = True

    @property
    def name(self):
        return "data"

    def key(self):
        return (self.kind,)

    @classmethod
    def collect(cls, problem):
        return [] if problem.data is None else [problem.data]

    @classmethod
    def check_door(cls, problem, mine, present):
        data = problem.data
        if data is not None and not isinstance(data, Data):
            raise TypeError(f"data: expected vc.Data(x, y, weight), got {type(data).__name__}")
        if data is not None:
            a, b = problem.domain
            if np.any(data.x < a) or np.any(data.x > b):
                raise ValueError(f"data: sites must lie in the domain [{a}, {b}]")
            if data.y.shape[1:] != problem.shape:
                raise ValueError(f"data: y must have shape ({data.x.size},) + {problem.shape}, got {data.y.shape}")
        super().check_door(problem, mine, present)

    def at_node(self, v, F, xx, jac, node, z, aux):
        f = v[: self.m]
        return aux["sign"] * node["w"] * jnp.sum((f - node["y"]) ** 2)

    def grid(self, x, given):
        return x if given else np.union1d(x, self.con.x)

    def init(self, disc):
        idx = data_nodes(self.con, disc.x_user)
        disc.data_w[idx] = self.con.weight
        disc.data_y[idx] = self.con.y.reshape(idx.size, disc.layout.m)

    def report(self, disc, V, z):
        return {}


def data_nodes(data, x):
    """Indices of the grid nodes at the data sites (ValueError if a site is not a node)."""
    idx = np.searchsorted(x, data.x)
    idx = np.clip(idx, 0, x.size - 1)
    left = np.clip(idx - 1, 0, x.size - 1)
    idx = np.where(np.abs(x[left] - data.x) < np.abs(x[idx] - data.x), left, idx)
    tol = 1e-12 * (x[-1] - x[0])
    bad = np.abs(x[idx] - data.x) > tol
    if bad.any():
        raise ValueError(
            f"grid: the data site x = {data.x[bad][0]!r} is not a grid node; include the "
            "data sites in grid=... (with n=..., varcalc adds them itself)"
        )
    return idx
