"""Differentiating through ``vc.solve`` (implicit function theorem, :mod:`varcalc.implicit`).

Every derivative is checked against central finite differences of re-solves (step 1e-5: the
truncation error ~h²·f''' and the rounding ~1e-12/h are both ~1e-9 relative), and where a
closed form exists, against it.  Grids are small: the point is the derivative of the discrete
solution, which the finite differences see exactly as well.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from varcalc.problems import beam, dido, hanging_chain, parametric_catenoid, sphere_implicit

import varcalc as vc

STEP = 1e-5
RTOL = 2e-6  # central differences of converged re-solves (rtol 1e-10 in the solves themselves)


def central(fun, v, step=STEP):
    return (fun(v + step) - fun(v - step)) / (2 * step)


def test_parameters_match_finite_differences_and_envelope_theorem():
    p0 = dict(parametric_catenoid.params)
    prob = parametric_catenoid.problem
    area = lambda R: vc.solve(prob, n=41, params={"R": R, "L": p0["L"]}).value
    grad = jax.grad(area)(p0["R"])
    fd = central(lambda R: area(float(R)), p0["R"])
    np.testing.assert_allclose(grad, fd, rtol=RTOL)
    # Envelope theorem: dJ*/dR = ∂J/∂R at the fixed optimal curve, ∫ 2π L sqrt(1 + (f'/L)²) dξ
    # (here = area / (R + f) weighted); evaluated by differentiating the integrand alone.
    sol = vc.solve(prob, n=41)
    lag_value = lambda R: _functional_value(prob, sol, {"R": R, "L": p0["L"]})
    np.testing.assert_allclose(grad, jax.grad(lag_value)(p0["R"]), rtol=1e-10)
    # Against the closed form of the continuous problem: O(h²) apart.
    exact = central(lambda R: parametric_catenoid.exact_value_for({"R": R, "L": p0["L"]}), p0["R"], 1e-6)
    assert abs(grad - exact) < 2e-3 * abs(exact)


def _functional_value(problem, sol, p):
    """``∫ G`` of the piecewise-linear ``sol`` with one-point quadrature per cell (as the solver)."""
    x, f = jnp.asarray(sol.x), jnp.asarray(sol.f)
    h = jnp.diff(x)
    df = jnp.diff(f) / h
    fm, xm = (f[1:] + f[:-1]) / 2, (x[1:] + x[:-1]) / 2
    G = jax.vmap(lambda a, b, c: problem.integrand(a, b, c, p))(fm, df, xm)
    return jnp.sum(h * G)


def test_boundary_value_derivative_of_value_and_of_sampled_extremal():
    cat = vc.Problem(lambda f, df, x: f * jnp.sqrt(1 + df**2), (-1.0, 1.0), bc={"left": 2.0, "right": 2.0})
    value = lambda h: vc.solve(cat, n=41, bc={"right": h}).value
    sample = lambda h: vc.solve(cat, n=41, bc={"right": h})(jnp.array([-0.5, 0.3]))
    np.testing.assert_allclose(jax.grad(value)(2.0), central(value, 2.0), rtol=RTOL)
    fd = central(lambda h: np.asarray(sample(h)), 2.0)
    np.testing.assert_allclose(jax.jacfwd(sample)(2.0), fd, rtol=RTOL)
    np.testing.assert_allclose(jax.jacrev(sample)(2.0), fd, rtol=RTOL)
    # Envelope theorem for a boundary value: dJ*/dh = ∂G/∂f' at the right end (the momentum)
    # for the discrete problem: the last cell's ∂/∂f_n of h·G = G_{f'} + (h/2) G_f.
    sol = vc.solve(cat, n=41)
    x, f = sol.x, sol.f
    hcell, s, fm = x[-1] - x[-2], (f[-1] - f[-2]) / (x[-1] - x[-2]), (f[-1] + f[-2]) / 2
    G = lambda a, b: a * jnp.sqrt(1 + b**2)
    momentum = jax.grad(G, 1)(fm, s) + hcell / 2 * jax.grad(G, 0)(fm, s)
    np.testing.assert_allclose(jax.grad(value)(2.0), momentum, rtol=1e-8)


def test_constraint_value_gives_minus_the_multiplier_and_its_derivative():
    chain = hanging_chain.problem
    (name,) = [c.name for c in chain.integrals]
    L0 = chain.integrals[0].value
    value = lambda L: vc.solve(chain, n=41, constraint_values={name: L}).value
    lam = lambda L: vc.solve(chain, n=41, constraint_values={name: L}).multipliers[name]
    sol = vc.solve(chain, n=41)
    np.testing.assert_allclose(jax.grad(value)(L0), -sol.multipliers[name], rtol=1e-9)  # dJ*/dc = -λ
    np.testing.assert_allclose(jax.grad(value)(L0), central(value, L0), rtol=RTOL)
    np.testing.assert_allclose(jax.grad(lam)(L0), central(lam, L0), rtol=1e-5)


def test_maximisation_and_reverse_mode_over_several_inputs():
    """Dido: the largest area A*(ℓ) under a rope of length ℓ; dA*/dℓ = λ (the radius)."""
    prob = dido.problem
    (name,) = [c.name for c in prob.integrals]
    ell = prob.integrals[0].value
    value = lambda L: vc.solve(prob, n=41, mode="maximize", constraint_values={name: L}).value
    grad = jax.grad(value)(ell)
    np.testing.assert_allclose(grad, central(value, ell), rtol=RTOL)
    sol = vc.solve(prob, n=41, mode="maximize")
    assert grad == pytest.approx(abs(sol.multipliers[name]), rel=1e-8)


def test_order_two_parameters_and_jvp_vjp_agree():
    prob = beam.problem
    p0 = dict(prob.params)
    tip = lambda p: vc.solve(prob, n=11, params=p)(beam.L if hasattr(beam, "L") else prob.domain[1])
    g = jax.grad(tip)(p0)
    for key in p0:
        fd = central(lambda v: float(tip(dict(p0, **{key: v}))), p0[key])
        np.testing.assert_allclose(g[key], fd, rtol=RTOL, atol=1e-12)
    tangent = {k: 1.0 for k in p0}
    _, jvp = jax.jvp(tip, (p0,), (tangent,))
    assert float(jvp) == pytest.approx(float(sum(g.values())), rel=1e-12)


def test_pointwise_constraint_multipliers_are_differentiable():
    prob = sphere_implicit.problem
    name = prob.pointwise[0].name
    p1 = np.asarray(prob.bc["right"])
    # Rotate the right end along the sphere by an angle t; μ = -α²/2 (α: the arc's angle).
    axis = np.cross(np.asarray(prob.bc["left"]), p1)
    axis /= np.linalg.norm(axis)

    def end(t):
        return p1 * jnp.cos(t) + jnp.cross(axis, p1) * jnp.sin(t) + axis * jnp.dot(axis, p1) * (1 - jnp.cos(t))

    mu_mid = lambda t: vc.solve(prob, n=21, bc={"right": end(t)}).multipliers[name][10]
    d = jax.grad(mu_mid)(0.0)
    np.testing.assert_allclose(d, central(lambda t: float(mu_mid(t)), 0.0), rtol=1e-5)
    # Continuous limit: μ = -α²/2, dμ/dt = -α (α grows by t): O(h²) apart.
    assert d == pytest.approx(-sphere_implicit.alpha, rel=5e-3)


# Fastest path from (0, 0) to the line x + f = 1 at speed 1/(1 + q x): a free right end on a curve
# (its abscissa is an unknown) whose landing point moves with the parameter q.
FREE_END = vc.Problem(
    lambda f, df, x, q: (1 + q * x) * jnp.sqrt(1 + df**2),
    (0.0, 0.8),
    bc={"left": 0.0},
    right_end=vc.OnCurve(lambda x, f: x + f - 1.0, name="line"),
    params=0.5,
)


def test_free_end_landing_point_and_jit_and_vmap():
    end = lambda q: vc.solve(FREE_END, n=21, params=q).end
    value = lambda q: vc.solve(FREE_END, n=21, params=q).value
    for fun in (end, value):
        np.testing.assert_allclose(jax.grad(fun)(0.5), central(lambda q: float(fun(q)), 0.5), rtol=1e-5)
    # The same derivative compiled, and a batch of solves by vmap (one compile for the batch).
    qs = jnp.array([0.2, 0.5, 0.8])
    batch = jax.jit(jax.vmap(jax.value_and_grad(value)))(qs)
    for q, v, g in zip(qs, *batch):
        assert v == pytest.approx(vc.solve(FREE_END, n=21, params=float(q)).value, rel=1e-12)
        assert g == pytest.approx(float(jax.grad(value)(q)), rel=1e-10)


def test_failed_solve_gives_nan_derivatives_not_wrong_numbers():
    # Rings too far apart for a catenoid at R = 0.3 (R/L < 1.5089): no stable minimum near.
    prob = parametric_catenoid.problem
    area = lambda R: vc.solve(prob, n=41, params={"R": R, "L": 0.5}, solver=vc.Newton(max_iter=8)).value
    assert np.isnan(jax.grad(area)(0.3))
    sol = jax.jit(lambda R: vc.solve(prob, n=41, params={"R": R, "L": 0.5}, solver=vc.Newton(max_iter=8)))
    assert not bool(sol(0.3).converged)


def test_bad_overrides_are_named():
    prob = hanging_chain.problem
    with pytest.raises(ValueError, match="constraint_values: unknown"):
        vc.solve(prob, n=11, constraint_values={"nope": 1.0})
    with pytest.raises(ValueError, match="bc: key"):
        vc.solve(prob, n=11, bc={"left'": 1.0})
    with pytest.raises(ValueError, match="params"):
        jax.grad(lambda p: vc.solve(prob, n=11, params=p).value)(1.0)


def test_design_example_finds_the_depth_for_a_target_time():
    """problems/brachistochrone_design.py: Newton on the end depth with dT*/dY through the solver."""
    from conventions import check_module_convention
    from varcalc.problems import brachistochrone_design as bd

    check_module_convention(bd, "brachistochrone_design")
    y, hist = bd.design(n=81)
    assert abs(hist[-1, 1] - bd.TARGET) < 1e-12
    # Quadratic convergence: each residual at most ~ the square of the previous (times a constant).
    res = np.abs(hist[:, 1] - bd.TARGET)
    assert res[-2] < 1e-6 and res[-2] < 50 * res[-3] ** 2
    # Against the closed-form cycloid: the discrete T* is O(h²) off (measured 2.9e-5 at n = 161).
    assert abs(y - bd.Y) < 3e-4
