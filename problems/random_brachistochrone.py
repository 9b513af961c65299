"""Random brachistochrone: least expected descent time for a random launch speed.

A bead starts at the origin with speed v0 and slides without friction to (X, Y) (depth f measured
downward).  Energy conservation gives v = sqrt(v0² + 2 g f), so the travel time is
T[f; ω] = ∫_0^X sqrt(1 + f'²) / sqrt(v0² + 2 g f) dx with ω = (v0, g) random:
v0 ~ LogNormal(log 2, 0.4) [m/s] (an uncertain launch) and g ~ Uniform(9.78, 9.83) [m/s²] (gravity
between the equator and the poles).  With v0 = 0, g only rescales T and every sample has the same
extremal (the cycloid); the launch speed changes the shape: a fast start wants a flatter curve.
The problem is min_f E[T[f; ω]], the expectation taken by a tensor Gauss rule in ω (Gauss–Hermite
in log v0, Gauss–Legendre in g: 12 × 3 nodes, accurate to ~1e-10 here), and solved as one
sample-average integrand by Newton.

Reference (independent of the solver): E[T] = ∫ sqrt(1 + f'²) φ(f) dx with
φ(η) = E[(v0² + 2 g η)^(-1/2)] does not depend on x, so the Beltrami identity gives the first
integral φ(f) / sqrt(1 + f'²) = C: the extremal descends monotonically with
x(η) = ∫_0^η C / sqrt(φ(s)² - C²) ds, C fixed by x(Y) = X, and E[T]* = ∫_0^Y φ² / sqrt(φ² - C²) dη.
φ is computed with a 60 × 8-point Gauss rule (checked against scipy's adaptive quad in the
tests), the η-integrals with 64/400-point Gauss–Legendre, the inversion η(x) by Newton's method.
`plot_family()` draws the samples, their spread, the expected-value extremal and the risk-aware
family min E[T] + λ std[T] (plots/random_brachistochrone_ensemble.png).
"""

import math

import jax.numpy as jnp
import numpy as np

import varcalc as vc

X, Y = 1.0, 0.6  # end point: horizontal distance and depth [m]
distributions = {"v0": vc.LogNormal(math.log(2.0), 0.4), "g": vc.Uniform(9.78, 9.83)}
# Gauss points per random parameter.  T is nearly linear in g on [9.78, 9.83]: 3 points suffice there.
RULE_ORDER = {"v0": 12, "g": 3}


def integrand(f, df, x, omega):
    """The random integrand: time per unit of x for one (v0, g): ds / sqrt(v0² + 2 g f)."""
    return jnp.sqrt((1.0 + df**2) / (omega["v0"] ** 2 + 2.0 * omega["g"] * f))


# -- reference: Beltrami first integral of the expected-value problem ----------------------------


def _phi_rule(dists, n_v=60, n_g=8):
    z, wz = np.polynomial.hermite_e.hermegauss(n_v)
    wz = wz / math.sqrt(2.0 * math.pi)
    t, wt = np.polynomial.legendre.leggauss(n_g)
    v, g = dists["v0"], dists["g"]
    gg = g.low + (g.high - g.low) * 0.5 * (t + 1.0)
    v2 = np.exp(2.0 * (v.mu + v.sigma * z))
    return v2[:, None], gg[None, :], wz[:, None] * (0.5 * wt)[None, :]


def phi(eta, dists=None):
    """φ(η) = E[(v0² + 2 g η)^(-1/2)], vectorised over η."""
    V2, GG, W = _RULE if dists is None else _phi_rule(dists)
    eta = np.asarray(eta, dtype=np.float64)
    return np.sum(W * (V2 + 2.0 * GG * eta[..., None, None]) ** -0.5, axis=(-1, -2))


_RULE = _phi_rule(distributions)
_S64, _W64 = np.polynomial.legendre.leggauss(64)


