"""Functionals of random functions (issue 8): expected-value extremals, Monte-Carlo error, Gauss rules
in ω, risk-aware variants, low-noise sensitivities (CRN / pathwise / independent), bad input.

Compile budget: two random integrands (the closed-form case and the example), one sample capacity
and one grid each, so each compiles its Newton solver once; every other solve reuses it.
"""

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.stats

import varcalc as vc

sys.path.insert(0, str(Path(__file__).parent))
from conventions import check_module_convention  # noqa: E402
from varcalc.problems import random_brachistochrone as rb  # noqa: E402

# -- the closed-form case: G linear in the random coefficients ----------------------------------------
# G = ½ a f'² - q f with a = exp(z), z ~ N(0, s²), q ~ U(0.5, 1.5): E G = ½ E[a] f'² - E[q] f, whose
# extremal is f = (E q / E a) x(1-x)/2.  On a uniform P1 grid the nodal values are exact and
# J_h* = -(E q)² / (24 E a) (1 - h²) (energy of the interpolant; midpoint rule exact for the load).
S_STD = 0.5
N_CF = 21
CAP_CF = 256


def G_cf(f, df, x, om):
    return 0.5 * jnp.exp(om["z"]) * df**2 - om["q"] * f


DISTS_CF = {"z": vc.Normal(0.0, S_STD), "q": vc.Uniform(0.5, 1.5)}
BC0 = {"left": 0.0, "right": 0.0}


def exact_cf(s=S_STD, n=N_CF):
    h = 1.0 / (n - 1)
    return -1.0 / (24.0 * math.exp(0.5 * s * s)) * (1.0 - h * h)


def cf(**how):
    return vc.ExpectedProblem(G_cf, DISTS_CF, (0.0, 1.0), BC0, capacity=CAP_CF, **how)


# -- distributions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dist, ref",
    [
        (vc.Normal(1.5, 0.3), scipy.stats.norm(1.5, 0.3)),
        (vc.LogNormal(0.2, 0.4), scipy.stats.lognorm(s=0.4, scale=math.exp(0.2))),
        (vc.Uniform(-1.0, 2.0), scipy.stats.uniform(-1.0, 3.0)),
    ],
)
def test_distribution_maps(dist, ref):
    u = np.random.default_rng(1).random(200)
    np.testing.assert_allclose(dist.ppf(u), ref.ppf(u), rtol=1e-14)
    # The JAX sample map T(Φ⁻¹(u); θ) (differentiated by the pathwise estimator) is the inverse CDF.
    np.testing.assert_allclose(np.asarray(dist.transform(jnp.asarray(dist.to_standard(u)))), ref.ppf(u), rtol=1e-13)
    xi, w = dist.rule(10)
    omega = np.asarray(dist.transform(jnp.asarray(xi)))
    assert abs(w.sum() - 1.0) < 1e-14
    assert abs(np.sum(w * omega) - ref.mean()) < 1e-12 * max(1.0, abs(ref.mean()))
    assert abs(np.sum(w * (omega - ref.mean()) ** 2) - ref.var()) < 1e-9


# -- expected-value extremals: closed form, quadrature vs Monte Carlo ----------------------------------


def test_closed_form_rule_and_extremal():
    res = vc.solve_expected(cf(rule="gauss", order={"z": 8, "q": 2}), n=N_CF)
    assert res.solution.converged and res.standard_error is None
    assert abs(res.value - exact_cf()) < 1e-12
    x = res.x
    f_exact = math.exp(-0.5 * S_STD**2) * 0.5 * x * (1 - x)  # E q / E a = exp(-s²/2)
    np.testing.assert_allclose(res.f, f_exact, atol=1e-12)
    # per-sample values J_s[f*] = E_s-weighted mean is the value
    assert abs(np.sum(res.problem.weights * res.sample_values) - res.value) < 1e-14


def _mc_errors(S, reps):
    out, ses = [], []
    for r in range(reps):
        res = vc.solve_expected(cf(samples=S, seed=1000 * S + r), n=N_CF)
        out.append(res.value - exact_cf())
        ses.append(res.standard_error)
    return np.asarray(out), np.asarray(ses)


