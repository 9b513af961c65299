"""Euler–Bernoulli beam: a cantilever under uniform load (order=2, f'' in G).

A beam of length L and bending stiffness EI carries a distributed load q(x) (force per length,
in the direction of the deflection f).  Its potential energy is
J[f] = ∫_0^L (½ EI f''² - q f) dx; the Euler–Lagrange equation is the beam equation
EI f'''' = q.  The integrand contains f'', so the problem is declared with `order=2`: varcalc
uses C¹ cubic Hermite elements with the nodal values and slopes as unknowns.

`problem` (the default) is a cantilever: clamped at x = 0 (f = f' = 0, bc keys "left" and
"left'") and free at x = L.  The free end needs no bc: the minimisation produces the natural
conditions of a free end, zero bending moment and shear force, f''(L) = f'''(L) = 0.  With
uniform load q the deflection is f = q x² (6 L² - 4 L x + x²) / (24 EI) (tip deflection
q L⁴ / (8 EI)); the minimum energy is J = -½ ∫ q f = -q² L⁵ / (40 EI).

`make_problem("clamped")` is the beam clamped at both ends (f = f' = 0 at 0 and L) under the
linearly increasing load q(x) = q0 x / L: f = q0 x² (L - x)² (2 L + x) / (120 EI L),
J = -q0² L⁵ / (5600 EI).

The load enters as params: the integrand is G(f, df, d2f, x, p) with q(x) = p["q"] + p["dq"] x
(`vc.solve(problem, params={"q": ..., "dq": ...})` reuses the compiled solver; `exact` and
`exact_value` hold for the default params only).

Both deflections are polynomials obtained by integrating EI f'''' = q four times and fitting the
four boundary conditions (checked in tests/test_higher_order.py).  The cubic Hermite solution is
exact at the nodes (values and slopes, to rounding) whenever the load term ∫ q v is integrated
exactly: the beam's Green's function is a C² piecewise cubic with its kink at the load point, so
it lies in the element space and the finite-element error is orthogonal to it.  Between nodes the
elements are cubic while f is a quartic (quintic): the energy converges at order h⁴.  For the
cantilever the discrete solution is the Hermite interpolant of f, so f - f_h = q (x - x_i)² (x -
x_{i+1})² / (24 EI) on each cell and J_h - J = ½ EI ∫ (f'' - f_h'')² = q² L h⁴ / (1440 EI)
(uniform cells of width h; 1.39e-7 at n = 11, relative 2.8e-6).
"""

import jax.numpy as jnp  # noqa: F401  (write your integrands with it)
import numpy as np

import varcalc as vc

L = 2.0  # beam length [m]
EI = 4.0  # bending stiffness [kN m²]
q = 0.5  # uniform load of the cantilever [kN/m]
q0 = 3.0  # load of the clamped beam at x = L (zero at x = 0) [kN/m]


def integrand(f, df, d2f, x, p):
    """Bending energy minus the work of the load q(x) = p["q"] + p["dq"] x."""
    return 0.5 * EI * d2f**2 - (p["q"] + p["dq"] * x) * f


def exact(x):
    """Cantilever deflection q x² (6 L² - 4 L x + x²) / (24 EI)."""
    x = np.asarray(x, dtype=np.float64)
    return q * x**2 * (6 * L**2 - 4 * L * x + x**2) / (24 * EI)


def exact_slope(x):
    """Cantilever slope f'(x) = q x (3 L² - 3 L x + x²) / (6 EI)."""
    x = np.asarray(x, dtype=np.float64)
    return q * x * (3 * L**2 - 3 * L * x + x**2) / (6 * EI)


exact_value = -(q**2) * L**5 / (40 * EI)


def clamped_exact(x):
    """Clamped–clamped deflection under q0 x / L: q0 x² (L - x)² (2 L + x) / (120 EI L)."""
    x = np.asarray(x, dtype=np.float64)
    return q0 * x**2 * (L - x) ** 2 * (2 * L + x) / (120 * EI * L)


def clamped_exact_slope(x):
    """f'(x) = q0 x (x - L) (5 x² + 5 L x - 4 L²) / (120 EI L)."""
    x = np.asarray(x, dtype=np.float64)
    return q0 * x * (x - L) * (5 * x**2 + 5 * L * x - 4 * L**2) / (120 * EI * L)


clamped_exact_value = -(q0**2) * L**5 / (5600 * EI)


def make_problem(kind="cantilever"):
    """The cantilever (uniform load q) or the "clamped" beam (load q0 x / L), with exact solution.

    Both use `integrand` with the load as params, so they share one compiled solver per grid."""
    if kind == "cantilever":
        return vc.Problem(
            integrand,
            domain=(0.0, L),
            bc={"left": 0.0, "left'": 0.0},
            order=2,
            params={"q": q, "dq": 0.0},
            exact=exact,
            exact_value=exact_value,
            name="beam",
        )
    if kind == "clamped":
        return vc.Problem(
            integrand,
            domain=(0.0, L),
            bc={"left": 0.0, "left'": 0.0, "right": 0.0, "right'": 0.0},
            order=2,
            params={"q": 0.0, "dq": q0 / L},
            exact=clamped_exact,
            exact_value=clamped_exact_value,
            name="beam_clamped",
        )
    raise ValueError(f"make_problem: kind must be 'cantilever' or 'clamped', got {kind!r}")


problem = make_problem("cantilever")
n = 11  # nodal values and slopes are exact for any n; the energy error is 1.39e-7 at n = 11
grading = None
plot_options = {"invert_yaxis": True}  # the load pushes down: draw the deflection downward

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
