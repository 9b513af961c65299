"""Continuous degree-``p`` Lagrange elements on Gauss–Lobatto nodes (``order=1, degree=p >= 2``),
with an optional end map ``x = φ(s)`` that makes a singular end smooth (:mod:`varcalc.endmap`)."""

from __future__ import annotations

import numpy as np

from ._base import Element


class Lagrange(Element):
    """Rows ``[f_i (m); f at the p - 1 interior GLL nodes of cell i (m each)]``; ``p + 2`` Gauss
    points per cell.  ``end_powers = (k_L, k_R)``: ``x - a ∝ s^k`` at a mapped singular end (1: no
    map); a mapped end's slope is flat, which fixes the GLL value next to it."""

    name = "Lagrange"
    orders = (1,)
    sides = frozenset({"Integral", "Pointwise", "Data", "OnCurve", "Bound"})  # the kinds checked at degree > 1
    quadratures = ("auto",)
    warm_start = False

    def __init__(self, degree: int = 2, end_powers=(1, 1)):
        super().__init__(degree)
        self.end_powers = tuple(int(k) for k in end_powers)

    def __repr__(self):
        return f"Lagrange({self.degree}{'' if not self.mapped else f', end_powers={self.end_powers}'})"

    @classmethod
    def serves(cls, order, degree):
        return order == 1 and degree > 1

    def rows(self, m):
        return m * self.degree

    @property
    def collocation_count(self):
        return self.degree  # the node and the p - 1 interior GLL nodes of its cell

    def collocation(self, v, m):
        """The node and its cell's interior GLL nodes, weighted by the GLL rule (node: ``2 w_0`` times
        the lumped mass ``(h_{i-1} + h_i) / 2``, i.e. ``w_0`` from each neighbour cell)."""
        from ..elements import gll_nodes, gll_weights

        p = self.degree
        t, w = gll_nodes(p)[:-1], gll_weights(p)[:-1]
        wn = np.zeros(p)
        wn[0] = 2.0 * w[0]
        wh = np.concatenate([[0.0], w[1:]])
        return v[: m * p].reshape(p, m), t, wn, wh

    def key(self):
        return (("degree", self.degree),) + ((("end_powers", self.end_powers),) if self.mapped else ())

    def end_map(self, aux):
        if not self.mapped:
            return None
        from ..endmap import EndMap

        return EndMap(self.end_powers, aux["a"], aux["b"])

    def chart(self, x, jets, aux):
        if not self.mapped:
            return None
        end_map = self.end_map(aux)  # x = φ(s): f' = f_s / φ'(s), dx = φ'(s) ds
        T = end_map.dx_ds(x)
        return end_map.x_of_s(x), (jets[0], jets[1] / T), T

    def functional(self, G, vector, m, blocks):
        from ..elements import LagrangeFunctional

        return LagrangeFunctional(G, vector, m, self.degree, flat_ends=tuple(k > 1 for k in self.end_powers))

    def fix(self, fixed, m):
        p = self.degree
        fixed[m : m * p, -1] = True  # the last node's interior rows: dummies (no cell to its right)
        if self.end_powers[0] > 1:  # a mapped end's flat slope fixes the GLL value next to it
            fixed[m : 2 * m, 0] = True
        if self.end_powers[1] > 1:
            fixed[(p - 1) * m : p * m, -2] = True

    def fixed_points(self, fixed, m):
        """``(P, n)``: is collocation point ``j`` of node ``i`` not an unknown (a Dirichlet node, a
        dummy)?  From the element rows of ``fixed`` (d, n)."""
        return fixed[: m * self.degree].reshape(self.degree, m, -1).all(axis=1)

    def guess_rows(self, disc, U0, coarse):
        from ..elements import gll_nodes

        t = gll_nodes(self.degree)[1:-1]  # interior GLL values: the guess function's, else linear
        inner = (1 - t)[None, :, None] * U0[:-1, None, :] + t[None, :, None] * U0[1:, None, :]
        if getattr(disc, "interior_guess", None) is not None:
            inner = disc.interior_guess
        inner = np.concatenate(
            [inner.reshape(U0.shape[0] - 1, -1), np.zeros((1, inner.shape[1] * inner.shape[2]))], axis=0
        )  # dummies 0
        return [inner.T]

    def row_abscissae(self, x_user, x, end_map=None):
        """Node ``i``'s rows: ``f_i`` at ``x_i``, then the interior GLL nodes of cell ``i`` (the last
        node's dummies at ``x_n``); mapped through ``x = φ(s)`` when the grid is ``s``."""
        from ..elements import gll_nodes

        x = np.asarray(x, dtype=np.float64)
        inner = x[:-1, None] + gll_nodes(self.degree)[None, 1:-1] * np.diff(x)[:, None]
        inner = np.concatenate([inner, np.full((1, inner.shape[1]), x[-1])])
        if end_map is not None:
            inner = end_map.x_of_s(inner)
        else:  # the same affine map as the nodes (x_user = x unless the grid is a reference one)
            inner = x_user[0] + (inner - x[0]) * (x_user[-1] - x_user[0]) / (x[-1] - x[0])
        return np.concatenate([np.asarray(x_user, dtype=np.float64)[:, None], inner], axis=1)

    def slope_rule(self):
        """The cell's quadrature points (``p + 2`` Gauss points): the discrete functional sees f′
        there and only there, so that is where a slope bound is meaningful and enough."""
        from ..elements import _element_tables
        from ..quadrature import gauss_rule

        rule = gauss_rule(self.degree + 2)
        _, dphi, _ = _element_tables(self.degree, rule.size)
        return np.asarray(rule.t), np.asarray(rule.w), np.asarray(dphi).T

    def quadrature_summary(self, disc):
        p = self.degree
        mapped = f", x - a ∝ s^k at the ends: k = {self.end_powers}" if disc.end_map else ""
        return {f"gauss{p + 2} (Lagrange degree {p}{mapped})": disc.x.size - 1}

    def mass_rows(self, m, mass, x_grid, end_map=None):
        """GLL-lumped mass: block i = [f_i, interior values of cell i]; the last block's are dummies."""
        from ..elements import gll_nodes, gll_weights

        p, n = self.degree, np.shape(x_grid)[0]
        w = gll_weights(p)
        h = np.diff(x_grid)
        hw = h[:, None] * w[None, :]  # (n-1, p+1): each cell's GLL weights
        if end_map is not None:  # x_grid is s, x = φ(s): dx = φ'(s) ds at the GLL nodes
            hw = hw * end_map.dx_ds(x_grid[:-1, None] + gll_nodes(p)[None, :] * h[:, None])
        node = np.zeros(n)
        node[:-1] += hw[:, 0]
        node[1:] += hw[:, -1]
        out = np.zeros((n, self.rows(m)))
        out[:, :m] = node[:, None]
        # (n-1, (p-1) m): each interior node's weight once per component, as the rows are laid out.
        out[:-1, m : m * p] = hw[:, 1:-1].repeat(m, axis=1)
        return out

    def sides_message(self, what):
        return (
            f"degree: degree > 1 supports {', '.join(sorted(self.sides))} constraints only, not {what}; "
            "use degree=1 for this problem"
        )

    def quadrature_message(self, quadrature):
        return (
            f"quadrature: {quadrature!r} applies to degree=1; degree > 1 uses Gauss–Legendre "
            "with degree + 2 points per cell"
        )

    def warm_start_message(self):
        return "warm_start: not available with degree > 1 (high-order elements need few nodes)"

    # -- finishing the discretization: singular ends mapped away ----------------------------------
    def setup(self, disc, build, *, grid, guess, quadrature, singular_ends, detect):
        problem = disc.problem
        powers = _singular_end_powers(disc, singular_ends, detect)
        if powers != (1, 1):
            from ..endmap import EndMap

            end_map = EndMap(powers, *problem.domain)
            x = disc.x_user
            s = np.linspace(0.0, 1.0, x.size) if grid is None else end_map.s_of_x(x)
            if powers[0] > 1 and powers[1] > 1 and s.size < 3:
                raise ValueError(f"n: mapping both singular ends needs at least 3 nodes (2 cells), got {s.size}")
            x = end_map.x_of_s(s)
            x[0], x[-1] = problem.domain
            disc = build(x, powers, s)
            disc.singular_ends = tuple(e for e, k in zip(("left", "right"), powers) if k > 1)
        if callable(guess):  # the guess between the nodes too (a smooth start)
            disc.interior_guess = _interior_guess(problem, disc, guess, self.degree)
            disc.set_guess(disc.U0)
        return disc


