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
        f0, f1, s0, s1 = v0[:m], v1[:m], v0[m : 2 * m], v1[m : 2 * m]
        return [0.5 * (f0 + f1) + h * (s0 - s1) / 8, 1.5 * (f1 - f0) / h - (s0 + s1) / 4, (s1 - s0) / h]

    def quadrature_summary(self, disc):
        return {"gauss4 (Hermite)": disc.x.size - 1}


class HermiteP(Hermite3):
    """C¹ elements of degree ``p >= 3`` for ``order=2`` problems (``vc.solve(..., degree=p)``).

    Rows ``[f_i (m), f'_i (m), f at the p - 3 points τ of cell i (m each)]``
    (:class:`varcalc.elements.HermitePFunctional`; the last node's ``τ`` rows are dummies);
    ``p + 2`` Gauss points per cell.  The solution is reported, and evaluated, as each cell's
    values at its ``p + 1`` Gauss–Lobatto nodes (``sol.element_values``), as for Lagrange elements.
    """

    name = "HermiteP"
    sides = frozenset({"Integral", "Data"})  # the kinds checked with it (the others need order=1)
    quadratures = ("auto",)
    warm_start = False

    @classmethod
    def serves(cls, order, degree):
        return order == 2 and degree >= 3

    @classmethod
    def refusal(cls, order, degree):
        if order == 2 and degree == 2:
            return (
                "degree: order=2 problems need C¹ elements, of degree >= 3 (degree=3: cubic Hermite, "
                "as the default degree=1 gives; degree=p > 3 adds p - 3 values per cell), got degree=2"
            )
        return None

    def rows(self, m):
        return m * (self.degree - 1)

    def key(self):
        return (("hermite degree", self.degree),)

    def functional(self, G, vector, m, blocks):
        from ..elements import HermitePFunctional

        return HermitePFunctional(G, vector, m, self.degree)

    def interior_points(self):
        """Where the interior rows sit in a cell, ``t ∈ (0, 1)`` (``p - 3`` points)."""
        from ..elements import hermite_points

        return hermite_points(self.degree)

    def fix(self, fixed, m):
        fixed[2 * m :, -1] = True  # the last node's interior rows: dummies (no cell to its right)

    def guess_rows(self, disc, U0, coarse):
        (S0,) = super().guess_rows(disc, U0, None)
        inner = getattr(disc, "interior_guess", None)
        if inner is None:  # the cubic Hermite interpolant of the guess's values and slopes
            inner = hermite_interior(disc.x, U0, S0.T, self.interior_points())
        inner = np.concatenate(
            [inner.reshape(U0.shape[0] - 1, -1), np.zeros((1, inner.shape[1] * inner.shape[2]))], axis=0
        )  # dummies 0
        return [S0, inner.T]

    def setup(self, disc, build, *, grid, guess, quadrature, singular_ends, detect):
        if singular_ends:
            raise ValueError("singular_ends: not available for order=2 problems (no end map for C¹ elements)")
        if callable(guess) and self.degree > 3:  # the guess between the nodes too
            from ._lagrange import points_guess

            disc.interior_guess = points_guess(disc, guess, self.interior_points())
            disc.set_guess(disc.U0)
        return disc

    def quadrature_summary(self, disc):
        return {f"gauss{self.degree + 2} (C¹ degree {self.degree})": disc.x.size - 1}

    def mass_rows(self, m, mass, x_grid, end_map=None):
        """Lumped mass of the value rows (the certificate's pencil): the Gauss–Lobatto weights of the
        points ``[0, τ…, 1]`` (GLL nodes of degree p - 2) per cell; slopes get none."""
        from ..elements import gll_weights

        w = gll_weights(self.degree - 2)
        h = np.diff(x_grid)
        node = np.zeros(np.shape(x_grid)[0])
        node[:-1] += h * w[0]
        node[1:] += h * w[-1]
        out = np.zeros((node.size, self.rows(m)))
        out[:, :m] = node[:, None]
        out[:-1, 2 * m :] = (h[:, None] * w[None, 1:-1]).repeat(m, axis=1)  # each point's weight per component
        return out

    def sides_message(self, what):
        return (
            f"degree: C¹ elements of degree > 3 support {', '.join(sorted(self.sides))} only, not {what}; "
            "use degree=1 for this problem"
        )

    def quadrature_message(self, quadrature):
        return (
            f"quadrature: {quadrature!r} does not apply to C¹ elements of degree > 1; they use "
            "Gauss–Legendre with degree + 2 points per cell"
        )

    def warm_start_message(self):
        return "warm_start: not available with degree > 1 (high-order elements need few nodes)"


def hermite_interior(x, U0, S0, t):
    """Values at the points ``t`` (k,) of each cell of the cubic Hermite interpolant of nodal values
    ``U0`` and slopes ``S0`` (..., n, m) on ``x`` (n,): shape ``(..., n-1, k, m)`` (leading axes:
    lanes of a batch)."""
    from ..functional import hermite_basis

    h = np.diff(x)[:, None, None]
    phi = np.asarray(hermite_basis(np.asarray(t, float), 1.0)[0])[:, None, :, None]  # (4, 1, k, 1), slopes × h
    L, R = (slice(None, -1), slice(1, None))
    U0, S0 = np.asarray(U0)[..., None, :], np.asarray(S0)[..., None, :]  # (..., n, 1, m)
    return (
        phi[0] * U0[..., L, :, :]
        + phi[1] * h * S0[..., L, :, :]
        + phi[2] * U0[..., R, :, :]
        + phi[3] * h * S0[..., R, :, :]
    )
