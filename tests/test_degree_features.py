"""``degree=p`` with every feature (issue 15, item 3), each against an exact solution.

Each test measures the order from two uniform grids, h halved (``n = 3 -> 5``: 2 -> 4 cells), where
the exact solution is not in the element space, and checks the error at degree p against the
lowest-order element on the same grid:

* ``order=2`` (``f''`` in G): C¹ elements of degree p (:class:`varcalc.families.HermiteP`); the
  catalog beam is reproduced exactly at p = 4 (its deflection is a quartic); ``f = sin x`` under
  the load ``sin x`` (EI f'''' = sin x) converges with |J_h - J| of order 2p - 2 and L∞ order p + 1;
  ``jax.grad`` through the solve (the load as a parameter) and ``tol=`` with ``degree=``;
* ``Pointwise`` (the catalog's sphere_implicit): multipliers at every GLL node, J of order 2p, the
  multiplier function -α²/2;
* ``OnCurve``: a free end on the line x + 0.1 f = 1 (f'' = f, transversality solved to rounding);
* ``Data`` (order 1): an interior data site, f'' = f on both sides of it (piecewise exact);
* ``solve_batch``: lanes whose singular ends differ (the brachistochrone from rest and from depth
  0.1 with the speed of that depth): both lanes at high order with one end map.

Measured (this machine, 2-core CPU): see the asserts' comments.  Small sizes: one compilation per
(integrand, degree, size bucket); n = 3 and 5 share a bucket.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import fsolve
from varcalc.problems import beam
from varcalc.problems import brachistochrone as br
from varcalc.problems import sphere_implicit as si

import varcalc as vc


def _order(e1, e2):
    return np.log2(e1 / e2)


# -- order=2: C¹ elements of degree p -----------------------------------------------------------
L2 = 2.0
SIN_BC = {"left": 0.0, "left'": 1.0, "right": float(np.sin(L2)), "right'": float(np.cos(L2))}
SIN_J = -0.5 * (L2 / 2 - np.sin(2 * L2) / 4)  # f = sin x: ½∫ sin² - ∫ sin² = -½ ∫ sin²


def _sin_beam(f, df, d2f, x, p):
    return 0.5 * d2f**2 - p * jnp.sin(x) * f  # EI f'''' = p sin x: f = sin x for p = 1


SIN = vc.Problem(_sin_beam, (0.0, L2), bc=SIN_BC, order=2, params=1.0)


def test_order2_degree_p():
    x = np.linspace(0.0, L2, 101)
    # The catalog cantilever's deflection is a quartic: degree 4 reproduces it on 2 cells.
    cant = vc.solve(beam.problem, n=3, degree=4)
    assert cant.converged and cant.degree == 4
    assert np.max(np.abs(cant(x) - beam.exact(x))) < 1e-14
    assert abs(cant.value - beam.exact_value) < 1e-15
    # f = sin x: degree 6 on 2 and 4 cells.
    s1, s2 = (vc.solve(SIN, n=n, degree=6) for n in (3, 5))
    eJ = [abs(s.value - SIN_J) for s in (s1, s2)]
    ef = [np.max(np.abs(s(x) - np.sin(x))) for s in (s1, s2)]
    assert s1.converged and s2.converged
    assert _order(*eJ) > 9.0  # 2p - 2 = 10 (measured 9.6: 3.8e-11 -> 4.9e-14)
    assert _order(*ef) > 6.3  # p + 1 = 7 (measured 6.85: 8.2e-8 -> 7.1e-10)
    assert ef[1] < 2e-9 and np.max(np.abs(s2.derivative(x, 2) + np.sin(x))) < 3e-6  # f'' from the element (1.0e-6)
    # The certificate's pencil on C¹ elements: the first eigenvalue of v^(4) = λ v, v = v' = 0 at both
    # ends of [0, 2] is (4.7300407449 / 2)⁴ = 31.285 (the clamped beam; measured 31.2852).
    cert = s2.certificate
    assert cert.negative == 0 and abs(cert.smallest_eigenvalue - (4.7300407448627 / L2) ** 4) < 1e-3
    # (Cubic Hermite, the default, on the same 4 cells: 1.6e-4, 5 orders of magnitude worse in f;
    # benchmarks/bench_degree.py.)
    with pytest.raises(ValueError, match="degree >= 3"):
        vc.solve(SIN, n=5, degree=2)
    # With an Integral: min ∫ ½ f''² with ∫ f = 1, clamped ends: f^(4) = -λ, f = 30 x² (1 - x)²
    # (a quartic: exact at degree 4 on 2 cells), J = 360.
    area = vc.Problem(
        lambda f, df, d2f, x: 0.5 * d2f**2,
        (0.0, 1.0),
        order=2,
        bc={"left": 0.0, "left'": 0.0, "right": 0.0, "right'": 0.0},
        constraints=[vc.Integral(lambda f, df, d2f, x: f, 1.0, name="area")],
    )
    sol = vc.solve(area, n=3, degree=4)
    xa = np.linspace(0.0, 1.0, 11)
    assert sol.converged and abs(sol.value - 360.0) < 1e-10
    assert np.max(np.abs(sol(xa) - 30 * xa**2 * (1 - xa) ** 2)) < 1e-13


def test_order2_degree_grad_and_tol():
    """``jax.grad`` through a degree-p order-2 solve: dJ/dp = ∫ ∂G/∂p = -∫ sin(x) f at the extremal
    (envelope theorem), = -∫ sin² = 2 J at p = 1 (f = sin x); ``tol=`` with ``degree=`` p-refines."""
    grad = jax.grad(lambda p: vc.solve(SIN, n=5, degree=6, params=p).value)(1.0)
    assert abs(grad - 2 * SIN_J) < 1e-10
    sol = vc.solve(beam.make_problem("clamped"), tol=1e-12, degree=5)  # a quintic: exact at p = 5
    assert sol.stats["tol_met"] and abs(sol.value - beam.clamped_exact_value) < 1e-15
    assert [h["degree"] for h in sol.stats["mesh_history"]] == [5, 6]


# -- Pointwise ----------------------------------------------------------------------------------
def test_pointwise_degree_p():
    s1, s2 = (vc.solve(si.problem, n=n, degree=4) for n in (3, 5))
    eJ = [abs(s.value - si.problem.exact_value) for s in (s1, s2)]
    assert s1.converged and s2.converged
    assert _order(*eJ) > 7.0  # 2p = 8 (measured 8.0: 9.9e-11 -> 3.9e-13)
    x = np.linspace(0.0, 1.0, 101)
    assert np.max(np.abs(s2(x) - si.exact(x))) < 1e-7  # P1 on 4 cells: 1e-2
    # The constraint holds at every GLL node, not only at the cell ends.
    ev = np.asarray(s2.element_values)
    assert np.max(np.abs(np.sum(ev**2, axis=-1) - 1.0)) < 1e-13
    mu = s2.multipliers["sphere"][1:-1]  # interior nodes (the Dirichlet ends' multipliers are 0)
    assert np.max(np.abs(mu - si.multiplier)) < 3e-6  # (1.04e-6: μ converges at a lower order than J)


# -- OnCurve free end ---------------------------------------------------------------------------
def test_oncurve_degree_p():
    P = vc.Problem(
        lambda f, df, x: 0.5 * df**2 + 0.5 * f**2,
        (0.0, 1.0),
        bc={"left": 1.0},
        right_end=vc.OnCurve(lambda x, f: x - 1.0 + 0.1 * f, name="curve"),
    )

    def conditions(u):  # f = cosh x + c sinh x; transversality (G - f' G_f') φ_f - G_f' φ_x = 0 and φ = 0
        c, B = u
        f, df = np.cosh(B) + c * np.sinh(B), np.sinh(B) + c * np.cosh(B)
        return [(0.5 * f**2 - 0.5 * df**2) * 0.1 - df, B - 1.0 + 0.1 * f]

    c, B = fsolve(conditions, [-0.7, 0.9], xtol=1e-13)
    J = 0.5 * (np.sinh(B) + c * np.cosh(B)) * (np.cosh(B) + c * np.sinh(B)) - 0.5 * c  # ½ [f f']
    s1, s2 = (vc.solve(P, n=n, degree=4) for n in (3, 5))
    assert s1.converged and s2.converged
    eJ = [abs(s.value - J) for s in (s1, s2)]
    assert _order(*eJ) > 7.0  # 2p = 8 (measured 7.9: 5.4e-12 -> 2.3e-14)
    assert abs(s2.end - B) < 1e-13
    x = np.linspace(0.0, B, 50)
    assert np.max(np.abs(s2(x) - (np.cosh(x) + c * np.sinh(x)))) < 3e-8  # P1 on 4 cells: 6e-3


# -- Data ---------------------------------------------------------------------------------------
def test_data_degree_p():
    """J = ∫ ½(f'² + f²) + w (f(½) - y)², f(0) = 0, f(1) = 1: f'' = f on each side of the site,
    f'(½+) - f'(½-) = 2 w (f(½) - y)."""
    w, y = 1.0, 1.0
    P = vc.Problem(
        lambda f, df, x: 0.5 * df**2 + 0.5 * f**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 1.0},
        data=vc.Data([0.5], [y], [w]),
    )
    sh, ch = np.sinh(0.5), np.cosh(0.5)
    f1 = (1 / sh + 2 * w * y) / (2 * ch / sh + 2 * w)
    J = 0.5 * f1 * f1 * ch / sh + 0.5 * ((-f1 + ch) / sh - f1 * (-f1 * ch + 1) / sh) + w * (f1 - y) ** 2
    x = np.linspace(0.0, 1.0, 101)
    exact = np.where(x < 0.5, f1 * np.sinh(x) / sh, (f1 * np.sinh(1 - x) + np.sinh(x - 0.5)) / sh)
    s1, s2 = (vc.solve(P, n=n, degree=4) for n in (3, 5))
    eJ = [abs(s.value - J) for s in (s1, s2)]
    assert _order(*eJ) > 7.0  # 2p = 8 (measured 8.0: 8.0e-11 -> 3.2e-13)
    assert np.max(np.abs(s2(x) - exact)) < 1e-7  # P1 on 4 cells: 7e-3


# -- batches: lanes whose singular ends differ --------------------------------------------------
def _cycloid_through(f0, X, Y, g=br.g):
    """Least time from (0, f0) at the speed √(2 g f0) to (X, Y): the cycloid with its cusp on f = 0,
    x = x0 + R (θ - sin θ), f = R (1 - cos θ), through both points; T = √(R/g) (θ1 - θ0)."""

    def eqs(u):
        R, t0, t1 = u
        return [R * (1 - np.cos(t0)) - f0, R * (1 - np.cos(t1)) - Y, R * (t1 - np.sin(t1) - t0 + np.sin(t0)) - X]

    R, t0, t1 = fsolve(eqs, [0.5, 0.6, 2.0], xtol=1e-15)
    return np.sqrt(R / g) * (t1 - t0)


def test_batch_lanes_with_different_singular_ends():
    """Lane 0 starts at depth 0.1 (G smooth at x = 0), lane 1 at rest at depth 0 (G singular):
    the end is mapped away for both (found along lane 1, not lane 0 as before), and both reach
    high accuracy with 5 nodes."""
    P = br.make_problem(1.0, 0.6)
    batch = vc.solve_batch(P, n=5, degree=8, bc={"left": np.array([0.1, 0.0])})
    assert batch.converged.all()
    assert batch[1].end_map is not None and batch[1].end_map.powers[0] == 3
    assert abs(batch.value[1] - P.exact_value) < 1e-13  # from rest: the exact cycloid (2.7e-15)
    assert abs(batch.value[0] - _cycloid_through(0.1, 1.0, 0.6)) < 1e-11  # (3.4e-13)
