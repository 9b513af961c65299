"""Harmonic oscillator: Hamilton's principle of least action.

The action of a unit mass on a spring of angular frequency ω is S[f] = ∫_0^T (½ f'² - ½ ω² f²) dt
(kinetic minus potential energy), with the positions f(0) = A and f(T) = B prescribed.  Its
extremal solves f'' + ω² f = 0: f = A cos ωt + (B - A cos ωT) / sin(ωT) · sin ωt.  Integrating
f'² by parts with the equation gives S = ½ [f f']_0^T.  For T < π/ω (no conjugate point) the
second variation ∫ (v'² - ω² v²) is positive (Wirtinger's inequality), so the action is a true
minimum and Newton converges to it; here ω = 2, T = 1 < π/2, A = 1, B = 0.5.
"""

import jax.numpy as jnp  # noqa: F401  (write your integrands with it)
import numpy as np

import varcalc as vc

omega = 2.0  # angular frequency
T = 1.0  # duration, < π / ω
A, B = 1.0, 0.5  # positions at t = 0 and t = T
_k = (B - A * np.cos(omega * T)) / np.sin(omega * T)  # coefficient of sin ωt


def integrand(f, df, x):
    """Lagrangian: kinetic minus potential energy."""
    return 0.5 * df**2 - 0.5 * omega**2 * f**2


def exact(x):
    t = np.asarray(x, dtype=np.float64)
    return A * np.cos(omega * t) + _k * np.sin(omega * t)


def _velocity(t):
    return omega * (-A * np.sin(omega * t) + _k * np.cos(omega * t))


problem = vc.Problem(
    integrand,
    domain=(0.0, T),
    bc={"left": A, "right": B},
    exact=exact,
    exact_value=0.5 * (B * _velocity(T) - A * _velocity(0.0)),
    name="harmonic_oscillator",
)
n = 161
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
