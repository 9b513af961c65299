"""``Bound``: ``lower <= f <= upper`` at the nodes, or (``derivative=1``) ``lower <= f' <= upper`` on
the cells.  No term of ``L``: the minimising step keeps the iterate feasible
(:class:`varcalc.steps.MinimizeStep` with bounds: a barrier, then projected Newton for values; the
barrier alone for slopes, whose constraints couple neighbouring nodes); contact multipliers of a
value bound are the gradient at the active nodes (reported by :class:`varcalc.Solution`)."""

from __future__ import annotations

import numpy as np

from ..constraints import Bound
from ._base import Side


class BoundSide(Side):
    kind = "Bound"
    public = Bound
    orders = (1,)
    max_count = 2  # one on f, one on f'
    modes = ("minimize", "maximize")
    elements = ("P1",)
    box = True

    @classmethod
    def excluded_kinds(cls):
        # Integral constraints: the SQP step keeps the box with its barrier.  Not yet the kinds that
        # add rows of V (Pointwise) or move the grid (free ends), nor other registered kinds.
        from . import SIDES
        return tuple(s.kind for s in SIDES.values()
                     if s.slot == "constraints" and s.adds_unknowns and s.kind != "Integral")

    @classmethod
    def check_door(cls, problem, mine, present):
        super().check_door(problem, mine, present)
        if len({b.derivative for b in mine}) < len(mine):
            raise ValueError(cls.too_many_message())
        if any(b.derivative == 1 for b in mine) and "Integral" in present:
            raise ValueError("constraints: a Bound with derivative=1 cannot be combined with Integral "
                             "constraints yet (the slope barrier is in the unconstrained step only)")
        if problem.is_vector and any(b.derivative == 1 for b in mine):
            raise ValueError("constraints: a Bound with derivative=1 needs a scalar unknown (a vector "
                             "unknown takes componentwise bounds on its values)")

    @classmethod
    def too_many_message(cls):
        return ("constraints: give one Bound (with lower= and upper=) rather than several, and at most "
                "one with derivative=1")

    @classmethod
    def excludes_message(cls, con, clash):
        return f"constraints: a Bound cannot be combined with {'/'.join(cls.excluded_kinds())} constraints yet"

    def check_mode(self, mode):
        if mode not in self.modes:
            raise ValueError("mode: 'stationary' cannot be combined with a Bound constraint (the contact "
                             "conditions are inequalities); use mode='minimize'")

    def key(self):
        return (self.kind, self.con.derivative)

    def check_grid(self, problem, x):
        b = self.con
        if b.derivative == 1:
            lo, hi = b.values(0.5 * (x[1:] + x[:-1]))
            bad = lo > hi
            if bad.any():
                raise ValueError(f"Bound {b.name!r}: lower > upper for f' at x = {x[np.argmax(bad)]!r}")
            return
        lo, hi = b.values(x, problem.shape)
        bad = (lo > hi).reshape(x.size, -1).any(axis=1)
        if bad.any():
            raise ValueError(f"Bound {b.name!r}: lower > upper at x = {x[np.argmax(bad)]!r}")
        for end, i in (("left", 0), ("right", -1)):
            if end in problem.bc:
                v = np.asarray(problem.bc[end], dtype=np.float64)
                tol = 1e-12 * (1 + np.abs(v))
                below, above = v < lo[i] - tol, v > hi[i] + tol
                if np.any(below) or np.any(above):
                    side = "below the lower" if np.any(below) else "above the upper"
                    raise ValueError(
                        f"Bound {b.name!r}: the Dirichlet value bc[{end!r}] = {v.tolist()} lies {side} bound "
                        f"({lo[i].tolist()} .. {hi[i].tolist()}) at x = {x[i]}; the obstacle must leave the "
                        "end values feasible")

    def init(self, disc):
        n, m = disc.x.size, disc.layout.m
        if self.con.derivative == 0:  # rows of the unknown's components, (m, n)
            lo, hi = self.con.values(disc.x_user, disc.problem.shape)
            disc.lower, disc.upper = lo.reshape(n, m).T.copy(), hi.reshape(n, m).T.copy()
        elif disc.lower is None:  # slopes only: the step's value box is unbounded
            disc.lower = np.full((m, n), -np.inf)
            disc.upper = np.full((m, n), np.inf)

    def aux(self, disc, aux):
        if self.con.derivative == 1:  # per cell, with the widths the slopes are taken over
            x = disc.x_user
            aux["slope_lower"], aux["slope_upper"] = self.con.values(0.5 * (x[1:] + x[:-1]))

    def report(self, disc, V, z):
        """Contact multipliers need the gradient at the solution: see ``Solution.multipliers``."""
        return {}
