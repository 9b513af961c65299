"""Dido's problem: the largest area between a rope of given length and a coast.

Maximise the area A[f] = ∫_{-a}^{a} f dx under a graph with f(-a) = f(a) = 0 subject to the rope
length ∫_{-a}^{a} sqrt(1 + f'²) dx = ℓ (vc.Integral, named "length"), solved with
mode="maximize".  With 2a < ℓ < πa the maximiser is a graph: the circular arc through (±a, 0) of
length ℓ, f(x) = sqrt(R² - x²) - R cos θ, where θ (half the arc's angle) solves
sin θ / θ = 2a / ℓ and R = a / sin θ (the isoperimetric property of the circle; Steiner 1838).
The Lagrangian -A + λ (∫ sqrt(1 + f'²) dx - ℓ) (varcalc's convention for maximize) has the
Euler–Lagrange equation λ (f' / sqrt(1 + f'²))' = -1, i.e. curvature 1/λ: λ = R > 0, which is
also dA/dℓ (checked in tests/test_constraints.py).  The area is the circular segment
A = R² (θ - sin θ cos θ).  Here a = 1 and θ = π/3: R = 2/√3, ℓ = 4π/(3√3) ≈ 2.418,
A = 4π/9 - 1/√3 ≈ 0.8189; the arc meets the coast at slope ±tan θ = ±√3.  The default guess
is a parabola of about the right length (the straight line f = 0 has a zero length gradient).
`make_problem(a, ell)` builds other arcs.
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

A_HALF = 1.0  # half the length of the coast segment: f(-a) = f(a) = 0
THETA = np.pi / 3  # half the angle of the arc (sets ℓ in closed form)


def integrand(f, df, x):
    """Area under the graph per unit of x."""
    return f


def arclength(f, df, x):
    """Rope length per unit of x (the constraint's integrand)."""
    return jnp.sqrt(1.0 + df**2)


def arc(a, ell):
    """(R, θ) of the circular arc of length ell over the chord [-a, a] (2a < ell < πa)."""
    if not (a > 0 and 2 * a < ell < np.pi * a):
        raise ValueError(f"arc: need 2a < ell < πa for an arc that is a graph, got a = {a!r}, ell = {ell!r}")
    ratio = 2.0 * a / ell  # sin θ / θ, decreasing from 1 (θ = 0) to 2/π (θ = π/2)
    lo, hi = 0.0, 0.5 * np.pi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if np.sin(mid) / mid > ratio else (lo, mid)
    theta = 0.5 * (lo + hi)
    return float(a / np.sin(theta)), float(theta)


def segment_area(R, theta):
    return float(R * R * (theta - np.sin(theta) * np.cos(theta)))


def parabola_guess(a, ell):
    """The parabola through (±a, 0) whose length is about ell."""
    s = np.sqrt(max(3.0 * 2 * a * (ell - 2 * a) / 8.0, 0.0))  # ℓ ≈ 2a + (8/3) s² / (2a)
    return lambda x: s * (1.0 - (np.asarray(x, dtype=np.float64) / a) ** 2)


def make_problem(a=A_HALF, ell=None, name="dido"):
    """Dido's problem on [-a, a] with rope length ell: (problem, R, θ); multiplier λ = R."""
    ell = 2 * a * THETA / np.sin(THETA) if ell is None else ell
    R, theta = arc(a, ell)
    h = R * np.cos(theta)

    def exact(x):
        x = np.asarray(x, dtype=np.float64)
        # sqrt(R² - x²) - R cos θ, written without cancellation at x = ±a: (R² - x²) - h² = a² - x².
        return (a - x) * (a + x) / (np.sqrt((R - x) * (R + x)) + h)

    problem = vc.Problem(
        integrand,
        domain=(-a, a),
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Integral(arclength, ell, name="length")],
        exact=exact,
        exact_value=segment_area(R, theta),
        name=name,
    )
    return problem, R, theta


R = A_HALF / np.sin(THETA)  # radius, 2/√3
ELL = 2 * R * THETA  # rope length, 4π/(3√3)
multiplier = R  # exact λ of the "length" constraint (mode="maximize": -A + λ (∫H - ℓ))
_h = R * np.cos(THETA)  # depth of the circle's centre below the coast


def exact(x):
    """The circular arc sqrt(R² - x²) - R cos θ (vectorised, exact zeros at x = ±a)."""
    x = np.asarray(x, dtype=np.float64)
    return (A_HALF - x) * (A_HALF + x) / (np.sqrt((R - x) * (R + x)) + _h)


problem = vc.Problem(
    integrand,
    domain=(-A_HALF, A_HALF),
    bc={"left": 0.0, "right": 0.0},
    constraints=[vc.Integral(arclength, ELL, name="length")],
    exact=exact,
    exact_value=segment_area(R, THETA),
    name="dido",
)
guess = parabola_guess(A_HALF, ELL)
mode = "maximize"
n = 81
grading = None
plot_options = {"equal_aspect": True}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
