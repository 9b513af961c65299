"""Integrands shared by the tests: one function object each, so compiled solvers are reused."""

import jax.numpy as jnp

GRAVITY = 9.81


def travel_time(f, df, x):
    """Brachistochrone, f measured downward."""
    return jnp.sqrt((1 + df**2) / (2 * GRAVITY * f))


def catenary(f, df, x):
    return f * jnp.sqrt(1 + df**2)


def poisson(f, df, x):
    """½ f'² - f·q(x) with q(x) = π² sin(πx): f = sin(πx) on [0, 1] with f(0) = f(1) = 0."""
    return 0.5 * df**2 - f * jnp.pi**2 * jnp.sin(jnp.pi * x)


def quadratic(f, df, x):
    """A quadratic functional with x-dependent coefficients (one Newton step solves it)."""
    return 0.5 * (1 + x**2) * df**2 + 0.5 * (2 + x) * f**2 - jnp.cos(3 * x) * f


def sphere_energy(f, df, x):
    """Geodesic energy on the unit sphere, f = (polar angle, azimuth)."""
    return df[0] ** 2 + jnp.sin(f[0]) ** 2 * df[1] ** 2


def allen_cahn(f, df, x):
    """Double well: the guess f ≈ 0 sits near a maximum, where the Hessian is indefinite."""
    return 0.25 * (f**2 - 1) ** 2 + 0.005 * df**2
