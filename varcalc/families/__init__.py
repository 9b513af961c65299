"""Element families of 1-D problems: what the unknowns of a node are and how a cell evaluates them.

Each family is one private module holding one :class:`~varcalc.families._base.Element` subclass;
:data:`ELEMENTS` is the registry that :func:`element_for` searches in order, asking each class
whether it serves ``(order, degree)``:

* :class:`P1` (``_p1.py``) — continuous piecewise-linear, ``order=1, degree=1``; quadrature blocks
  with tanh-sinh rules at singular ends (:class:`varcalc.functional.DiscreteFunctional`);
* :class:`Hermite3` (``_hermite.py``) — C¹ cubic Hermite, ``order=2`` (``degree=1``, the default)
  (:class:`varcalc.functional.HermiteFunctional`);
* :class:`HermiteP` (``_hermite.py``) — C¹ elements of degree ``p >= 3``, ``order=2, degree=p``
  (:class:`varcalc.elements.HermitePFunctional`);
* :class:`Lagrange` (``_lagrange.py``) — continuous degree-``p`` Lagrange on Gauss–Lobatto nodes,
  ``order=1, degree=p >= 2``, with an optional end map ``x = φ(s)`` at singular ends
  (:class:`varcalc.elements.LagrangeFunctional`, :mod:`varcalc.endmap`).

A new family is a new module here with its class and one entry in :data:`ELEMENTS` (or a call of
:func:`register_element`); :class:`varcalc.lagrangian.Layout`, :mod:`varcalc.solve` and the
certificate ask the element object, never its degree.

>>> element_for(order=1, degree=1).name, element_for(order=2, degree=1).name, element_for(1, 3).name
('P1', 'Hermite3', 'Lagrange')
>>> element_for(order=2, degree=5).name
'HermiteP'
"""

from __future__ import annotations

from ._base import Element
from ._hermite import Hermite3, HermiteP
from ._lagrange import Lagrange
from ._p1 import P1

__all__ = ["Element", "P1", "Hermite3", "HermiteP", "Lagrange", "ELEMENTS", "element_for", "register_element"]

# Searched in order: the first class whose ``serves(order, degree)`` is true is used.
ELEMENTS: list[type[Element]] = [P1, Hermite3, HermiteP, Lagrange]


def register_element(cls: type[Element], first: bool = True) -> type[Element]:
    """Add an element family to the registry (searched first unless ``first=False``)."""
    if cls not in ELEMENTS:
        ELEMENTS.insert(0, cls) if first else ELEMENTS.append(cls)
    return cls


def element_for(order: int, degree: int = 1, end_powers=(1, 1)) -> Element:
    """The element object of an ``order`` problem solved with ``degree``: the registry's first
    family serving it.  Families that are not first choices (e.g. ``degree=2`` for ``order=2``)
    are found through :meth:`Element.refusal` and refused with their own message."""
    for cls in ELEMENTS:
        if cls.serves(order, degree):
            return cls(degree=degree, end_powers=end_powers)
    for cls in ELEMENTS:  # a family that declares this degree but not this order: its message
        message = cls.refusal(order, degree)
        if message:
            raise ValueError(message)
    raise ValueError(f"degree: no element family for order={order}, degree={degree}")