def _singular_end_powers(disc, singular_ends, detect):
    """Map powers ``(k_L, k_R)``: 1 at a smooth end, ``k`` at a singular one (given in
    ``singular_ends={end: k}`` or found by :func:`varcalc.endmap.singular_power`)."""
    problem = disc.problem
    if singular_ends is None:
        ends = dict.fromkeys(detect(disc))
    elif isinstance(singular_ends, dict):
        ends = dict(singular_ends)
    else:
        ends = dict.fromkeys((singular_ends,) if isinstance(singular_ends, str) else singular_ends)
    bad = [e for e in ends if e not in ("left", "right") or e not in problem.bc]
    if bad:
        raise ValueError(f"singular_ends: expected Dirichlet ends among ('left', 'right'), got {bad}")
    for end, k in ends.items():
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"singular_ends: the power for {end!r} must be a positive integer, got {k!r}")
    if ends and problem.is_vector and any(k is None for k in ends.values()):
        raise ValueError(
            "singular_ends: give the map power for a vector unknown, e.g. "
            "singular_ends={'left': 3}, with x - a ∝ s^k (see varcalc.endmap)"
        )
    powers = []
    for end in ("left", "right"):
        k = ends.get(end, 1)  # None: given without a power, find it
        if k is None:
            k = _found_power(disc, end)
        powers.append(int(k))
    return tuple(powers)


