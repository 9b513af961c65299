"""A change of variable that makes a singular end smooth, for high-order elements (``degree > 1``).

Why: at an end where the integrand is singular the extremal is not smooth.  The brachistochrone
released at rest leaves the start vertically, ``f ~ c x^(2/3)``, and degree-``p`` polynomials in
``x`` converge at a fractional rate there however high ``p`` is.  Writing ``x = φ(s)`` with
``x - a ∝ s^k`` near the end turns ``f`` into a smooth function of ``s`` when ``k`` is a multiple of
the exponent's denominator (``f ~ s²`` for ``k = 3``): the elements then converge spectrally again.

The map, for powers ``(k_L, k_R)`` (1: no map at that end), is the normalised incomplete beta
polynomial

    φ(s) = a + (b - a) B(s),   B(s) = ∫_0^s t^(k_L-1) (1-t)^(k_R-1) dt / Beta(k_L, k_R),

so ``φ'(s) ∝ s^(k_L-1) (1-s)^(k_R-1)``, and the discrete functional integrates
``G(f, f_s / φ'(s), φ(s)) φ'(s)`` over ``s ∈ [0, 1]`` (:func:`varcalc.lagrangian.internal_integrand`).

Two more pieces make it work, both checked on the brachistochrone:

* **No vertical drop.**  A trial function with ``f_s ≠ 0`` at the mapped end falls like ``a₁ s``
  there, where the integrand behaves like ``s^(-1/2)``; Gauss points undercount that cell and the
  discrete minimiser exploits it (travel times 2–4 % too low).  The elements impose ``f_s = 0`` at a
  mapped end (:class:`varcalc.elements.LagrangeFunctional`, ``flat_ends``).  The exact extremal
  satisfies it whenever ``f - f(a) ~ (x - a)^α`` with ``α k >= 2``.
* **The power k** comes from the integrand when not given (:func:`singular_power`): for integrands of
  Fermat type, ``G ≈ w(f) |f'|`` for steep slopes with ``w ~ (f - f_end)^(-β)`` (speed ∝ ``f^β``),
  the first integral gives ``f - f_end ~ (x - a)^(1/(1+β))``; ``β = 1/2`` (free fall) gives ``k = 3``.

>>> m = EndMap((3, 1), 0.0, 2.0)
>>> float(m.x_of_s(0.5)), float(m.dx_ds(0.5))       # x = 2 s³
(0.25, 1.5)
>>> round(float(m.s_of_x(0.25)), 12)
0.5
"""

from __future__ import annotations

from math import comb, factorial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["EndMap", "singular_power"]

MAX_POWER = 8