def test_monte_carlo_error_falls_like_one_over_sqrt_samples_and_quadrature_faster():
    sizes, reps = (16, 64, 256), 24
    rms, se = [], []
    for S in sizes:
        e, s = _mc_errors(S, reps)
        rms.append(np.sqrt(np.mean(e**2)))
        se.append(np.mean(s))
    slope = np.polyfit(np.log(sizes), np.log(rms), 1)[0]
    assert -0.7 < slope < -0.3, (slope, rms)
    # The reported standard error matches the observed spread (within the noise of 24 replicates).
    ratio = np.asarray(se) / np.asarray(rms)
    assert np.all((0.6 < ratio) & (ratio < 1.6)), ratio
    # Gauss-Hermite in z (2 Legendre points in q integrate it exactly): error falls faster than
    # geometrically, and 5 x 2 = 10 nodes beat 256 Monte-Carlo samples by far.
    qerr = [
        abs(vc.solve_expected(cf(rule="gauss", order={"z": k, "q": 2}), n=N_CF).value - exact_cf())
        for k in (1, 2, 3, 4, 5)
    ]
    assert all(qerr[i + 1] < 0.05 * qerr[i] for i in range(4)), qerr
    assert qerr[4] < 1e-3 * rms[-1], (qerr, rms)


# -- the example: Beltrami reference, quadrature rule, sensitivities, risk ------------------------------

N_EX = 21
S_EX = 16  # Monte-Carlo samples; the rule {"v0": 8, "g": 2} also has 16 nodes: one compilation


