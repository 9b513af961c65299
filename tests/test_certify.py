"""Second-variation certificates (``sol.certificate``, :mod:`varcalc.certify`) against exact facts.

* Harmonic oscillator ``G = (f'² - ω² f²)/2``: the first conjugate point of the left end is at
  exactly ``π/ω``; on ``[0, T]`` the extremal is a strict minimum for ``T < π/ω`` and a saddle of
  index ``⌊ωT/π⌋`` beyond; the smallest eigenvalue of ``-v'' - ω² v = λ v`` is ``(π/T)² - ω²``.
* Catenoid between two rings: the shallow catenary is a minimum, the deep one a saddle of index 1,
  with a conjugate point inside the interval (the zero of the Jacobi field ∂y/∂c of the family of
  catenaries through the left ring, computed here independently).
* Great circle on the sphere: an arc longer than π passes the antipode (conjugate point at π) and
  is a saddle.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import varcalc as vc
from varcalc.problems import catenoid, dido, hanging_chain

OMEGA = 1.0
N = 201


def oscillator(T):
    G = lambda f, df, x: 0.5 * (df**2 - OMEGA**2 * f**2)
    return vc.Problem(G, (0.0, T), bc={"left": 0.0, "right": 1.0})


@pytest.mark.parametrize("T, index", [(np.pi - 0.05, 0), (np.pi + 0.05, 1), (7.0, 2)])
def test_oscillator_inertia_eigenvalue_and_conjugate_point(T, index):
    sol = vc.solve(oscillator(T), n=N, mode="stationary")
    cert = sol.certificate
    assert cert.negative == index
    assert cert.verdict == ("strict local minimum" if index == 0 else f"saddle of index {index}")
    assert cert.zero == 0 and cert.dimension == N - 2 and cert.positive == N - 2 - index
    # λ_min = (π/T)² - ω², O(h²) on the grid (P1 with lumped mass).
    assert cert.smallest_eigenvalue == pytest.approx((np.pi / T) ** 2 - OMEGA**2, abs=2e-3)
    assert cert.legendre_min == pytest.approx(1.0) and cert.jacobi == "conjugate"
    if index == 0:
        assert cert.conjugate_point is None and cert.is_minimum
    else:
        h = T / (N - 1)
        assert abs(cert.conjugate_point - np.pi / OMEGA) < h**2 * 2  # measured 7e-5 at h = 0.016
        # The eigenfunction of a one-negative saddle is the first sine mode, one sign.
        if index == 1:
            ef = cert.eigenfunction
            assert np.all(ef >= -1e-12) and np.max(ef) == pytest.approx(1.0)
            np.testing.assert_allclose(ef, np.sin(np.pi * sol.x / T), atol=2e-3)
    # Minimise mode agrees: a saddle is reported as such, never as success.
    assert vc.solve(oscillator(T), n=N, mode="minimize", guess=sol.f).converged == (index == 0)


def _jacobi_zero_of_catenary_family(c, L, R):
    """Zero in (-L, L] of v = ∂y/∂c for y(x; c) = c cosh((x - x0(c)) / c) through (-L, R)."""
    def family(x, cc):
        # x0 chosen so that y(-L) = R on the branch containing the symmetric catenary (x0 = 0).
        x0 = -L + cc * np.arccosh(R / cc)
        return cc * np.cosh((x - x0) / cc)

    eps = 1e-6 * c
    v = lambda x: (family(x, c + eps) - family(x, c - eps)) / (2 * eps)
    xs = np.linspace(-L + 1e-6, L, 2001)
    vals = v(xs)
    i = np.flatnonzero(np.sign(vals[1:]) != np.sign(vals[:-1]))
    return brentq(v, xs[i[0]], xs[i[0] + 1]) if i.size else None


def test_catenoid_branches_minimum_and_saddle_with_conjugate_point():
    L, R = catenoid.L, catenoid.R
    c_deep = catenoid.c_unstable
    shallow = vc.solve(catenoid.problem, n=81)
    deep = vc.solve(catenoid.problem, n=81, mode="stationary", guess=lambda x: c_deep * np.cosh(x / c_deep))
    assert shallow.converged and deep.converged
    np.testing.assert_allclose(deep.f, c_deep * np.cosh(deep.x / c_deep), atol=5e-4)
    assert shallow.certificate.verdict == "strict local minimum"
    assert shallow.certificate.conjugate_point is None
    cert = deep.certificate
    assert cert.verdict == "saddle of index 1" and cert.smallest_eigenvalue < 0
    exact = _jacobi_zero_of_catenary_family(c_deep, L, R)
    assert exact is not None and -L < exact < L
    assert cert.conjugate_point == pytest.approx(exact, abs=5e-3)  # P1, h = 1/80: O(h²)


def test_great_circle_longer_than_pi_is_a_saddle():
    G = lambda f, df, x: df[0] ** 2 + jnp.sin(f[0]) ** 2 * df[1] ** 2
    arc = 4.0  # along the equator, longer than π: the antipode φ = π is conjugate to φ = 0
    prob = vc.Problem(G, (0.0, 1.0), bc={"left": [np.pi / 2, 0.0], "right": [np.pi / 2, arc]})
    sol = vc.solve(prob, n=81, mode="stationary", guess=lambda x: np.stack([np.full_like(x, np.pi / 2 - 0.1 * np.sin(np.pi * x)), arc * x], -1))
    assert sol.converged
    np.testing.assert_allclose(sol.f[:, 0], np.pi / 2, atol=1e-9)  # the equator
    cert = sol.certificate
    assert cert.verdict == "saddle of index 1"
    # Located inside its cell by the discrete Jacobi field (det F = 0, F its 2×2 f-block): 1.6e-4
    # measured at h = 1/80 (O(h²)); the cell alone would give ±1/160.
    assert cert.conjugate_point == pytest.approx(np.pi / arc, abs=1e-3)
    high = vc.solve(prob, n=5, degree=6, mode="stationary",
                    guess=lambda x: np.stack([np.full_like(x, np.pi / 2 - 0.1 * np.sin(np.pi * x)), arc * x], -1))
    assert high.certificate.verdict == "saddle of index 1"
    assert high.certificate.conjugate_point == pytest.approx(np.pi / arc, abs=1e-7)  # measured 7e-9
    short = vc.solve(vc.Problem(G, (0.0, 1.0), bc={"left": [np.pi / 2, 0.0], "right": [np.pi / 2, 3.0]}), n=81)
    assert short.certificate.verdict == "strict local minimum"


def test_constrained_certificates_count_directions_on_the_tangent_space():
    chain = vc.solve(hanging_chain.problem, n=41)
    cert = chain.certificate
    assert cert.verdict == "strict local minimum" and cert.dimension == 41 - 2 - 1
    assert "multiplier" in cert.evidence and "not computed" in cert.jacobi
    area = vc.solve(dido.problem, n=41, mode="maximize").certificate
    assert area.verdict == "strict local maximum" and area.legendre_min > 0


def test_legendre_condition_fails_for_a_concave_integrand():
    # G = -f'²: every extremal violates Legendre; the straight line is a maximum of J.
    prob = vc.Problem(lambda f, df, x: -(df**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    sol = vc.solve(prob, n=11, mode="stationary")
    cert = sol.certificate
    assert cert.legendre_min == pytest.approx(-2.0)
    assert cert.verdict == "saddle of index 9" and "violated" in cert.evidence


def test_high_order_elements_certificate_uses_the_gll_mass():
    """degree = 3 on 10 cells: λ_min = (π/T)² - 1 to 1e-7 (P1 on 200 cells: 4e-5)."""
    T = np.pi + 0.05
    sol = vc.solve(oscillator(T), n=11, mode="stationary", degree=3)
    cert = sol.certificate
    assert cert.verdict == "saddle of index 1" and cert.dimension == 3 * 10 - 1
    assert cert.smallest_eigenvalue == pytest.approx((np.pi / T) ** 2 - 1, abs=1e-7)
    assert abs(cert.conjugate_point - np.pi) < T / 10  # located to its cell for degree > 1


@pytest.mark.parametrize("left, exact", [({"left": 0.0}, np.pi), ({}, np.pi / 2)], ids=["conjugate", "focal"])
def test_jacobi_point_of_high_order_elements(left, exact):
    """Degree 6 on 4 cells: the discrete Jacobi field, shot cell by cell through the block rows of
    the second variation, places the conjugate point (f(0) = 0: π) and the focal point (free left
    end: π/2) of the oscillator inside its cell to ~1e-9 (the pivot count alone: to a cell, ±0.4)."""
    T = np.pi + 0.5
    prob = vc.Problem(lambda f, df, x: 0.5 * (df**2 - f**2), (0.0, T), bc={**left, "right": 1.0})
    cert = vc.solve(prob, n=5, degree=6, mode="stationary").certificate
    # One negative direction either way: (π/T)² < 1 and (π/2T)² < 1 < (3π/2T)².
    assert cert.verdict == "saddle of index 1"
    assert cert.conjugate_point == pytest.approx(exact, abs=1e-7)
