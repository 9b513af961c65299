"""``OnCurve``: an end on the curve ``φ(x, f) = 0``.  Two global unknowns: the end's abscissa (the
grid becomes the reference interval ``ξ ∈ [0, 1]``) and the multiplier ``μ``; the term
``μ φ(x_end, f_end)`` sits at the end node."""

from __future__ import annotations

import jax.numpy as jnp

from ..constraints import OnCurve
from ._base import Side


class OnCurveSide(Side):
    kind = "OnCurve"
    public = OnCurve
    slot = "ends"
    rank = 2
    orders = (1,)
    excludes = ("Data",)
    adds_unknowns = True
    point = free_end = True

    def prepare(self, problem):
        self.z = (False, True)  # the abscissa, then the multiplier

    def key(self):
        return (self.kind, self.end, self.con.fun)

    @classmethod
    def collect(cls, problem):
        return [problem.end_curve(e) for e in ("left", "right") if problem.end_curve(e) is not None]

    @classmethod
    def where(cls, con):
        return f"{con.name}: a free end on a curve"

    @classmethod
    def check_door(cls, problem, mine, present):
        for end in ("left", "right"):
            curve = problem.end_curve(end)
            if curve is None:
                continue
            what = f"{end}_end"
            if not isinstance(curve, OnCurve):
                raise TypeError(f"{what}: expected vc.OnCurve(phi), got {type(curve).__name__}")
            if curve.name is None:
                object.__setattr__(curve, "name", what)
            if end in problem.bc or end + "'" in problem.bc:
                raise ValueError(
                    f"{what}: the {end} end lies on a curve, so it cannot also have a Dirichlet value "
                    f"bc[{end!r}] (that would fix more than the end condition allows); drop one of them"
                )
            if problem.order not in cls.orders:
                raise ValueError(f"{what}: a free end on a curve needs order=1")
            if any(k in present for k in cls.excludes):
                raise ValueError(f"{what}: cannot be combined with {' or '.join(cls.excludes)} yet")

    def at_point(self, v, z, aux):
        return z[self.z0 + 1] * self.con.fun(z[self.z0], jnp.reshape(v[: self.m], self.value_shape))

    def init(self, disc):
        disc.z0[self.z0] = disc.x_user[0 if self.end == "left" else -1]

    def guess_z(self, disc, coarse):
        disc.z0[self.z0] = coarse.x[0] if self.end == "left" else coarse.x[-1]
        disc.z0[self.z0 + 1] = coarse.multipliers[self.name]