def _x_of_eta(eta, C, dists=None):
    """x(η) = ∫_0^η C / sqrt(φ² - C²) ds (64-point Gauss–Legendre; the integrand is smooth)."""
    eta = np.asarray(eta, dtype=np.float64)
    s = eta[..., None] * 0.5 * (_S64 + 1.0)
    P = phi(s, dists)
    return eta * np.sum(0.5 * _W64 * C / np.sqrt(P**2 - C**2), axis=-1)


def _beltrami_constant(dists=None):
    """C in (0, φ(Y)) with x(Y) = X, by bisection (x(Y; C) increases with C)."""
    lo, hi = 1e-9, float(phi(Y, dists)) * (1.0 - 1e-12)
    if _x_of_eta(Y, hi, dists) <= X:
        raise ValueError(
            "random_brachistochrone: the expected-value extremal is not monotone for this "
            "(X, Y); the Beltrami reference needs X below its maximum"
        )
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if _x_of_eta(Y, mid, dists) < X else (lo, mid)
    return 0.5 * (lo + hi)


C = _beltrami_constant()
_ETA_TABLE = np.linspace(0.0, Y, 65)
_X_TABLE = _x_of_eta(_ETA_TABLE, C)


def exact(x):
    """Depth of the expected-value extremal at abscissae x (vectorised): η with x(η) = x."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, X)
    # Newton's method on x(η) = x (x(η) increases, slope C / sqrt(φ² - C²)), started from a table.
    eta = np.interp(x, _X_TABLE, _ETA_TABLE)
    for _ in range(50):
        P = phi(eta)
        step = (_x_of_eta(eta, C) - x) * np.sqrt(P**2 - C**2) / C
        eta = np.clip(eta - step, 0.0, Y)
        if np.max(np.abs(step)) < 1e-14:
            break
    return np.where(x >= X, Y, eta)


def exact_value(dists=None):
    """E[T]* = ∫_0^Y φ² / sqrt(φ² - C²) dη (400-point Gauss–Legendre), for `dists` (default: the
    module's distributions) — e.g. for finite differences of E[T]* in a distribution parameter."""
    c = C if dists is None else _beltrami_constant(dists)
    s, w = np.polynomial.legendre.leggauss(400)
    eta = 0.5 * Y * (s + 1.0)
    P = phi(eta, dists)
    return float(0.5 * Y * np.sum(w * P**2 / np.sqrt(P**2 - c**2)))


def make(rule_order=RULE_ORDER, samples=None, seed=0, dists=None):
    """The ExpectedProblem: a tensor Gauss rule with `rule_order` points ({name: points}), or
    `samples` Monte-Carlo draws with `seed`."""
    dists = distributions if dists is None else dists
    how = dict(samples=samples, seed=seed) if samples is not None else dict(rule="gauss", order=rule_order)
    ep = vc.ExpectedProblem(
        integrand,
        dists,
        (0.0, X),
        {"left": 0.0, "right": Y},
        name="random_brachistochrone",
        exact=exact,
        exact_value=exact_value(),
        **how,
    )
    return ep


expected = make()
problem = expected.problem
n = 81
grading = None
plot_options = {"invert_yaxis": True}


def plot_family(path="plots/random_brachistochrone_ensemble.png", risks=(0.0, 0.5, 1.0, 2.0, 4.0), n=n):
    """Samples (Monte Carlo, 12 draws), their mean ± std, the E[T] extremal and the λ family."""
    import matplotlib

    matplotlib.use("Agg")
    mc = make(samples=64, seed=0)
    return vc.plot_ensemble(
        expected,
        path,
        n=n,
        count=12,
        risks=risks,
        exact=exact,
        invert_yaxis=True,
        sample_problem=mc,
        title="Brachistochrone with launch speed v0 ~ LogNormal(log 2, 0.4) [m/s], "
        "g ~ U(9.78, 9.83) [m/s²]; J = descent time [s]",
    )


if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
    plot_family()
