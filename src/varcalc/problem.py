"""The problem statement: integrand, domain, boundary conditions — validated at the door.

A :class:`Problem` says *what* to extremise; how to discretise and solve it (grid, guess,
tolerances) is given to :func:`varcalc.solve`.  Every check on the user's input lives here
(or in :mod:`varcalc.mesh` for grids), so that nothing malformed reaches JAX tracing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Problem"]

_BC_KEYS = ("left", "right")


@dataclass(frozen=True, eq=False)
class Problem:
    """A functional ``J[f] = ∫_a^b G(f(x), f'(x), x) dx`` with boundary conditions.

    Parameters
    ----------
    integrand : callable ``G(f, df, x) -> scalar``
        Written with ``jax.numpy``.  For a scalar unknown ``f`` and ``df`` are scalars; for a
        vector unknown in ``R^m`` they have shape ``(m,)``.  ``x`` is always a scalar.
    domain : (a, b)
        Finite interval with ``a < b``.
    bc : dict, optional
        Dirichlet values keyed ``"left"`` / ``"right"``: a number (scalar unknown) or a length-m
        sequence (vector unknown).  A missing key leaves that end free, which gives the natural
        boundary condition ``∂G/∂f' = 0`` there.
    components : int, optional
        ``m`` for a vector unknown.  Inferred from the Dirichlet values when they are sequences;
        required when both ends are free and the unknown is a vector.
    exact : callable, optional
        The exact extremal ``x -> f`` (shape ``(k,)`` or ``(k, m)`` for ``k`` points), used by
        plots and error reports.
    exact_value : float, optional
        The exact value ``J[f*]``.
    name : str, optional
        A label for plots, tables and saved files.

    Examples
    --------
    >>> import jax.numpy as jnp, varcalc as vc
    >>> arc = vc.Problem(lambda f, df, x: jnp.sqrt(1 + df**2), (0.0, 1.0),
    ...                  bc={"left": 0.0, "right": 1.0})
    >>> arc.components, arc.is_vector
    (1, False)
    """

    integrand: Callable
    domain: tuple[float, float]
    bc: Mapping[str, object] = field(default_factory=dict)
    components: int | None = None
    exact: Callable | None = None
    exact_value: float | None = None
    name: str = "problem"

    def __post_init__(self):
        if not callable(self.integrand):
            raise TypeError(
                f"integrand: expected a callable G(f, df, x) returning a scalar, "
                f"got {type(self.integrand).__name__}"
            )
        object.__setattr__(self, "domain", _check_domain(self.domain))
        bc, m_from_bc, vector_from_bc = _check_bc(self.bc)
        m = self.components
        if m is not None:
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
                raise ValueError(f"components: expected a positive integer, got {m!r}")
            m = int(m)
            if m_from_bc is not None and m_from_bc != m:
                raise ValueError(
                    f"bc: values have length {m_from_bc} but components={m}"
                )
        vector = vector_from_bc or (m is not None)
        if m is None:
            m = m_from_bc if m_from_bc is not None else 1
        # Scalar Dirichlet values become shape (m,) arrays internally.
        bc = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (m,)).copy() if not vector
              else np.asarray(v, dtype=np.float64) for k, v in bc.items()}
        for k, v in bc.items():
            if v.shape != (m,):
                raise ValueError(f"bc[{k!r}]: expected {m} values, got shape {v.shape}")
        object.__setattr__(self, "bc", bc)
        object.__setattr__(self, "components", m)
        object.__setattr__(self, "_vector", vector)
        if self.exact is not None and not callable(self.exact):
            raise TypeError(f"exact: expected a callable x -> f(x), got {type(self.exact).__name__}")
        if self.exact_value is not None:
            try:
                ev = float(self.exact_value)
            except (TypeError, ValueError):
                raise TypeError(f"exact_value: expected a real number, got {self.exact_value!r}") from None
            object.__setattr__(self, "exact_value", ev)
        if not isinstance(self.name, str):
            raise TypeError(f"name: expected a string, got {type(self.name).__name__}")

    @property
    def is_vector(self) -> bool:
        """True when the unknown is a vector ``f(x) ∈ R^m`` (even for ``m = 1``)."""
        return self._vector

    @property
    def free_ends(self) -> tuple[str, ...]:
        """The ends without a Dirichlet value (natural boundary condition there)."""
        return tuple(k for k in _BC_KEYS if k not in self.bc)

    def __repr__(self) -> str:
        bc = {k: (v.tolist() if self.is_vector else float(v[0])) for k, v in self.bc.items()}
        return (f"Problem(name={self.name!r}, integrand={getattr(self.integrand, '__name__', '?')}, "
                f"domain={self.domain}, bc={bc}, components={self.components})")


def _check_domain(domain) -> tuple[float, float]:
    try:
        a, b = domain
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        raise ValueError(f"domain: expected a pair (a, b) of real numbers, got {domain!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"domain: expected finite ends, got ({a}, {b})")
    if not a < b:
        raise ValueError(f"domain: expected a < b (a non-empty interval, left to right), got ({a}, {b})")
    return a, b


def _check_bc(bc):
    if bc is None:
        bc = {}
    if not isinstance(bc, Mapping):
        raise TypeError(f"bc: expected a dict with keys 'left' and/or 'right', got {type(bc).__name__}")
    unknown = [k for k in bc if k not in _BC_KEYS]
    if unknown:
        raise ValueError(
            f"bc: unknown key(s) {unknown}; expected 'left' and/or 'right' "
            "(leave an end out for a free end with the natural boundary condition)"
        )
    lengths, vector, out = set(), False, {}
    for k, v in bc.items():
        if isinstance(v, (str, bytes)) or callable(v):
            raise TypeError(f"bc[{k!r}]: expected a number or a sequence of numbers, got {v!r}")
        arr = np.asarray(v)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
            raise TypeError(f"bc[{k!r}]: expected real number(s), got {v!r}")
        arr = arr.astype(np.float64)
        if arr.ndim > 1 or (arr.ndim == 1 and arr.size == 0):
            raise ValueError(f"bc[{k!r}]: expected a number or a flat sequence, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bc[{k!r}]: expected finite value(s), got {v!r}")
        if arr.ndim == 1:
            vector = True
            lengths.add(arr.size)
        out[k] = arr
    if len(lengths) > 1:
        raise ValueError(f"bc: left and right values have different lengths {sorted(lengths)}")
    if vector and any(a.ndim == 0 for a in out.values()):
        raise ValueError("bc: one end is a sequence and the other a number; give both as sequences")
    m = lengths.pop() if lengths else None
    return out, m, vector