class EndMap:
    """``x = φ(s)`` on ``[a, b]`` with ``x - a ∝ s^k_L`` and ``b - x ∝ (1 - s)^k_R`` (see the module).

    ``x_of_s`` and ``dx_ds`` take numpy or JAX arrays (plain arithmetic, for use inside the
    compiled integrand); ``s_of_x`` is numpy (bisection then Newton, to rounding).
    """

    def __init__(self, powers, a, b):
        self.powers = tuple(int(k) for k in powers)
        self.a, self.b = a, b  # floats, or traced values inside the compiled integrand

    def __repr__(self):
        return f"EndMap(powers={self.powers}, a={self.a}, b={self.b})"

    @staticmethod
    def _inverse_beta(kl, kr) -> int:
        """``1 / Beta(kl, kr) = (kl + kr - 1)! / ((kl - 1)! (kr - 1)!)``, a whole number (exact)."""
        return factorial(kl + kr - 1) // (factorial(kl - 1) * factorial(kr - 1))

    @classmethod
    def _B(cls, s, kl, kr):
        """``B(s)`` of the module docstring as the sum of its monomials (degree ``kl + kr - 1``)."""
        total = 0.0
        for j in range(kr):  # (1 - t)^(kr-1) = Σ_j C(kr-1, j) (-t)^j, integrated term by term
            total = total + comb(kr - 1, j) * (-1.0) ** j * s ** (kl + j) / (kl + j)
        return total * cls._inverse_beta(kl, kr)

    def unit(self, s):
        """``B(s)`` in ``[0, 1]``, accurate near both ends (the complement ``1 - B`` near ``s = 1``)."""
        kl, kr = self.powers
        if kr == 1:
            return s**kl
        if kl == 1:
            return 1.0 - (1.0 - s) ** kr
        # B(s) = 1 - B̃(1 - s) with the powers swapped: sum the small side's series.
        left = self._B(s, kl, kr)
        right = 1.0 - self._B(1.0 - s, kr, kl)
        xp = jnp if isinstance(s, jax.Array) else np  # traced inside the integrand, else numpy
        return xp.where(s <= 0.5, left, right)

    def x_of_s(self, s):
        """The physical abscissa of ``s`` (array or scalar, numpy or JAX)."""
        kl, kr = self.powers
        L = self.b - self.a
        if kl == 1 and kr > 1:  # near b: x = b - L (1 - s)^kr keeps the distance to b accurate
            return self.b - L * (1.0 - s) ** kr
        return self.a + L * self.unit(s)

    def dx_ds(self, s):
        """``φ'(s) = (b - a) s^(k_L - 1) (1 - s)^(k_R - 1) / Beta(k_L, k_R)`` (> 0 inside)."""
        kl, kr = self.powers
        return (self.b - self.a) * s ** (kl - 1) * (1.0 - s) ** (kr - 1) * self._inverse_beta(kl, kr)

    def d2x_ds2(self, s):
        """``φ''(s)``, for the chain rule of second derivatives."""
        kl, kr = self.powers
        left = (kl - 1) * s ** max(kl - 2, 0) * (1.0 - s) ** (kr - 1) if kl > 1 else 0.0 * s
        right = (kr - 1) * s ** (kl - 1) * (1.0 - s) ** max(kr - 2, 0) if kr > 1 else 0.0 * s
        return (self.b - self.a) * (left - right) * self._inverse_beta(kl, kr)

    def s_of_x(self, x):
        """Inverse of :meth:`x_of_s` (numpy), shape of ``x``."""
        x = np.clip(np.asarray(x, dtype=np.float64), self.a, self.b)
        lo, hi = np.zeros_like(x), np.ones_like(x)
        for _ in range(60):  # bisection: φ is increasing
            mid = 0.5 * (lo + hi)
            below = self.x_of_s(mid) < x
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        s = 0.5 * (lo + hi)
        for _ in range(2):  # Newton polish where φ' is not tiny
            d = self.dx_ds(s)
            ok = d > 1e-300
            s = np.where(ok, s - (self.x_of_s(s) - x) / np.where(ok, d, 1.0), s)
        s = np.clip(s, 0.0, 1.0)
        return np.where(x <= self.a, 0.0, np.where(x >= self.b, 1.0, s))


def singular_power(G, f_end, direction, x_end, end, scale=1.0):
    """The map power ``k`` for a singular ``end`` of a scalar integrand ``G(f, df, x)`` (params bound),
    or a string saying why none was found.

    ``f_end``: the Dirichlet value; ``direction``: +1 if ``f`` moves above ``f_end`` into the domain,
    -1 below.  Probes ``w(ε) = G(f_end ± ε, ±S, x_end) / S`` for a steep slope ``S``: ``G`` must grow
    like ``|f'|`` (Fermat type) and ``w`` like ``ε^(-β)``, ``0 < β < 1``; then ``α = 1/(1+β)`` and ``k``
    is the smallest power (≤ MAX_POWER) with ``α k`` a whole number ``>= 2``.

    >>> import numpy as np
    >>> singular_power(lambda f, df, x: np.sqrt((1 + df**2) / (2 * 9.8 * f)), 0.0, 1, 0.0, "left")
    3
    """
    slope_sign = direction if end == "left" else -direction
    S = 1e8

    def w(eps, slope=S):
        return float(G(f_end + direction * eps * scale, slope_sign * slope, x_end)) / slope

    try:
        eps = np.array([1e-9, 1e-6, 1e-3])
        ws = np.array([w(e) for e in eps])
        linear = w(1e-6, 2 * S) / w(1e-6)
    except Exception as exc:  # the user's integrand: say what failed
        return f"probing G near the end raised {exc!r}"
    if not (np.all(np.isfinite(ws)) and np.all(ws > 0) and np.isfinite(linear)):
        return "G is not finite and positive just inside the end for steep slopes"
    if abs(linear - 1.0) > 1e-3:
        return "G does not grow like |f'| for steep slopes (not of Fermat type w(f)·|f'|)"
    betas = -np.diff(np.log(ws)) / np.diff(np.log(eps))
    beta = float(betas[0])
    if abs(betas[1] - betas[0]) > 0.02 or not 0.0 < beta < 1.0:
        return (
            f"w(f) = G/|f'| does not blow up like (f - f_end)^(-β) with 0 < β < 1 "
            f"(local exponents {np.round(betas, 3).tolist()})"
        )
    alpha = 1.0 / (1.0 + beta)
    for k in range(2, MAX_POWER + 1):
        j = round(alpha * k)
        if j >= 2 and abs(alpha * k - j) < 0.01 * k:
            return k
    return f"the exponent α = {alpha:.4g} of f ~ (x - a)^α is not j/k with k <= {MAX_POWER}"
