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
from varcalc.problems import catenoid, dido, hanging_chain

import varcalc as vc

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
    sol = vc.solve(
        prob,
        n=81,
        mode="stationary",
        guess=lambda x: np.stack([np.full_like(x, np.pi / 2 - 0.1 * np.sin(np.pi * x)), arc * x], -1),
    )
    assert sol.converged
    np.testing.assert_allclose(sol.f[:, 0], np.pi / 2, atol=1e-9)  # the equator
    cert = sol.certificate
    assert cert.verdict == "saddle of index 1"
    # Located inside its cell by the discrete Jacobi field (det F = 0, F its 2×2 f-block): 1.6e-4
    # measured at h = 1/80 (O(h²)); the cell alone would give ±1/160.
    assert cert.conjugate_point == pytest.approx(np.pi / arc, abs=1e-3)
    high = vc.solve(
        prob,
        n=5,
        degree=6,
        mode="stationary",
        guess=lambda x: np.stack([np.full_like(x, np.pi / 2 - 0.1 * np.sin(np.pi * x)), arc * x], -1),
    )
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


# -- an honest certificate: the solve's own admissible subspace, a zero tolerance, refusals --------
def test_obstacle_certificate_holds_the_solvers_contact_set():
    """½f′² + f under f ≥ -0.01: most nodes rest on the obstacle.  They sit ~1e-18 above it, not
    on it; the solve holds them (its ε-active set), and so must the certificate: the directions
    are the nodes off contact only (before: all 39 interior nodes, contact ignored)."""
    lo = -0.01
    prob = vc.Problem(
        lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, constraints=[vc.Bound(lower=lo)]
    )
    sol = vc.solve(prob, n=41, guess=lambda x: np.full_like(x, lo))
    assert sol.converged
    mu = sol.multipliers[prob.bound.name]
    in_contact = int(np.sum(mu > 1e-8))  # a positive contact force
    assert 20 < in_contact < 39
    cert = sol.certificate
    assert cert.dimension == 39 - in_contact and cert.negative == 0 and cert.zero == 0
    assert cert.verdict == "strict local minimum" and f"{in_contact} node(s) in contact held" in cert.evidence
    assert cert.strong is None and "obstacle" in cert.strength  # no E test with contact


def test_rounding_sized_eigenvalues_are_zero_not_negative():
    """G = ½f₁′² - ½·1e-11·f₂²: the f₂ directions have λ ≈ -1e-11, far inside the zero tolerance
    (~1e-12 of the largest eigenvalue).  Before: "saddle of index 99" with "99 negative, 99 zero";
    now they are zero directions: degenerate, and no conjugate point from rounding-sized pivots."""
    G = lambda f, df, x: 0.5 * df[0] ** 2 - 0.5e-11 * f[1] ** 2
    prob = vc.Problem(G, (0.0, 1.0), bc={"left": [0.0, 0.0], "right": [1.0, 0.0]})
    sol = vc.solve(prob, n=101, mode="stationary")
    cert = sol.certificate
    assert cert.verdict == "degenerate"
    assert (cert.negative, cert.zero, cert.positive) == (0, 99, 99)
    assert abs(cert.smallest_eigenvalue) < 1e-10 and cert.conjugate_point is None
    assert cert.eigenvalues.size <= 18  # capped: the cost of the eigensolve stays O(n)


def test_many_negative_directions_cap_the_eigensolve():
    """A wildly indefinite Hessian (79 negative directions) computes only the eigenpairs nearest
    zero (before: all 81, O(n³) per iteration: minutes at n = 801); the count is exact."""
    prob = vc.Problem(lambda f, df, x: -(df**2), (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    cert = vc.solve(prob, n=81, mode="stationary").certificate
    assert cert.verdict == "saddle of index 79" and cert.eigenvalues.size == 18
    assert "not computed" in cert.evidence


def test_a_failed_solve_is_refused_quickly(monkeypatch):
    """The catenoid with rings too far apart has no minimum: Newton diverges (max_iter).  Its last
    iterate is not an extremal: no verdict, no eigensolve (it took minutes at n = 801), and the
    plot costs what a plot costs."""
    import time

    import matplotlib

    from varcalc import certify

    matplotlib.use("Agg")
    prob = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": 0.5, "right": 0.5})
    sol = vc.solve(prob, n=201)
    assert not sol.converged

    def no_eigensolve(*args, **kwargs):
        raise AssertionError("a refused certificate must not run the eigensolver")

    monkeypatch.setattr(certify, "_nearest_eigenpairs", no_eigensolve)
    t = time.perf_counter()
    cert = sol.certificate
    assert time.perf_counter() - t < 0.5
    assert cert.verdict == f"not certified: the solve did not converge (status {sol.status.name})"
    assert not cert.certified and not cert.is_minimum and cert.negative is None and cert.strong is None
    assert np.isnan(cert.smallest_eigenvalue) and "not an extremal" in str(cert)
    t = time.perf_counter()
    sol.plot()
    assert time.perf_counter() - t < 10.0  # (the certificate alone took 5 s here, 155 s at n = 801)
    few = vc.solve(catenoid.problem, n=81, solver=vc.Newton(max_iter=1))
    assert not few.converged and few.certificate.verdict.startswith("not certified")


def test_a_non_finite_iterate_is_refused():
    sol = vc.solve(oscillator(np.pi - 0.05), n=21, mode="stationary")
    disc, V, z = sol._state
    import dataclasses

    bad = dataclasses.replace(sol, _state=(disc, np.where(np.arange(V.shape[1]) == 3, np.nan, V), z))
    cert = bad.certificate
    assert cert.verdict == "not certified: the iterate is not finite (NaN/inf)" and not cert.is_minimum
