"""Strong minima: Weierstrass' excess function along the extremal (``sol.certificate.strong``).

``E(x, f, f′, w) = G(f, w, x) - G(f, f′, x) - (w - f′)·G_f′``.  E ≥ 0 along the extremal and no
conjugate point: a strict strong local minimum; E < 0 somewhere: a weak minimum only.

* ``J = ∫₀¹ f′³``, ``f(0) = 0``, ``f(1) = 1``: ``f = x`` (f′ = 1) is a strict weak minimum
  (``G_f′f′ = 6 > 0``, no conjugate point) and not a strong one: ``E = (w - 1)²(w + 2) < 0`` for
  ``w < -2``.
* ``½ f′² + ½ f²`` (scalar and vector): G convex in f′, so E ≥ 0 and the minimum is strong.
* A saddle (the oscillator past its conjugate point): the question does not apply (None).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc


def test_cubic_slope_is_a_weak_minimum_and_not_a_strong_one():
    prob = vc.Problem(lambda f, df, x: df**3, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    sol = vc.solve(prob, n=41, mode="stationary")
    np.testing.assert_allclose(sol.f, sol.x, atol=1e-12)
    cert = sol.certificate
    assert cert.verdict == "strict local minimum" and cert.is_minimum  # unchanged: a weak minimum
    assert cert.strong is False
    w, E = float(cert.weierstrass_w), cert.weierstrass_min
    assert w < -2.0 and E < 0.0
    assert E == pytest.approx((w - 1) ** 2 * (w + 2), rel=1e-10)  # the formula, at the reported w
    assert 0.0 < cert.weierstrass_at < 1.0
    assert cert.strength.startswith("weak local minimum, not strong: E = ")
    assert f"w = {w:.4g}" in cert.strength
    assert "weak local minimum, not strong" in str(cert) and "Weierstrass: E(x, f, f′, w) = " in cert.evidence


def test_convex_scalar_integrand_is_a_strong_minimum():
    prob = vc.Problem(lambda f, df, x: 0.5 * df**2 + 0.5 * f**2, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    cert = vc.solve(prob, n=41).certificate
    assert cert.verdict == "strict local minimum"
    assert cert.strong is True and cert.strength == "strict strong local minimum"
    assert abs(cert.weierstrass_min) < 1e-12  # E ≥ 0, its smallest value 0 (w → f′) within rounding
    assert str(cert).splitlines()[:2] == ["strict local minimum", "strict strong local minimum"]


def test_convex_vector_integrand_is_a_strong_minimum():
    G = lambda f, df, x: 0.5 * jnp.sum(df**2) + 0.3 * df[0] * df[1] + 0.5 * jnp.sum(f**2)
    prob = vc.Problem(G, (0.0, 1.0), bc={"left": [0.0, 0.0], "right": [1.0, 2.0]})
    cert = vc.solve(prob, n=41).certificate
    assert cert.verdict == "strict local minimum" and cert.strong is True
    assert np.shape(cert.weierstrass_w) == (2,)


def test_vector_integrand_not_convex_in_one_direction_is_not_strong():
    # G = |f′|² + (f₂′)³ ... with f′ = (1, 1): the cubic in the second slope makes E < 0 along -e₂,
    # while the Legendre condition holds there (G_f′f′ = diag(2, 2 + 6) > 0).
    G = lambda f, df, x: jnp.sum(df**2) + df[1] ** 3
    prob = vc.Problem(G, (0.0, 1.0), bc={"left": [0.0, 0.0], "right": [1.0, 1.0]})
    cert = vc.solve(prob, n=21, mode="stationary").certificate
    assert cert.verdict == "strict local minimum" and cert.strong is False
    w = np.asarray(cert.weierstrass_w)
    E = lambda v: (v[0] - 1) ** 2 + (v[1] ** 2 + v[1] ** 3) - 2 - 5 * (v[1] - 1)  # E at f′ = (1, 1)
    assert cert.weierstrass_min == pytest.approx(E(w), rel=1e-9) and cert.weierstrass_min < 0


def test_a_saddle_has_no_strong_verdict():
    prob = vc.Problem(lambda f, df, x: 0.5 * (df**2 - f**2), (0.0, 4.0), bc={"left": 0.0, "right": 1.0})
    cert = vc.solve(prob, n=101, mode="stationary").certificate
    assert cert.verdict == "saddle of index 1"
    assert cert.strong is None and cert.strength == "not applicable: not a strict local minimum"
    assert cert.weierstrass_min is None and "Weierstrass" not in cert.evidence
    assert str(cert).splitlines()[0] == "saddle of index 1" and "strong" not in str(cert)


def test_second_order_problem_is_not_decided():
    prob = vc.Problem(lambda f, df, d2f, x: 0.5 * d2f**2 - f, (0.0, 1.0), bc={"left": 0.0, "left'": 0.0}, order=2)
    cert = vc.solve(prob, n=21).certificate
    assert cert.verdict == "strict local minimum"
    assert cert.strong is None and "second-order" in cert.strength
