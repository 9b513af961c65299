"""Harmonic oscillator past a conjugate point: the action is a saddle.

Hamilton's principle for a unit mass on a spring: S[f] = ∫_0^T (½ f'² - ½ ω² f²) dt with f(0) = 0,
f(T) = B.  The extremal solves f'' + ω² f = 0: f = B sin(ωt) / sin(ωT) (unique while ωT is not a
multiple of π), and integrating f'² by parts gives S = ½ [f f']_0^T = ½ B² ω cot(ωT).  The second
variation ∫_0^T (v'² - ω² v²) dt, v(0) = v(T) = 0, has the eigenvalues (kπ/T)² - ω², k = 1, 2, ...,
so past the first conjugate point t = π/ω it has floor(ωT/π) negative directions (Jacobi's
condition; Gelfand & Fomin, *Calculus of Variations*, §26): the "least" action principle only
asks for a stationary point.  Newton on the Euler–Lagrange residual (`mode="stationary"`) finds
it; `mode="minimize"` must refuse it (status SADDLE).  Here ω = 1, T = 4 (one conjugate point,
π < 4 < 2π), B = 1: f = sin t / sin 4, S = ½ cot 4 ≈ 0.4319.  `make_problem(T)` builds other
durations (same integrand, so same compiled solver for the same n).
"""

import jax.numpy as jnp  # noqa: F401  (write your integrands with it)
import numpy as np

import varcalc as vc

omega = 1.0  # angular frequency
T = 4.0  # duration: past the first conjugate point π / ω
B = 1.0  # position at t = T (f(0) = 0)


def integrand(f, df, x):
    """Lagrangian: kinetic minus potential energy."""
    return 0.5 * df**2 - 0.5 * omega**2 * f**2


def conjugate_points(T=T):
    """Number of conjugate points to t = 0 in (0, T): floor(ωT/π) (= negative eigenvalues)."""
    return int(np.floor(omega * T / np.pi))


def make_exact(T=T):
    s = np.sin(omega * T)
    if abs(s) < 1e-8:
        raise ValueError(f"T = {T}: ωT is a multiple of π (a conjugate point), no unique extremal")
    return lambda x: B * np.sin(omega * np.asarray(x, dtype=np.float64)) / s


def make_problem(T=T, name="harmonic_oscillator_long"):
    """The oscillator over [0, T], f(0) = 0, f(T) = B, with its exact extremal and action."""
    return vc.Problem(
        integrand,
        domain=(0.0, T),
        bc={"left": 0.0, "right": B},
        exact=make_exact(T),
        exact_value=0.5 * B**2 * omega / np.tan(omega * T),
        name=name,
    )


_exact = make_exact(T)


def exact(x):
    """B sin(ωt) / sin(ωT)."""
    return _exact(x)


problem = vc.Problem(
    integrand,
    domain=(0.0, T),
    bc={"left": 0.0, "right": B},
    exact=exact,
    exact_value=0.5 * B**2 * omega / np.tan(omega * T),
    name="harmonic_oscillator_long",
)
n = 161
grading = None
mode = "stationary"  # the action is a saddle: "minimize" (the default) reports Status.SADDLE
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
