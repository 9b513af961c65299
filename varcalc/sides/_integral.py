"""``Integral``: ``∫ H dx = c``, one multiplier ``λ = z[j]``; ``G̃ += λ H``, ``- λ c / length``."""

from __future__ import annotations

from ..constraints import Integral
from ._base import Side


class IntegralSide(Side):
    kind = "Integral"
    public = Integral
    rank = 0
    adds_unknowns = True
    integrand = True

    def prepare(self, problem):
        self.z = (True,)

    def in_integrand(self, args, z, aux):
        return z[self.z0] * self.con.fun(*args)

    def constant(self, z, aux):
        return -z[self.z0] * aux["c"][self.index] / aux["length"]

    def check_grid(self, problem, x):
        count = len(problem.integrals)
        if self.index == 0 and x.size - 2 + len(problem.free_ends) < count:
            raise ValueError("constraints: more Integral constraints than free unknowns on this grid")

    def guess_z(self, disc, coarse):
        disc.z0[self.z0] = coarse.multipliers[self.name]