def test_example_convention_and_reference():
    check_module_convention(rb, "random_brachistochrone")
    assert rb.problem is rb.expected.problem
    # φ(η) = E[(v0² + 2 g η)^(-1/2)] by the 100 x 20 Gauss rule against scipy's adaptive quadrature.
    eta = 0.3
    v, g = rb.distributions["v0"], rb.distributions["g"]
    # E_g[(v² + 2 g η)^(-1/2)] for g ~ U(low, high), in closed form:
    inner = lambda vv: (
        (np.sqrt(vv * vv + 2 * g.high * eta) - np.sqrt(vv * vv + 2 * g.low * eta)) / (eta * (g.high - g.low))
    )
    pdf = scipy.stats.lognorm(s=v.sigma, scale=math.exp(v.mu)).pdf
    ref = scipy.integrate.quad(lambda vv: pdf(vv) * inner(vv), 0, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    assert abs(rb.phi(eta) - ref) < 1e-12
    # The reference satisfies the Beltrami first integral φ(f)/sqrt(1 + f'²) = C and the end conditions.
    x = np.linspace(0.05, 0.95, 7)
    d = 1e-6
    slope = (rb.exact(x + d) - rb.exact(x - d)) / (2 * d)
    np.testing.assert_allclose(rb.phi(rb.exact(x)) / np.sqrt(1 + slope**2), rb.C, rtol=1e-8)


def example_rule():
    return rb.make(rule_order={"v0": 8, "g": 2})


def test_example_solution_against_reference():
    ep = example_rule()
    errs = []
    for n in (N_EX, 2 * N_EX - 1):
        res = vc.solve_expected(ep, n=n)
        assert res.converged
        errs.append((abs(res.value - rb.exact_value()), np.max(np.abs(res.f - rb.exact(res.x)))))
    (eJ1, ef1), (eJ2, ef2) = errs
    assert eJ1 < 1e-3 and ef1 < 1e-2
    # Second order in h for the expected time and the nodes (the Gauss rule's error is ~1e-9 here).
    # Pre-asymptotic on these coarse grids: measured 1.77 (J) and 1.67 (nodes) from n = 21 to 41;
    # 1.89 and 1.96 for J from n = 41 to 81 to 161 (README).
    assert 1.6 < math.log2(eJ1 / eJ2) < 2.3, errs
    assert 1.55 < math.log2(ef1 / ef2) < 2.3, errs


def test_sensitivity_variance_reduction_and_agreement():
    ep = rb.make(samples=S_EX, seed=3)
    out = vc.compare_sensitivities(ep, "mu", "v0", replicates=8, n=N_EX, h=1e-4)
    a, b, c = out["crn"], out["pathwise"], out["independent"]
    assert out["reduction_crn"] >= 100 and out["reduction_pathwise"] >= 100, out
    # (a) and (b) agree within their error bars (here to ~h² on every replicate: the same samples).
    assert abs(a["mean"] - b["mean"]) < 2 * math.hypot(a["stderr"], b["stderr"]) + 1e-12
    np.testing.assert_allclose(a["estimates"], b["estimates"], rtol=1e-5)
    assert abs(c["mean"] - b["mean"]) < 4 * c["stderr"]  # the baseline is unbiased, just noisy
    # (b) two ways: jax.grad through the implicitly differentiated solve, and the envelope theorem.
    assert out["pathwise_method"] == "implicit"
    env = vc.sensitivity(ep, "mu", "v0", method="pathwise", pathwise="envelope", n=N_EX)
    imp = vc.sensitivity(ep, "mu", "v0", method="pathwise", pathwise="implicit", n=N_EX)
    assert abs(env - imp) < 1e-8 * abs(imp), (env, imp)
    # A statistic of the extremal (the depth at x = 1/2): (a) and (b) on the same samples.
    depth = lambda x, f: f[N_EX // 2]
    da = vc.sensitivity(ep, "mu", "v0", method="crn", n=N_EX, h=1e-4, statistic=depth)
    db = vc.sensitivity(ep, "mu", "v0", method="pathwise", n=N_EX, statistic=depth)
    assert abs(da - db) < 1e-5 * abs(db) and abs(db) > 1e-3, (da, db)
    # The deterministic pathwise derivative on the Gauss rule against the reference's dE[T]*/dμ.
    h = 1e-4
    d = rb.distributions
    ref = (
        rb.exact_value({**d, "v0": d["v0"].replace(mu=d["v0"].mu + h)})
        - rb.exact_value({**d, "v0": d["v0"].replace(mu=d["v0"].mu - h)})
    ) / (2 * h)
    rule = vc.sensitivity(example_rule(), "mu", "v0", method="pathwise", n=N_EX)
    assert abs(rule - ref) < 3e-2 * abs(ref), (rule, ref)  # grid error O(h²) at n = 21: 1.3 %
    # The Monte-Carlo estimates scatter around it (error bars: 4 standard errors, plus the O(h²) grid error).
    assert abs(b["mean"] - ref) < 4 * b["stderr"] + 2e-2 * abs(ref), (b, ref)


def _midpoint_risk(ep, x, lam):
    """An independent discrete M(U) = mean + λ std of the midpoint-rule J_s (for scipy)."""
    om = {k: jnp.asarray(v) for k, v in ep.samples.items()}
    q = jnp.asarray(ep.weights)
    h = jnp.asarray(np.diff(x))
    xm = jnp.asarray(0.5 * (x[1:] + x[:-1]))

    def M(inner):
        U = jnp.concatenate([jnp.zeros(1), inner, jnp.full(1, rb.Y)])
        fm, dfm = 0.5 * (U[1:] + U[:-1]), jnp.diff(U) / h
        J = jax.vmap(lambda v0, g: jnp.sum(h * rb.integrand(fm, dfm, xm, {"v0": v0, "g": g})))(om["v0"], om["g"])
        m = jnp.sum(q * J)
        return m + lam * jnp.sqrt(jnp.sum(q * (J - m) ** 2))

    return jax.jit(M), jax.jit(jax.grad(M))


def test_risk_aware_optimality_and_trade_off():
    ep = rb.make(samples=S_EX, seed=3)
    fam = [vc.solve_expected(ep, n=N_EX, risk=lam) for lam in (0.0, 1.0, 3.0)]
    assert all(r.converged for r in fam)
    assert fam[1].solution.quadrature == {"gauss1": N_EX - 1}  # the midpoint rule, as in _midpoint_risk
    # Trading mean for spread: the std falls and the mean rises with λ.
    assert fam[0].std > fam[1].std > fam[2].std
    assert fam[0].mean < fam[1].mean < fam[2].mean
    r = fam[1]
    assert r.outer_iterations >= 2 and r.stationarity < 1e-8
    # Independent check: BFGS on an independently written M(U), started from the λ = 0 extremal.
    M, dM = _midpoint_risk(ep, r.x, 1.0)
    start = np.asarray(fam[0].f[1:-1])
    opt = scipy.optimize.minimize(
        lambda u: float(M(jnp.asarray(u))),
        start,
        jac=lambda u: np.asarray(dM(jnp.asarray(u))),
        method="BFGS",
        options={"gtol": 1e-11, "maxiter": 2000},
    )
    assert np.max(np.abs(opt.x - r.f[1:-1])) < 1e-5, np.max(np.abs(opt.x - r.f[1:-1]))
    assert abs(float(M(jnp.asarray(r.f[1:-1]))) - r.objective) < 1e-12
    assert r.objective <= opt.fun + 1e-12
    # ... and the λ = 0 extremal is not stationary for λ = 1 (the check can fail).
    assert np.max(np.abs(np.asarray(dM(jnp.asarray(start))))) > 1e-4


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: vc.Normal(0.0, 0.0), ValueError, "std"),
        (lambda: vc.Normal(0.0, -1.0), ValueError, "std"),
        (lambda: vc.Normal(math.nan, 1.0), ValueError, "mean"),
        (lambda: vc.Normal("1", 1.0), TypeError, "mean"),
        (lambda: vc.LogNormal(0.0, math.inf), ValueError, "sigma"),
        (lambda: vc.Uniform(1.0, 1.0), ValueError, "high"),
        (lambda: vc.Normal(0.0, 1.0).replace(scale=2.0), ValueError, "scale"),
    ],
)
def test_bad_distributions(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(samples=0), ValueError, "samples"),
        (dict(samples=-3), ValueError, "samples"),
        (dict(samples=2.5), TypeError, "samples"),
        (dict(), ValueError, "samples, rule"),
        (dict(samples=4, rule="gauss", order=3), ValueError, "samples, rule"),
        (dict(rule="simpson", order=3), ValueError, "rule"),
        (dict(rule="gauss", order=0), ValueError, "order"),
        (dict(rule="gauss-hermite", order=3), ValueError, "distributions\\['q'\\]"),
        (dict(samples=4, capacity=2), ValueError, "capacity"),
    ],
)
def test_bad_sampling_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        vc.ExpectedProblem(G_cf, DISTS_CF, (0.0, 1.0), BC0, **kwargs)


