"""Grids on the interval: uniform, graded toward a singular end, or given by the user."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["uniform_grid", "graded_grid", "check_grid"]


def _check_n(n, name="n") -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name}: expected an integer number of nodes (>= 2), got {n!r}")
    if n < 2:
        raise ValueError(f"{name}: expected at least 2 nodes (both ends), got {n}")
    return int(n)


def uniform_grid(domain: Sequence[float], n: int) -> np.ndarray:
    """``n`` equally spaced nodes from ``a`` to ``b``, both ends included. Shape ``(n,)``.

    >>> uniform_grid((0.0, 1.0), 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    from .problem import _check_domain

    a, b = _check_domain(domain)
    n = _check_n(n)
    x = np.linspace(a, b, n)
    x[-1] = b
    return x


def graded_grid(domain: Sequence[float], n: int, power: float = 2.0, end: str = "left") -> np.ndarray:
    """``n`` nodes clustered toward ``end`` as ``x_i = a + L (i/(n-1))^power``. Shape ``(n,)``.

    Grading resolves endpoint singularities of the extremal: the brachistochrone released at
    rest behaves like ``f ~ x^(2/3)`` at the start.  Measured there: with ``power=2`` the travel
    time converges at order ~1.9 and the nodal error at order 4/3; ``power=3`` gives order 2
    for both.

    Parameters
    ----------
    domain : (a, b)
    n : int
        Number of nodes including both ends.
    power : float
        Grading exponent ``>= 1`` (1 is uniform).
    end : {"left", "right", "both"}
        Where the nodes cluster.  ``"both"`` grades symmetrically toward each end.

    Examples
    --------
    >>> np.round(graded_grid((0.0, 1.0), 5, power=2), 4)
    array([0.    , 0.0625, 0.25  , 0.5625, 1.    ])
    """
    from .problem import _check_domain

    a, b = _check_domain(domain)
    n = _check_n(n)
    try:
        power = float(power)
    except (TypeError, ValueError):
        raise TypeError(f"power: expected a real number >= 1, got {power!r}") from None
    if not (np.isfinite(power) and power >= 1.0):
        raise ValueError(f"power: expected a real number >= 1, got {power!r}")
    s = np.linspace(0.0, 1.0, n)
    if end == "left":
        t = s**power
    elif end == "right":
        t = 1.0 - (1.0 - s) ** power
    elif end == "both":
        # Symmetric: grade each half toward its own end.
        t = np.where(s <= 0.5, 0.5 * (2 * s) ** power, 1.0 - 0.5 * (2 * (1 - s)) ** power)
    else:
        raise ValueError(f"end: expected 'left', 'right' or 'both', got {end!r}")
    x = a + (b - a) * t
    x[0], x[-1] = a, b
    return x


def check_grid(grid: ArrayLike, domain: Sequence[float]) -> np.ndarray:
    """Validate user-given nodes: strictly increasing, finite, from ``a`` to ``b``."""
    try:
        x = np.asarray(grid, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"grid: expected a 1-D array of node positions, got {type(grid).__name__}") from None
    if x.ndim != 1:
        raise ValueError(f"grid: expected a 1-D array of node positions, got shape {x.shape}")
    _check_n(x.size, "grid (number of nodes)")
    if not np.all(np.isfinite(x)):
        raise ValueError("grid: expected finite node positions, found NaN or inf")
    steps = np.diff(x)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ValueError(
            f"grid: expected strictly increasing nodes, but grid[{i}] = {x[i]!r} >= grid[{i + 1}] = {x[i + 1]!r}"
        )
    a, b = domain
    tol = 1e-12 * (b - a)
    if abs(x[0] - a) > tol or abs(x[-1] - b) > tol:
        raise ValueError(f"grid: expected nodes spanning the domain ({a}, {b}), got [{x[0]}, {x[-1]}]")
    x = x.copy()
    x[0], x[-1] = a, b
    return x
