"""Hanging chain: a chain of given length between two supports (a catenary).

A uniform chain of length L hangs between the supports (a, A) and (b, B) under gravity; its
height f(x) minimises the potential energy J[f] = ∫_a^b f sqrt(1 + f'²) dx (per unit of weight)
subject to the length constraint ∫_a^b sqrt(1 + f'²) dx = L (vc.Integral, named "length").
The Lagrangian J + λ (∫ sqrt(1 + f'²) dx - L) = ∫ (f + λ) sqrt(1 + f'²) dx - λ L has the
integrand of the catenary problem in u = f + λ, so u = c cosh((x - x0) / c), i.e.
f = c cosh((x - x0) / c) + d with λ = -d (Euler, Bernoulli, Leibniz, Huygens 1691).  The three
constants follow from the supports and the length: sqrt(L² - (B - A)²) = 2 c sinh((b - a) / (2 c))
fixes c (one root; a bisection here), tanh((m - x0) / c) = (B - A) / L with m = (a + b) / 2
fixes x0, and d = A - c cosh((a - x0) / c).  The least energy is
J = c² [ξ/2 + sinh(2ξ)/4] between ξ = (a - x0)/c and (b - x0)/c, plus d L; its derivative with
respect to L is -λ = d (checked in tests/test_constraints.py).  Here the supports are (-1, 0) and
(1, 0.5) and L = 3 (asymmetric: the lowest point is left of the middle); `make_problem(...)`
builds other chains (e.g. symmetric supports).  A chain shorter than the distance between its
supports is rejected (ValueError naming "length").  The default guess is the parabola through the
supports sagging to about the right length (the straight line has the wrong length and, for
level supports, a zero length gradient).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

SUPPORTS = ((-1.0, 0.0), (1.0, 0.5))  # (x, height) of the left and right support
LENGTH = 3.0  # length of the chain


def integrand(f, df, x):
    """Potential energy per unit of x (weight per unit length = 1): height times arc length."""
    return f * jnp.sqrt(1.0 + df**2)


def arclength(f, df, x):
    """Arc length per unit of x (the constraint's integrand)."""
    return jnp.sqrt(1.0 + df**2)


def catenary(a, A, b, B, L):
    """(c, x0, d) of the catenary f = c cosh((x - x0)/c) + d of length L through (a, A), (b, B)."""
    h, v = b - a, B - A
    if not (h > 0 and L > np.hypot(h, v)):
        raise ValueError(
            f"catenary: need b > a and L > distance between the supports ({np.hypot(h, v)!r}), got L = {L!r}"
        )
    target = np.sqrt(L * L - v * v)  # = 2 c sinh(h / (2 c)), decreasing in c from ∞ to h
    # In s = h / (2 c): sinh(s) / s = target / h, increasing in s: bisection to adjacent floats.
    ratio = target / h
    lo, hi = 1e-12, 1.0
    while np.sinh(hi) / hi < ratio:
        hi *= 2.0
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if np.sinh(mid) / mid < ratio else (lo, mid)
    c = h / (2.0 * (0.5 * (lo + hi)))
    x0 = 0.5 * (a + b) - c * np.arctanh(v / L)
    d = A - c * np.cosh((a - x0) / c)
    return float(c), float(x0), float(d)


def catenary_energy(a, b, L, c, x0, d):
    """J = ∫ f sqrt(1 + f'²) dx along f = c cosh((x - x0)/c) + d (ds = cosh(ξ) dx)."""
    prim = lambda xi: 0.5 * xi + 0.25 * np.sinh(2.0 * xi)
    return float(c * c * (prim((b - x0) / c) - prim((a - x0) / c)) + d * L)


def sag_guess(a, A, b, B, L):
    """A parabola through both supports whose length is about L (a Newton start off the line)."""
    h = b - a
    # Length of the chord plus the parabola's sag s: ≈ D + (8/3) s² / D  ->  s from L.
    D = np.hypot(h, B - A)
    s = np.sqrt(max(3.0 * D * (L - D) / 8.0, 0.0))

    def guess(x):
        t = (np.asarray(x, dtype=np.float64) - a) / h
        return A + (B - A) * t - 4.0 * s * t * (1.0 - t)

    return guess


def make_problem(supports=SUPPORTS, L=LENGTH, name="hanging_chain"):
    """The chain of length L between supports ((a, A), (b, B)): (problem, (c, x0, d)).

    The Lagrange multiplier of the "length" constraint is λ = -d."""
    (a, A), (b, B) = supports
    c, x0, d = catenary(a, A, b, B, L)

    def exact(x):
        return c * np.cosh((np.asarray(x, dtype=np.float64) - x0) / c) + d

    problem = vc.Problem(
        integrand,
        domain=(a, b),
        bc={"left": A, "right": B},
        constraints=[vc.Integral(arclength, L, name="length")],
        exact=exact,
        exact_value=catenary_energy(a, b, L, c, x0, d),
        name=name,
    )
    return problem, (c, x0, d)


(_a, _A), (_b, _B) = SUPPORTS
c, x0, d = catenary(_a, _A, _b, _B, LENGTH)
multiplier = -d  # exact λ of the "length" constraint (sign convention: J + λ (∫H - L))


def exact(x):
    """The catenary c cosh((x - x0)/c) + d (vectorised)."""
    return c * np.cosh((np.asarray(x, dtype=np.float64) - x0) / c) + d


problem = vc.Problem(
    integrand,
    domain=(_a, _b),
    bc={"left": _A, "right": _B},
    constraints=[vc.Integral(arclength, LENGTH, name="length")],
    exact=exact,
    exact_value=catenary_energy(_a, _b, LENGTH, c, x0, d),
    name="hanging_chain",
)
guess = sag_guess(_a, _A, _b, _B, LENGTH)
n = 81
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
