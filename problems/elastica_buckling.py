"""Euler buckling of a column: the straight elastica loses stability at P = π²/4.

An inextensible elastic column of unit length and bending stiffness is clamped at its foot (s = 0)
and free at its top (s = 1), where a vertical dead load P presses down (Euler's first case, 1744).
In the tangent angle θ(s) (arclength s), its potential energy is
J[θ] = ∫_0^1 (½ θ'² - P (1 - cos θ)) ds,  θ(0) = 0, the top free (natural condition θ'(1) = 0),
with Euler–Lagrange equation θ'' + P sin θ = 0.  The straight column θ = 0 is an extremal for
every P; its second variation ∫ v'² - P v² has the eigenvalues ((k + ½)π)² - P, so it is stable
below the critical load P_c = π²/4 and loses stability there, where two buckled branches ±θ
bifurcate (a supercritical pitchfork).  The buckled column is the pendulum's swing:
θ(s) = 2 arcsin(k sn(√P s, k²)), the tip angle θ(1) = 2 arcsin k, with √P = K(k²) (the complete
elliptic integral: a quarter period fits the length).  Here P = 3 is a parameter (p = {"P": P});
`exact` is the buckled column bent to θ > 0 (from the guess 1.2 sin(πs/2)), `exact_for(P)`
other loads; `varcalc continue elastica_buckling --param P --values 1:4:30` draws the pitchfork.
"""

import jax.numpy as jnp
import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import ellipj, ellipk

import varcalc as vc

params = {"P": 3.0}
P_CRITICAL = np.pi**2 / 4


def integrand(f, df, x, p):
    """Bending energy minus the load's work: ½ θ'² - P (1 - cos θ)."""
    return 0.5 * df**2 - p["P"] * (1.0 - jnp.cos(f))


def modulus_for(P):
    """k = sin(θ(1)/2) of the buckled column: the root of K(k²) = √P (P > π²/4)."""
    if not P > P_CRITICAL:
        raise ValueError(f"P: the column buckles only above P_c = π²/4 = {P_CRITICAL:.10g}, got {P!r}")
    return brentq(lambda k: ellipk(k * k) - np.sqrt(P), 0.0, 1.0 - 1e-15)


def exact_for(P):
    """θ(s) = 2 arcsin(k sn(√P s, k²)) (the branch bent to θ > 0; -θ is the other)."""
    k = modulus_for(P)
    return lambda s: 2.0 * np.arcsin(k * ellipj(np.sqrt(P) * np.asarray(s, dtype=np.float64), k * k)[0])


def exact_value_for(P):
    """J of the buckled column (adaptive quadrature of the closed form, 1e-13)."""
    th = exact_for(P)
    k = modulus_for(P)
    # θ' = 2 k √P cn(√P s) (from sn' = cn dn and cos(θ/2) = dn)
    dth = lambda s: 2.0 * k * np.sqrt(P) * ellipj(np.sqrt(P) * s, k * k)[1]
    return float(quad(lambda s: 0.5 * dth(s) ** 2 - P * (1 - np.cos(th(s))), 0.0, 1.0, epsabs=1e-13, epsrel=1e-13)[0])


_exact = exact_for(params["P"])


def exact(x):
    """The buckled column (θ > 0) under P = 3."""
    return _exact(x)


def guess(x):
    """A bent column: the critical mode's shape (the straight one is a saddle the default guess would find)."""
    return 1.2 * np.sin(np.pi * np.asarray(x, dtype=np.float64) / 2)


def tip_angle(x, f):
    """θ(1): the diagram's ordinate (the two buckled branches are ±; J alone cannot tell them apart)."""
    return float(np.ravel(f)[-1])


problem = vc.Problem(
    integrand,
    domain=(0.0, 1.0),
    bc={"left": 0.0},
    params=params,
    exact=exact,
    exact_value=exact_value_for(params["P"]),
    name="elastica_buckling",
)
n = 101
grading = None
plot_options = {}
measure = ("θ(1)", tip_angle)

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
