"""Continuous piecewise-linear elements (``order=1, degree=1``) with quadrature blocks."""

from __future__ import annotations

from ._base import Element


class P1(Element):
    """Values at the nodes; one quadrature rule per block of cells (midpoint, or tanh-sinh rules in
    the cells at a singular end: :mod:`varcalc.quadrature`)."""

    name = "P1"
    orders = (1,)
    blocks = True

    @classmethod
    def serves(cls, order, degree):
        return order == 1 and degree == 1

    def functional(self, G, vector, m, blocks):
        from ..functional import DiscreteFunctional

        return DiscreteFunctional(G, vector, blocks)

    def setup(self, disc, build, *, grid, guess, quadrature, singular_ends, detect):
        from ..quadrature import assign_rules

        if singular_ends is None:
            if quadrature == "auto":
                singular_ends = detect(disc)
            elif quadrature == "accurate":
                singular_ends = tuple(e for e in ("left", "right") if e in disc.problem.bc)
            else:
                singular_ends = ()
        else:
            singular_ends = tuple(singular_ends) if not isinstance(singular_ends, str) else (singular_ends,)
            bad = [e for e in singular_ends if e not in ("left", "right")]
            if bad:
                raise ValueError(f"singular_ends: expected a subset of ('left', 'right'), got {bad}")
        disc.singular_ends = singular_ends
        disc.blocks = tuple(assign_rules(disc.x, singular_ends))
        return disc
