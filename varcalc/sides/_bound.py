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
    elements = ("P1", "Lagrange")
    box = True

    @classmethod
    def excluded_kinds(cls):
        # Integral and Pointwise: the SQP step keeps the box with its barrier (multiplier rows
        # unbounded); OnCurve: the step's box holds on the moving grid's nodes.  Not other
        # registered kinds that add unknowns (nothing says how their rows are bounded).
        from . import SIDES

        return tuple(
            s.kind
            for s in SIDES.values()
            if s.slot in ("constraints", "ends")
            and s.adds_unknowns
            and s.kind not in ("Integral", "Pointwise", "OnCurve")
        )

    @classmethod
    def check_door(cls, problem, mine, present):
        super().check_door(problem, mine, present)
        if len({b.derivative for b in mine}) < len(mine):
            raise ValueError(cls.too_many_message())
        if problem.is_vector and any(b.derivative == 1 for b in mine):
            raise ValueError(
                "constraints: a Bound with derivative=1 needs a scalar unknown (a vector "
                "unknown takes componentwise bounds on its values)"
            )
        if "OnCurve" in present:  # the end's abscissa is an unknown: the nodes move with it
            if any(b.derivative == 1 for b in mine):
                raise ValueError(
                    "constraints: a Bound with derivative=1 cannot be combined with a free end "
                    "(OnCurve) yet: the cells' widths move with the end"
                )
            if any(callable(v) for b in mine for v in (b.lower, b.upper)):
                raise ValueError(
                    "constraints: with a free end (OnCurve) give the Bound's lower=/upper= as "
                    "numbers, not functions of x: the nodes move with the end"
                )

    @classmethod
    def too_many_message(cls):
        return (
            "constraints: give one Bound (with lower= and upper=) rather than several, and at most "
            "one with derivative=1"
        )

    @classmethod
    def excludes_message(cls, con, clash):
        return f"constraints: a Bound cannot be combined with {'/'.join(cls.excluded_kinds())} constraints yet"

    def check_mode(self, mode):
        if mode not in self.modes:
            raise ValueError(
                "mode: 'stationary' cannot be combined with a Bound constraint (the contact "
                "conditions are inequalities); use mode='minimize'"
            )

    def key(self):
        return (self.kind, self.con.derivative)

    def check_grid(self, problem, x):
        b = self.con
        if b.derivative == 1:  # (checked at the midpoints; the solve imposes it at the rule's points)
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
                        "end values feasible"
                    )

    def init(self, disc):
        """The step's value box ``disc.lower``/``disc.upper`` (d, n), one row per row of ``V``: a
        value Bound holds at the element's nodal values (P1: the nodes; degree p: the nodes and
        each cell's interior Gauss–Lobatto nodes, the values the unknowns are), ``∓inf`` on other
        rows (multipliers).  Nodal values are the right set: the interpolant of any admissible
        f is admissible (so the discrete problem is a consistent restriction), and each
        constraint is a simple bound on one unknown (the projected finish stays a box)."""
        lay = disc.layout
        n, m, d = disc.x.size, lay.m, lay.d
        if disc.lower is None:
            disc.lower, disc.upper = np.full((d, n), -np.inf), np.full((d, n), np.inf)
        if self.con.derivative == 0:
            X = lay.element.row_abscissae(disc.x_user, disc.x, disc.end_map)  # (n, r)
            lo, hi = self.con.values(X.reshape(-1), disc.problem.shape)  # (n r,) + shape
            r = X.shape[1]
            disc.lower[: r * m] = lo.reshape(n, r * m).T
            disc.upper[: r * m] = hi.reshape(n, r * m).T
        elif disc.end_map is not None:
            raise ValueError(
                f"Bound {self.con.name!r}: a bound on f' with a mapped singular end (degree > 1) "
                "is not supported; use degree=1 or give singular_ends=()"
            )

    def slope_points(self, disc):
        """Where the slope bound holds: ``(xq (n-1, q), t, w, D)`` (see ``Element.slope_rule``)."""
        t, w, D = disc.layout.element.slope_rule()
        x = disc.x_user
        return x[:-1, None] + t[None, :] * np.diff(x)[:, None], t, w, D

    def aux(self, disc, aux):
        if self.con.derivative == 1:  # per cell and point, with the rule the slopes are taken by
            xq, _, w, D = self.slope_points(disc)
            lo, hi = self.con.values(xq.reshape(-1))
            aux["slope_lower"], aux["slope_upper"] = lo.reshape(xq.shape), hi.reshape(xq.shape)
            aux["slope_w"], aux["slope_D"] = w, D

    def report(self, disc, V, z):
        """Contact multipliers need the gradient at the solution: see ``Solution.multipliers``."""
        return {}
