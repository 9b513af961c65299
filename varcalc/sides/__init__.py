"""Side conditions as objects: each public condition of :mod:`varcalc.constraints` is paired with
its discrete counterpart here (one private module each), through the registry :data:`SIDES`.

A :class:`~varcalc.sides._base.Side` declares its unknowns (rows of ``V`` per node, global entries
of ``z``), its terms of the discrete Lagrangian ``L(V, z)`` (:mod:`varcalc.lagrangian` sums them),
its checks at the door (declared capabilities: orders, modes, element families, count, the kinds it
is not combined with), its initial values and its report.

* :class:`IntegralSide` (``_integral.py``) — one multiplier in ``z``, a term of ``G̃``;
* :class:`PointwiseSide` (``_pointwise.py``) — multiplier rows of ``V``, a term at every node;
* :class:`BoundSide` (``_bound.py``) — no term: the box of the minimising step;
* :class:`DataSide` (``_data.py``) — a least-squares term at the data nodes;
* :class:`OnCurveSide` (``_oncurve.py``) — a free end: its abscissa and multiplier in ``z``, a term
  at the end node.

The natural boundary condition of a free end is no object: it is what ``L`` gives when the end's
value is an unknown.

A new kind of side condition is a public class (holding what the user wrote) and a ``Side``
subclass, registered with :func:`register_side`; :class:`~varcalc.Problem` accepts it in
``constraints=[...]`` from then on.

Why pairs rather than methods on the public classes: the public classes are frozen user input,
shared between solves of different layouts (degree, ends) and sizes; the discrete side holds what
one layout decides (its row and ``z`` offsets, probed shapes) and the JAX terms, which the public
surface does not need to show.
"""

from __future__ import annotations

from ._base import Side
from ._bound import BoundSide
from ._data import DataSide
from ._integral import IntegralSide
from ._oncurve import OnCurveSide
from ._pointwise import PointwiseSide

__all__ = [
    "Side",
    "SIDES",
    "register_side",
    "sides_for",
    "constraint_types",
    "check_door",
    "IntegralSide",
    "PointwiseSide",
    "BoundSide",
    "DataSide",
    "OnCurveSide",
]

# public class -> its discrete side (in the order the door checks them)
SIDES: dict[type, type[Side]] = {s.public: s for s in (IntegralSide, PointwiseSide, BoundSide, DataSide, OnCurveSide)}


def register_side(public: type, side: type[Side]) -> type[Side]:
    """Register the discrete ``side`` of the public class ``public``."""
    side.public = public
    side.kind = side.kind if side.kind != "?" else public.__name__
    SIDES[public] = side
    return side


def unregister_side(public: type) -> None:
    SIDES.pop(public, None)


def constraint_types() -> tuple:
    """The public classes accepted in ``Problem(constraints=[...])``."""
    return tuple(p for p, s in SIDES.items() if s.slot == "constraints")


def side_class(con) -> type[Side]:
    for public, side in SIDES.items():
        if type(con) is public:
            return side
    for public, side in SIDES.items():
        if isinstance(con, public):
            return side
    raise TypeError(f"no side condition registered for {type(con).__name__}")


def present_kinds(problem) -> set:
    return {s.kind for s in SIDES.values() if s.collect(problem)}


def check_door(problem) -> None:
    """Each registered kind checks its objects of ``problem`` (called by :class:`~varcalc.Problem`)."""
    present = present_kinds(problem)
    for side in SIDES.values():
        side.check_door(problem, side.collect(problem), present)


def sides_for(problem) -> list[Side]:
    """The discrete sides of ``problem``, unprepared: constraints in order, data, then ends."""
    out, counts = [], {}
    for con in problem.constraints:
        out.append(side_class(con)(con))
    if problem.data is not None:
        out.append(SIDES[type(problem.data)](problem.data))
    for end in ("left", "right"):
        curve = problem.end_curve(end)
        if curve is not None:
            out.append(side_class(curve)(curve, end))
    for s in out:
        s.index = counts.get(s.kind, 0)
        counts[s.kind] = s.index + 1
    return out
