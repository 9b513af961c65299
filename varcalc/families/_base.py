"""The element interface: local unknowns, the discrete functional, the facts the solver asks of it."""

from __future__ import annotations

import numpy as np

QUADRATURES = ("auto", "midpoint", "accurate")


class Element:
    """One family of 1-D elements (see :mod:`varcalc.families`).

    Class attributes (declared capabilities, checked by :meth:`check`):

    * ``name``: the family's name, ``orders``: the problem orders it serves;
    * ``sides``: names of the side conditions (:mod:`varcalc.sides`) it supports, ``None`` for all;
    * ``quadratures``: the accepted ``quadrature=`` options of :func:`varcalc.solve`;
    * ``warm_start``: whether a coarse warm start applies;
    * ``blocks``: whether the cells carry quadrature blocks (:mod:`varcalc.quadrature`), i.e. the
      singular-end detection and tanh-sinh rules of piecewise-linear elements.

    Per node the unknowns are ``rows(m)`` rows of ``V`` (``V[:d_el]``), laid out as the element's
    functional expects; side conditions append their rows after them.
    """

    name = "?"
    orders: tuple = (1,)
    sides: frozenset | None = None
    quadratures: tuple = QUADRATURES
    warm_start = True
    blocks = False

    def __init__(self, degree: int = 1, end_powers=(1, 1)):
        self.degree = int(degree)
        self.end_powers = (1, 1)

    def __repr__(self):
        return f"{type(self).__name__}(degree={self.degree})"

    # -- which family -----------------------------------------------------------------------------
    @classmethod
    def serves(cls, order: int, degree: int) -> bool:
        return False

    @classmethod
    def refusal(cls, order: int, degree: int) -> str | None:
        """The message refusing ``(order, degree)`` when this family owns the degree but not the order."""
        return None

    # -- unknowns ---------------------------------------------------------------------------------
    def rows(self, m: int) -> int:
        """Element unknowns per node (``d_el``) for an unknown with ``m`` components."""
        return m

    def key(self) -> tuple:
        """Static structure beyond the problem's (part of every compile key)."""
        return ()

    @property
    def mapped(self) -> bool:
        return self.end_powers != (1, 1)

    def end_map(self, aux):
        """The :class:`~varcalc.endmap.EndMap` on ``[aux["a"], aux["b"]]``, or None."""
        return None

    def chart(self, x, jets, aux):
        """The element's own change of variable ``x = φ(s)`` in the integrand: ``(x, jets, T)``
        with ``dx = T ds``, or None (the identity)."""
        return None

    def functional(self, G, vector: bool, m: int, blocks):
        """The cell part of the discrete Lagrangian for the internal integrand ``G``."""
        raise NotImplementedError

    def fix(self, fixed: np.ndarray, m: int) -> None:
        """Mark the element rows that are not unknowns (dummies) in ``fixed`` (d, n), in place."""

    def guess_rows(self, disc, U0, coarse) -> list:
        """Rows of ``V0`` after the values ``U0.T`` (interior values, slopes), each ``(rows, n)``."""
        return []

    def quadrature_summary(self, disc) -> dict:
        out: dict[str, int] = {}
        for b in disc.blocks:
            out[b.rule_name] = out.get(b.rule_name, 0) + b.size
        return out

    def midpoint_jets(self, v0, v1, h, m):
        """``[f, f'[, f'']]`` at a cell's midpoint from its end nodes' unknowns (the certificate's
        Legendre check): the linear interpolant's by default."""
        f0, f1 = v0[:m], v1[:m]
        return [0.5 * (f0 + f1), (f1 - f0) / h]

    # -- collocation points (where a Pointwise constraint holds) ---------------------------------
    collocation_count = 1  # points per node column: the node (and, for high order, its cell's)

    def collocation(self, v, m):
        """The unknown at node ``i``'s collocation points — the node, then the interior points of
        cell ``i`` whose values are rows of the same column — from its column ``v`` (d,):
        ``(F (P, m), t (P,), wn (P,), wh (P,))`` with ``t`` the points' offsets in the cell (a
        fraction of its width ``h``) and the quadrature weight of a point ``wn * mass_i + wh * h``
        (GLL-lumped: ``∫ μ g dx`` for a multiplier ``μ``).  Default: the node alone, weight ``mass_i``."""
        return v[:m][None, :], np.zeros(1), np.ones(1), np.zeros(1)

    def fixed_points(self, fixed, m):
        """``(P, n)``: is collocation point ``j`` of node ``i`` fixed (its values not unknowns)?"""
        return fixed[:m].all(axis=0)[None, :]

    # -- where a Bound is imposed (varcalc.sides._bound) ----------------------------------------
    def row_abscissae(self, x_user, x, end_map=None):
        """The abscissa of each element row's value, ``(n, rows(m) / m)``: a value Bound holds the
        unknowns themselves, so it is imposed at these points (the nodes, for P1)."""
        return np.asarray(x_user, dtype=np.float64)[:, None]

    def slope_rule(self):
        """``(t (q,), w (q,), D (q, p + 1))``: where in a cell a slope Bound is imposed (reference
        points ``t`` in [0, 1], weights ``w`` summing to 1 for its barrier) and the matrix taking a
        cell's values ``[f_i, ..., f_{i+1}]`` to ``h f'`` there.  P1: one constant slope per cell."""
        return np.array([0.5]), np.array([1.0]), np.array([[-1.0, 1.0]])

    def mass_rows(self, m, mass, x_grid, end_map=None):
        """The lumped mass of the element rows, ``(n, d_el)`` (the certificate's pencil)."""
        out = np.zeros((np.shape(x_grid)[0], self.rows(m)))
        out[:, :m] = np.asarray(mass)[:, None]
        return out

    # -- the door ---------------------------------------------------------------------------------
    def check(self, problem, quadrature: str, sides) -> None:
        """Refuse what the family does not support (ValueError naming it)."""
        if self.sides is not None:
            what = sorted({s.kind for s in sides if s.kind not in self.sides})
            if what:
                raise ValueError(self.sides_message(what))
        if self.quadratures != QUADRATURES and quadrature not in self.quadratures:
            raise ValueError(self.quadrature_message(quadrature))

    def sides_message(self, what) -> str:
        return f"degree: {self.name} elements do not support {what}"

    def quadrature_message(self, quadrature) -> str:
        return f"quadrature: {quadrature!r} does not apply to {self.name} elements"

    def warm_start_message(self) -> str:
        return f"warm_start: not available with {self.name} elements"

    def setup(self, disc, build, *, grid, guess, quadrature, singular_ends, detect):
        """Finish ``disc`` once the guess is known (quadrature, end maps); returns the
        discretization (``build(x, end_powers, s)`` makes a new one on another grid)."""
        return disc
