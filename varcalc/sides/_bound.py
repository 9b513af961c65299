"""``Bound``: ``lower <= f <= upper`` at the nodes.  No term of ``L``: the minimising step keeps the
iterate in the box (:class:`varcalc.steps.MinimizeStep` with bounds); contact multipliers are the
gradient at the active nodes (reported by :class:`varcalc.Solution`)."""

from __future__ import annotations

import numpy as np

from ..constraints import Bound
from ._base import Side


class BoundSide(Side):
    kind = "Bound"
    public = Bound
    orders = (1,)
    scalar_only = True
    max_count = 1
    modes = ("minimize", "maximize")
    elements = ("P1",)
    box = True

    def key(self):
        return (self.kind, None)

    @classmethod
    def excluded_kinds(cls):
        # The box is kept by the minimising step, which has no multipliers: any constraint that
        # adds unknowns (a KKT step) is not combined with it.
        from . import SIDES
        return tuple(s.kind for s in SIDES.values() if s.slot == "constraints" and s.adds_unknowns)

    @classmethod
    def too_many_message(cls):
        return "constraints: give one Bound (with lower= and upper=) rather than several"

    @classmethod
    def excludes_message(cls, con, clash):
        return f"constraints: a Bound cannot be combined with {'/'.join(cls.excluded_kinds())} constraints yet"

    def check_mode(self, mode):
        if mode not in self.modes:
            raise ValueError("mode: 'stationary' cannot be combined with a Bound constraint (the contact "
                             "conditions are inequalities); use mode='minimize'")

    def check_grid(self, problem, x):
        b = self.con
        lo, hi = b.values(x)
        bad = lo > hi
        if bad.any():
            raise ValueError(f"Bound {b.name!r}: lower > upper at x = {x[np.argmax(bad)]!r}")
        for end, i in (("left", 0), ("right", -1)):
            if end in problem.bc:
                v = problem.bc[end]
                if v < lo[i] - 1e-12 * (1 + abs(v)) or v > hi[i] + 1e-12 * (1 + abs(v)):
                    side = "below the lower" if v < lo[i] else "above the upper"
                    raise ValueError(
                        f"Bound {b.name!r}: the Dirichlet value bc[{end!r}] = {v} lies {side} bound "
                        f"({lo[i]} .. {hi[i]}) at x = {x[i]}; the obstacle must leave the end values feasible")

    def init(self, disc):
        lo, hi = self.con.values(disc.x_user)
        disc.lower, disc.upper = lo[None, :], hi[None, :]

    def report(self, disc, V, z):
        """Contact multipliers need the gradient at the solution: see ``Solution.multipliers``."""
        return {}
