"""The side-condition interface: unknowns, terms of ``L(V, z)``, checks at the door, report."""

from __future__ import annotations

import numpy as np


class Side:
    """The discrete counterpart of one public side condition (``con``) of a problem.

    Declared (class attributes):

    * ``kind``: the public class's name; ``slot``: where the problem holds it (``"constraints"``,
      ``"data"``, ``"ends"``); ``rank``: the order in which sides get their rows and ``z`` entries
      (lower first; Integral multipliers are ``z[:k_int]``, free ends come last);
    * capabilities: ``orders`` (problem orders), ``scalar_only``, ``modes`` (``None``: all),
      ``elements`` (element family names, ``None``: all), ``max_count``, ``excludes`` (kinds it is
      not combined with), ``adds_unknowns`` (it has rows or ``z`` entries, i.e. it needs the KKT step),
      ``box`` (it bounds the values: the minimising step's box, ``disc.lower``/``disc.upper``);
    * the terms it contributes to ``L(V, z)`` (:mod:`varcalc.lagrangian`): ``integrand`` (a term of
      ``G̃`` at every quadrature point), ``nodal`` (a term ``N_i`` at every node), ``point`` (a term at
      one node: an end), ``free_end`` (its ``z`` holds an end's abscissa: the grid is ``ξ ∈ [0, 1]``).

    Per instance, after :meth:`prepare`: ``rows`` (its rows of ``V`` per node, after the element's),
    ``z`` (one bool per global unknown: is it a multiplier), and the offsets ``row0`` (absolute row in
    ``V``) and ``z0`` (index in ``z``) that :class:`~varcalc.lagrangian.Layout` assigns.
    """

    kind = "?"
    slot = "constraints"
    rank = 1
    orders: tuple = (1, 2)
    scalar_only = False
    modes: tuple | None = None
    elements: tuple | None = None
    max_count: int | None = None
    excludes: tuple = ()
    adds_unknowns = False
    box = False
    integrand = nodal = point = free_end = False

    def __init__(self, con, end: str | None = None):
        self.con = con
        self.end = end
        self.index = 0  # position among the problem's sides of this kind
        self.rows = 0
        self.z: tuple = ()
        self.row0 = self.z0 = 0

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, rows={self.rows}, z={len(self.z)})"

    @property
    def name(self):
        return getattr(self.con, "name", None)

    # -- unknowns ---------------------------------------------------------------------------------
    def prepare(self, problem) -> None:
        """Probe what the sizes depend on (sets ``rows`` and ``z``)."""

    def on_element(self, element) -> None:
        """Called by the layout after :meth:`prepare` with the element object (rows that depend on
        it: a Pointwise constraint's multipliers at each of its collocation points)."""

    def bind(self, layout) -> None:
        """Called by the layout once the offsets are set: the unknown's size ``m`` and shape."""
        self.m, self.value_shape = layout.m, layout.shape

    def key(self) -> tuple:
        """Static structure (part of every compile key): functions by identity, never values."""
        return (self.kind, getattr(self.con, "fun", None))

    # -- terms of L(V, z) -----------------------------------------------------------------------
    def in_integrand(self, args, z, aux):
        """Its term of ``G̃`` at a quadrature point (``args`` as the user's ``G`` gets them)."""
        return 0.0

    def constant(self, z, aux):
        """Its term of ``G̃`` outside the length factor (per unit reference length)."""
        return 0.0

    def at_node(self, v, F, xx, jac, node, z, aux):
        """``N_i``: its term at a node (``v`` the node's unknowns, ``F`` its value in the unknown's
        shape, ``xx`` the physical abscissa, ``jac = dx/dξ``, ``node`` per-node data)."""
        return 0.0

    def point_node(self, aux):
        """Index of the node its ``point`` term sits at (an end: the first or the last real node)."""
        if self.end == "left":
            return 0
        return aux["cells"] if isinstance(aux, dict) and "cells" in aux else -1

    def at_point(self, v, z, aux):
        return 0.0

    # -- the door -------------------------------------------------------------------------------
    @classmethod
    def collect(cls, problem) -> list:
        """The public objects of this kind in ``problem`` (in order)."""
        if cls.slot == "constraints":
            return [c for c in problem.constraints if type(c) is cls.public or isinstance(c, cls.public)]
        return []

    @classmethod
    def where(cls, con) -> str:
        return f"constraints: {cls.kind} {con.name!r}"

    @classmethod
    def check_door(cls, problem, mine, present) -> None:
        """Checks of ``problem``'s objects of this kind at the door (Problem construction):
        the declared orders, count and exclusions, each with its message."""
        if not mine:
            return
        if (cls.scalar_only and problem.is_vector) or problem.order not in cls.orders:
            raise ValueError(f"{cls.where(mine[0])} needs {cls._requirement()}")
        if cls.max_count is not None and len(mine) > cls.max_count:
            raise ValueError(cls.too_many_message())
        clash = [k for k in cls.excluded_kinds() if k in present]
        if clash:
            raise ValueError(cls.excludes_message(mine[0], clash))

    @classmethod
    def excluded_kinds(cls) -> tuple:
        return cls.excludes

    @classmethod
    def _requirement(cls) -> str:
        orders = " or ".join(f"order={o}" for o in cls.orders)
        return f"a scalar unknown with {orders}" if cls.scalar_only else orders

    @classmethod
    def too_many_message(cls) -> str:
        return f"constraints: give at most {cls.max_count} {cls.kind}"

    @classmethod
    def excludes_message(cls, con, clash) -> str:
        return f"{cls.where(con)} cannot be combined with {'/'.join(clash)} yet"

    def check_mode(self, mode) -> None:
        if self.modes is not None and mode not in self.modes:
            raise ValueError(f"mode: {mode!r} cannot be combined with a {self.kind} constraint")

    def check_grid(self, problem, x) -> None:
        """Checks against the grid and the boundary values (ValueError naming the side)."""

    def grid(self, x, given: bool):
        """The grid with the nodes this side needs (``given``: the user's grid, kept as it is)."""
        return x

    # -- the discretization ---------------------------------------------------------------------
    def init(self, disc) -> None:
        """Its initial unknowns and masks in ``disc``: by default its rows are not unknowns at nodes
        whose values are fixed (a multiplier of a Dirichlet node)."""
        if self.rows:
            m = disc.layout.m
            disc.fixed[self.row0 : self.row0 + self.rows, disc.fixed[:m].all(axis=0)] = True

    def guess(self, disc, coarse) -> list:
        """Its rows of ``V0``, each ``(rows, n)``: zero, or the coarse solution's (warm start)."""
        if not self.rows:
            return []
        n = disc.x.size
        if coarse is None or self.name not in coarse.multipliers:
            return [np.zeros((self.rows, n))]
        return [np.reshape(disc.from_coarse(coarse, coarse.multipliers[self.name]), (n, self.rows)).T]

    def guess_z(self, disc, coarse) -> None:
        """Its entries of ``z0`` from a coarse solution (warm start)."""

    def aux(self, disc, aux: dict) -> None:
        """Add its constants to ``aux`` (traced inputs: new values do not recompile)."""

    # -- the report -----------------------------------------------------------------------------
    def report(self, disc, V, z) -> dict:
        """``{name: multiplier}`` at the unknowns ``V`` (d, n), ``z`` (k,)."""
        if self.rows:
            mu = np.asarray(V)[self.row0 : self.row0 + self.rows].T
            return {self.name: mu[:, 0] if self.rows == 1 else mu}
        if self.z:
            mult = [self.z0 + i for i, is_mult in enumerate(self.z) if is_mult]
            return {self.name: float(np.asarray(z)[mult[0]])}
        return {}
