"""Conforming Lagrange triangles (P1, P2) on the reference triangle ``(0,0), (1,0), (0,1)`` and
the quadrature rules that integrate their energies.

Local node order: P1 — the vertices ``v0, v1, v2``; P2 — the vertices, then the edge midpoints
``m01, m12, m20``.  With barycentric coordinates ``λ0 = 1 - ξ - η, λ1 = ξ, λ2 = η``:
P1 ``φ_i = λ_i``; P2 ``φ_i = λ_i (2 λ_i - 1)`` at vertices and ``4 λ_a λ_b`` at the midpoint of
edge ``ab``.

Quadrature (weights sum to the reference area 1/2):

* P1: the 3-point rule exact for degree 2 (midpoints of the medians' inner halves): the energy of
  a smooth integrand is integrated to O(h²), the order of the element;
* P2: the 7-point rule exact for degree 5 (Radon 1948): O(h⁴) quadrature error, below the
  element's O(h³) in the nodal values (a degree ≥ 2k - 2 = 2 rule is the minimum for optimal
  order; 5 leaves margin for x-dependent forcing terms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Element", "element", "rule"]


def rule(degree: int):
    """Quadrature on the reference triangle: barycentric points (Q, 3) and weights (Q,).

    >>> lam, w = rule(2); lam.shape, round(float(w.sum()), 15)
    ((3, 3), 0.5)
    """
    if degree <= 2:
        a, b = 2.0 / 3.0, 1.0 / 6.0
        lam = np.array([[a, b, b], [b, a, b], [b, b, a]])
        w = np.full(3, 1.0 / 6.0)
    elif degree <= 5:
        s = np.sqrt(15.0)
        a1, a2 = (6.0 - s) / 21.0, (6.0 + s) / 21.0
        w1, w2 = (155.0 - s) / 1200.0, (155.0 + s) / 1200.0
        lam = np.array(
            [
                [1 / 3, 1 / 3, 1 / 3],
                [1 - 2 * a1, a1, a1],
                [a1, 1 - 2 * a1, a1],
                [a1, a1, 1 - 2 * a1],
                [1 - 2 * a2, a2, a2],
                [a2, 1 - 2 * a2, a2],
                [a2, a2, 1 - 2 * a2],
            ]
        )
        w = np.array([9 / 40, w1, w1, w1, w2, w2, w2]) / 2.0
    else:
        raise ValueError(f"degree: rules up to degree 5 are available, got {degree}")
    return lam, w


# d(λ0, λ1, λ2)/d(ξ, η): shape (3, 2)
_DLAM = np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]])
_EDGES = ((0, 1), (1, 2), (2, 0))


@dataclass(frozen=True)
class Element:
    """A reference element sampled at its quadrature points.

    Attributes
    ----------
    name : str
    nloc : int
        Nodes per triangle (3 or 6).
    order : int
        Polynomial degree.
    lam : ndarray, shape (Q, 3)
        Barycentric coordinates of the quadrature points (``x_q = lam @ X_vertices``).
    weights : ndarray, shape (Q,)
        Reference weights (sum 1/2; multiply by ``2·area``).
    phi : ndarray, shape (Q, nloc)
        Basis values at the quadrature points.
    dphi : ndarray, shape (Q, nloc, 2)
        Reference gradients ``∂φ/∂(ξ, η)`` at the quadrature points.
    """

    name: str
    nloc: int
    order: int
    lam: np.ndarray
    weights: np.ndarray
    phi: np.ndarray
    dphi: np.ndarray

    def basis(self, lam):
        """Basis values (k, nloc) at barycentric points ``lam`` (k, 3)."""
        return _basis(self.order, np.asarray(lam, dtype=np.float64))[0]

    def basis_gradients(self, lam):
        """Reference gradients (k, nloc, 2) at barycentric points ``lam`` (k, 3)."""
        return _basis(self.order, np.asarray(lam, dtype=np.float64))[1]


def _basis(order, lam):
    """Values (k, nloc) and reference gradients (k, nloc, 2) at barycentric points (k, 3)."""
    if order == 1:
        return lam.copy(), np.broadcast_to(_DLAM, (len(lam), 3, 2)).copy()
    vals = [lam[:, i] * (2 * lam[:, i] - 1) for i in range(3)]
    grads = [(4 * lam[:, i] - 1)[:, None] * _DLAM[i] for i in range(3)]
    for a, b in _EDGES:
        vals.append(4 * lam[:, a] * lam[:, b])
        grads.append(4 * (lam[:, a][:, None] * _DLAM[b] + lam[:, b][:, None] * _DLAM[a]))
    return np.stack(vals, axis=1), np.stack(grads, axis=1)


def element(name: str) -> Element:
    """The reference element ``"P1"`` or ``"P2"`` with its default quadrature.

    >>> element("P2").phi.shape
    (7, 6)
    """
    if name not in ("P1", "P2"):
        raise ValueError(f"element: expected 'P1' or 'P2', got {name!r}")
    order = int(name[1])
    lam, w = rule(2 if order == 1 else 5)
    phi, dphi = _basis(order, lam)
    return Element(name, 3 if order == 1 else 6, order, lam, w, phi, dphi)