def test_bad_distributions_argument():
    with pytest.raises(ValueError, match="distributions"):
        vc.ExpectedProblem(G_cf, {}, (0.0, 1.0), BC0, samples=4)
    with pytest.raises(TypeError, match="distributions\\['z'\\]"):
        vc.ExpectedProblem(G_cf, {"z": 1.0}, (0.0, 1.0), BC0, samples=4)


def test_non_finite_samples_are_named():
    # A log-normal so wide that a draw overflows: the sample and its parameter are named.
    with pytest.raises(ValueError, match=r"sample \d+: z = inf"):
        vc.ExpectedProblem(
            G_cf, {"z": vc.LogNormal(0.0, 400.0), "q": vc.Uniform(0.0, 1.0)}, (0.0, 1.0), BC0, samples=64, seed=0
        )
    # A sampled integrand that is NaN for some draws (sqrt of a negative stiffness).
    G = lambda f, df, x, a: 0.5 * jnp.sqrt(a) * df**2 - f
    ep = vc.ExpectedProblem(G, vc.Normal(1.0, 1.0), (0.0, 1.0), BC0, samples=8, seed=0)
    bad = int(np.argmax(ep.samples["omega"] < 0))
    with pytest.raises(ValueError, match=rf"sample {bad} \(omega = -"):
        vc.solve_expected(ep, n=N_CF)


def test_bad_solve_arguments():
    ep = cf(samples=4)
    with pytest.raises(ValueError, match="risk"):
        vc.solve_expected(ep, n=N_CF, risk=-1.0)
    with pytest.raises(ValueError, match="method"):
        vc.sensitivity(ep, "std", "z", method="magic", n=N_CF)
    with pytest.raises(ValueError, match="param"):
        vc.sensitivity(ep, "sigma", "z", n=N_CF)
    with pytest.raises(ValueError, match="dist"):
        vc.sensitivity(ep, "std", n=N_CF)
    with pytest.raises(ValueError, match="pathwise"):
        vc.sensitivity(ep, "std", "z", method="pathwise", pathwise="envelope", statistic=lambda x, f: f[3], n=N_CF)
    with pytest.raises(TypeError, match="statistic"):
        vc.sensitivity(ep, "std", "z", statistic=3.0, n=N_CF)
    with pytest.raises(ValueError, match="independent"):
        vc.sensitivity(cf(rule="gauss", order=2), "std", "z", method="independent", n=N_CF)
