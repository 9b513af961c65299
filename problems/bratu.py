"""Bratu problem: two extremals below the fold λ* ≈ 3.5138, none above.

The 1-D Bratu (Liouville–Gelfand) problem, J[f] = ∫_0^1 (½ f'² - λ eᶠ) dx, f(0) = f(1) = 0, with the
Euler–Lagrange equation f'' + λ eᶠ = 0 (a model of thermal ignition and of combustion; Bratu 1914,
Gelfand 1963).  Its solutions are f = -2 ln(cosh((x - ½) θ/2) / cosh(θ/4)) with θ a root of
θ = √(2λ) cosh(θ/4): two roots for 0 < λ < λ*, one at λ* = max_θ θ² / (2 cosh²(θ/4)) = 3.513830719...,
none above.  The lower solution (small θ) is a strict local minimum of J, the upper one a saddle of
index 1 (J is unbounded below: f → ∞).  Here λ = 2 is a parameter (p = {"lam": λ}: one compiled
solver for all λ, `varcalc continue bratu --param lam --values 0.5:4:40` draws the fold); the
default guess f = 0 converges to the lower solution (`exact`), `exact_for(lam, branch="upper")`
gives the other, which `vc.solve_all` finds by deflation.
"""

import jax.numpy as jnp
import numpy as np
from scipy.optimize import brentq

import varcalc as vc

params = {"lam": 2.0}
_THETA_STAR = brentq(lambda t: t * np.tanh(t / 4) - 4.0, 1.0, 10.0)  # where dλ/dθ = 0
LAMBDA_STAR = float(_THETA_STAR**2 / (2 * np.cosh(_THETA_STAR / 4) ** 2))  # 3.5138307191...


def integrand(f, df, x, p):
    """½ f'² - λ eᶠ."""
    return 0.5 * df**2 - p["lam"] * jnp.exp(f)


def theta_for(lam, branch="lower"):
    """The root θ of θ = √(2λ) cosh(θ/4) on the lower (θ < θ*) or upper branch, 0 < λ <= λ*."""
    if not 0 < lam <= LAMBDA_STAR:
        raise ValueError(f"lam: expected 0 < lam <= λ* = {LAMBDA_STAR:.10g} (no solution above), got {lam!r}")
    if branch not in ("lower", "upper"):
        raise ValueError(f"branch: expected 'lower' or 'upper', got {branch!r}")
    h = lambda t: t - np.sqrt(2 * lam) * np.cosh(t / 4)
    if lam == LAMBDA_STAR:
        return _THETA_STAR
    return brentq(h, 0.0, _THETA_STAR) if branch == "lower" else brentq(h, _THETA_STAR, 60.0)


def exact_for(lam, branch="lower"):
    """f(x) = -2 ln(cosh((x - ½) θ/2) / cosh(θ/4)) on the given branch (vectorised)."""
    th = theta_for(lam, branch)
    return lambda x: -2.0 * np.log(np.cosh((np.asarray(x, dtype=np.float64) - 0.5) * th / 2) / np.cosh(th / 4))


def exact_value_for(lam, branch="lower"):
    """J = ∫ ½ f'² - λ eᶠ.  With u = (x - ½)θ/2, f' = -θ tanh u and λ eᶠ = -f'' = (θ²/2) sech² u:
    J = (θ²/2) ∫_0^1 (1 - 2 sech² u) dx = θ²/2 - 4θ tanh(θ/4)."""
    th = theta_for(lam, branch)
    return float(th**2 / 2 - 4 * th * np.tanh(th / 4))


_exact = exact_for(params["lam"])


def exact(x):
    """The lower (minimising) solution for λ = 2."""
    return _exact(x)


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": 0.0, "right": 0.0},
    params=params,
    exact=exact,
    exact_value=exact_value_for(params["lam"]),
    name="bratu",
)
n = 101
grading = None
plot_options = {}
measure = ("max f", lambda x, f: float(np.max(f)))  # the diagram's ordinate (varcalc continue)

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