def _found_power(disc, end):
    """:func:`varcalc.endmap.singular_power` at ``end`` along the guess; ValueError if none."""
    from ..endmap import singular_power

    problem = disc.problem
    node, inner = (0, 1) if end == "left" else (-1, -2)
    f_end, f_in = float(disc.U0[node, 0]), float(disc.U0[inner, 0])
    spread = float(np.ptp(disc.U0))
    scale = spread if spread > 0 else 1.0
    G = problem.integrand
    if problem.params is not None:
        params = disc.params
        G = lambda f, df, x: problem.integrand(f, df, x, params)
    # The side f leaves f_end to: the guess's, else (a flat guess) whichever side G is defined on.
    directions = (1.0, -1.0) if f_in >= f_end else (-1.0, 1.0)
    for direction in directions:
        k = singular_power(G, f_end, direction, float(disc.x_user[node]), end, scale)
        if not isinstance(k, str) or f_in != f_end:
            break
    if isinstance(k, str):
        raise ValueError(
            f"singular_ends: the integrand is singular at the {end} end along the guess, and degree > 1 "
            f"maps such an end away with x - a ∝ s^k, but k could not be found: {k}. Give it as "
            f"singular_ends={{{end!r}: k}} (f smooth in s; k = 3 for f ~ x^(2/3)), or use degree=1, "
            "which grades the grid and integrates the end cells with tanh-sinh rules"
        )
    return k


def _interior_guess(problem, disc, guess, degree):
    """``guess`` at the interior Gauss–Lobatto nodes of each cell, shape ``(n-1, p-1, m)``."""
    from ..elements import gll_nodes

    return points_guess(disc, guess, gll_nodes(degree)[1:-1])


def points_guess(disc, guess, t):
    """``guess`` at the points ``t`` (k,) of each cell of the solver's grid, ``(n-1, k, m)``."""
    problem = disc.problem
    x = disc.x  # the solver's grid: s for a mapped singular end, ξ for a free end
    xi = x[:-1, None] + np.asarray(t)[None, :] * np.diff(x)[:, None]
    if disc.end_map is not None:
        xi = disc.end_map.x_of_s(xi)
    elif disc.layout.free_end:  # ξ ∈ [0, 1] -> the guess's abscissae
        xu = disc.x_user
        xi = xu[0] + (xu[-1] - xu[0]) * xi
    try:
        values = np.asarray(guess(xi.reshape(-1)), dtype=np.float64)
    except Exception as exc:  # the user's function: report what failed, keep the cause
        raise ValueError(f"guess: calling guess(x) between the nodes (shape {xi.size},) raised {exc!r}") from exc
    if values.size != xi.size * problem.components or not np.all(np.isfinite(values)):
        raise ValueError(
            f"guess: guess(x) between the nodes must give {xi.size} finite node values "
            f"of shape {problem.shape}, got shape {values.shape}"
        )
    return values.reshape(xi.shape + (problem.components,))
