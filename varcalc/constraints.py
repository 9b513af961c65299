"""Side conditions of a variational problem, stated next to the integrand in :class:`Problem`.

* :class:`Integral` — ``∫_a^b H(f, f', x) dx = value`` (isoperimetric), one Lagrange multiplier;
* :class:`Pointwise` — ``g(f(x), x) = 0`` for every ``x`` (f stays on a surface), a multiplier
  function imposed at the nodes;
* :class:`Bound` — ``lower(x) <= f(x) <= upper(x)`` (obstacles), contact multipliers;
* :class:`Data` — a least-squares data term ``Σ_i w_i |f(x_i) - y_i|²`` added to ``J``;
* :class:`OnCurve` — a free right end on the curve ``φ(x, f) = 0`` (transversality).

They only hold and validate what the user wrote; :mod:`varcalc.lagrangian` turns them into terms
of the discrete Lagrangian.

>>> import jax.numpy as jnp, varcalc as vc
>>> length = vc.Integral(lambda f, df, x: jnp.sqrt(1 + df**2), 2.5, name="length")
>>> length.name, length.value
('length', 2.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Integral", "Pointwise", "Bound", "Data", "OnCurve"]


def _check_callable(fun, what, signature):
    if not callable(fun):
        raise TypeError(f"{what}: expected a callable {signature}, got {type(fun).__name__}")


def _check_name(name, what):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{what}.name: expected a string, got {type(name).__name__}")


@dataclass(frozen=True, eq=False)
class Integral:
    """Isoperimetric constraint ``∫_a^b H(f, f', x) dx = value``.

    ``H`` has the integrand's signature (``H(f, df, d2f, x)`` for ``order=2``, with ``p`` last when
    the problem has ``params``).  The solve finds a stationary point of ``J + λ (∫H - value)`` and
    returns ``λ`` in ``Solution.multipliers[name]``.
    """

    fun: Callable
    value: float
    name: str | None = None

    def __post_init__(self):
        _check_callable(self.fun, "Integral", "H(f, df, x) returning a scalar")
        _check_name(self.name, "Integral")
        try:
            v = float(self.value)
        except (TypeError, ValueError):
            raise TypeError(f"Integral.value: expected a real number, got {self.value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"Integral.value: expected a finite number, got {v}")
        object.__setattr__(self, "value", v)


@dataclass(frozen=True, eq=False)
class Pointwise:
    """Pointwise equality ``g(f(x), x) = 0`` for all ``x`` (a scalar or an ``(r,)`` array).

    Imposed at every node with a multiplier function ``μ(x)``: the solve finds a stationary point
    of ``J + ∫ μ·g dx`` (lumped at the nodes); ``Solution.multipliers[name]`` holds ``μ`` at the
    nodes.
    """

    fun: Callable
    name: str | None = None

    def __post_init__(self):
        _check_callable(self.fun, "Pointwise", "g(f, x) returning a scalar or an array")
        _check_name(self.name, "Pointwise")


def _bound_values(side, value, x, full):
    """``value`` (number, array of the unknown's shape, or callable of ``x``) as an array ``full``."""
    if value is None:
        return None
    n = np.shape(x)[0]
    if callable(value):
        try:
            out = np.asarray(value(np.asarray(x, dtype=np.float64)), dtype=np.float64)
        except Exception as exc:
            raise ValueError(f"Bound.{side}: calling {side}(x) on the grid raised {exc!r}") from exc
        if out.ndim and out.shape[0] == n and len(full) > 1 and out.ndim == 1:
            out = out.reshape((n,) + (1,) * (len(full) - 1))  # one value per node, every component
    else:
        out = np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(out, full).copy()
    except ValueError:
        raise ValueError(
            f"Bound.{side}: expected values of shape {full[1:]} (the unknown's) or per node "
            f"{full}, got shape {out.shape}"
        ) from None


@dataclass(frozen=True, eq=False)
class Bound:
    """Obstacle constraint ``lower(x) <= f(x) <= upper(x)`` at the nodes (scalar unknown, order 1);
    with ``derivative=1``, a slope constraint ``lower(x) <= f'(x) <= upper(x)`` on every cell.

    ``lower``/``upper``: a number, an array of the unknown's shape (componentwise bounds of a vector
    unknown), or a vectorised callable ``x -> values`` of shape ``(n,)`` or ``(n,) + shape``
    (``None``: no bound; ``±inf`` entries leave a component free).  For piecewise-linear elements the nodal constraint is the constraint: a piecewise-linear
    ``f`` above the nodal values of ``ψ`` is above its interpolant; a slope bound holds on each
    cell (the callable is evaluated at the cell midpoints).  A problem takes at most one Bound of
    each ``derivative``.

    >>> import varcalc as vc
    >>> vc.Bound(upper=0.0, derivative=1).derivative        # f' <= 0: a non-increasing f
    1
    """

    lower: object = None
    upper: object = None
    name: str | None = None
    derivative: int = field(default=0, kw_only=True)

    def __post_init__(self):
        if self.lower is None and self.upper is None:
            raise ValueError("Bound: give lower=..., upper=... or both")
        if isinstance(self.derivative, bool) or self.derivative not in (0, 1):
            raise ValueError(f"Bound.derivative: expected 0 (bound f) or 1 (bound f'), got {self.derivative!r}")
        for side in ("lower", "upper"):
            v = getattr(self, side)
            if v is not None and not callable(v):
                arr = np.asarray(v)
                if not np.issubdtype(arr.dtype, np.number) or np.any(np.isnan(arr)):
                    raise TypeError(
                        f"Bound.{side}: expected a number, an array of the unknown's shape or a "
                        f"callable x -> values, got {v!r}"
                    )
        _check_name(self.name, "Bound")

    def values(self, x: ArrayLike, shape: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` at the nodes ``x`` (n,), each of shape ``(n,) + shape`` (the unknown's
        shape; ``-inf``/``+inf`` where absent)."""
        full = np.shape(x) + tuple(shape)
        lo = _bound_values("lower", self.lower, x, full)
        hi = _bound_values("upper", self.upper, x, full)
        lo = np.full(full, -np.inf) if lo is None else lo
        hi = np.full(full, np.inf) if hi is None else hi
        return lo, hi


@dataclass(frozen=True, eq=False)
class Data:
    """Least-squares data term ``Σ_i weight_i |f(x_i) - y_i|²`` added to the functional.

    With ``G = lam * d2f**2`` (``order=2``) this is the smoothing spline of
    ``scipy.interpolate.make_smoothing_spline(x, y, lam=lam)``.  The sites must be grid nodes.
    """

    x: object
    y: object
    weight: object = 1.0

    def __post_init__(self):
        x = np.asarray(self.x, dtype=np.float64)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"Data.x: expected a non-empty 1-D array of finite sites, got shape {x.shape}")
        if np.any(np.diff(np.sort(x)) == 0):
            raise ValueError("Data.x: expected distinct sites")
        y = np.asarray(self.y, dtype=np.float64)
        if y.shape[:1] != x.shape or not np.all(np.isfinite(y)):
            raise ValueError(f"Data.y: expected {x.size} finite values (first axis), got shape {y.shape}")
        w = np.broadcast_to(np.asarray(self.weight, dtype=np.float64), x.shape).copy()
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("Data.weight: expected finite non-negative weights")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "weight", w)


@dataclass(frozen=True, eq=False)
class OnCurve:
    """Free right end on the curve ``φ(x, f) = 0``; the end abscissa ``x_b`` is an unknown.

    ``domain[1]`` of the problem is the initial guess for ``x_b``.  ``φ = lambda x, f: x - 2.0``
    is the vertical line ``x = 2`` (free end value), ``lambda x, f: f - 1.0`` fixes the end value
    with a free ``x_b``.  The solution reports ``end`` (``x_b``) and the transversality residual.
    """

    fun: Callable
    name: str | None = None

    def __post_init__(self):
        _check_callable(self.fun, "OnCurve", "phi(x, f) returning a scalar")
        _check_name(self.name, "OnCurve")
