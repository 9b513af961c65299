"""C¹ cubic Hermite elements for ``order=2`` problems: a value and a slope per node."""

from __future__ import annotations

import numpy as np

from ._base import Element


class Hermite3(Element):
    """Rows ``[f_i (m), f'_i (m)]``; 4 Gauss points per cell everywhere (no quadrature blocks)."""

    name = "Hermite3"
    orders = (2,)

    @classmethod
    def serves(cls, order, degree):
        return order == 2 and degree == 1

    def rows(self, m):
        return 2 * m

    def functional(self, G, vector, m, blocks):
        from ..functional import HermiteFunctional
        return HermiteFunctional(G, vector, m)

    def guess_rows(self, disc, U0, coarse):
        S0 = np.gradient(U0, disc.x_user, axis=0)
        if coarse is not None:
            S0 = disc.from_coarse(coarse, coarse.slope)
        bc = disc.problem.bc_flat
        for key, node in (("left'", 0), ("right'", -1)):
            if key in bc:
                S0[node] = bc[key]
        return [S0.T]

    def midpoint_jets(self, v0, v1, h, m):
        """The cubic Hermite interpolant at the midpoint: ``[f, f', f'']``."""
        f0, f1, s0, s1 = v0[:m], v1[:m], v0[m:2 * m], v1[m:2 * m]
        return [0.5 * (f0 + f1) + h * (s0 - s1) / 8, 1.5 * (f1 - f0) / h - (s0 + s1) / 4, (s1 - s0) / h]

    def quadrature_summary(self, disc):
        return {"gauss4 (Hermite)": disc.x.size - 1}
