"""The problem statement: integrand, domain, boundary conditions — validated at the door.

A :class:`Problem` says *what* to extremise; how to discretise and solve it (grid, guess,
tolerances) is given to :func:`varcalc.solve`.  Every check on the user's input lives here
(or in :mod:`varcalc.mesh` for grids), so that nothing malformed reaches JAX tracing.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .constraints import Bound, Data, Integral, OnCurve, Pointwise

__all__ = ["Problem"]

_BC_KEYS = ("left", "right", "left'", "right'")


@dataclass(frozen=True, eq=False)
class Problem:
    """A functional ``J[f] = ∫_a^b G(f(x), f'(x), x) dx`` with boundary conditions.

    Parameters
    ----------
    integrand : callable ``G(f, df, x) -> scalar``
        Written with ``jax.numpy``.  For a scalar unknown ``f`` and ``df`` are scalars; for a
        vector unknown in ``R^m`` they have shape ``(m,)`` (any array shape: see ``components``).
        ``x`` is always a scalar.  With ``order=2`` it is ``G(f, df, d2f, x)``; with ``params``
        the parameters come last: ``G(f, df, x, p)``.
    domain : (a, b)
        Finite interval with ``a < b``.  With ``right_end=OnCurve(...)``, ``b`` is the initial
        guess of the free end.
    bc : dict, optional
        Dirichlet values keyed ``"left"`` / ``"right"``: a number (scalar unknown) or an array of
        the unknown's shape.  For ``order=2``, ``"left'"`` / ``"right'"`` fix the slope ``f'``.
        A missing key leaves that end free, which gives the natural boundary condition
        (``∂G/∂f' = 0`` for order 1) there.
    components : int or tuple of int, optional
        ``m`` for a vector unknown ``f ∈ R^m``, or a shape such as ``(k, k)`` for a matrix-valued
        unknown.  Inferred from the Dirichlet values when they are arrays; required when both
        ends are free and the unknown is not scalar.
    exact : callable, optional
        The exact extremal ``x -> f`` (shape ``(k,)`` or ``(k, m)`` for ``k`` points), used by
        plots and error reports.
    exact_value : float, optional
        The exact value ``J[f*]``.
    name : str, optional
        A label for plots, tables and saved files.
    order : {1, 2}
        Highest derivative of ``f`` in the integrand (2: ``G(f, df, d2f, x)``, solved with C¹
        cubic Hermite elements).
    params : pytree, optional
        Default parameter values passed to ``G`` as its last argument; ``vc.solve(params=...)``
        overrides them without recompiling (same tree structure and shapes).
    constraints : sequence, optional
        :class:`Integral`, :class:`Pointwise` and :class:`Bound` side conditions.
    data : Data, optional
        A least-squares data term added to ``J`` (smoothing splines).
    right_end, left_end : OnCurve, optional
        A free end on a curve ``φ(x, f) = 0`` (the end's abscissa is an unknown; the domain's
        end is its initial guess).

    Notes
    -----
    After construction ``bc`` holds floats (scalar unknown) or arrays of the unknown's shape, so
    ``vc.Problem(G, domain, bc=other.bc)`` states the same conditions; ``bc_flat`` holds them
    flattened to shape ``(m,)`` (what the solver uses).

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
    order: int = 1
    params: object = None
    constraints: tuple = ()
    data: Data | None = None
    right_end: OnCurve | None = None
    left_end: OnCurve | None = None

    def __new__(cls, *args, **kwargs):
        # A planar domain (Rectangle, Polygon, Disk, Annulus, TriMesh) makes a 2-D problem: G(u, ∇u, x).
        domain = kwargs.get("domain", args[1] if len(args) > 1 else None)
        # Such a domain exists only once varcalc.planar.domain is imported: do not import the planar
        # layer (~0.27 s: SciPy's sparse solvers) for every 1-D problem.
        planar = sys.modules.get("varcalc.planar.domain")
        if planar is not None and isinstance(domain, planar.DOMAINS):
            from .planar import PlanarProblem

            return PlanarProblem(*args, **kwargs)
        return super().__new__(cls)

    def __post_init__(self):
        if not callable(self.integrand):
            raise TypeError(
                f"integrand: expected a callable G(f, df, x) returning a scalar, got {type(self.integrand).__name__}"
            )
        if self.order not in (1, 2) or isinstance(self.order, bool):
            raise ValueError(f"order: expected 1 (G(f, df, x)) or 2 (G(f, df, d2f, x)), got {self.order!r}")
        object.__setattr__(self, "domain", _check_domain(self.domain))
        bc, shape_from_bc = _check_bc(self.bc, self.order)
        shape = _check_components(self.components)
        if shape is not None and shape_from_bc is not None and shape != shape_from_bc:
            raise ValueError(f"bc: values have shape {shape_from_bc} but components={self.components}")
        shape = shape if shape is not None else (shape_from_bc if shape_from_bc is not None else ())
        m = int(np.prod(shape, dtype=int))
        # Public: values in the unknown's shape (a float for a scalar unknown), so that
        # Problem(G, domain, bc=other.bc) states the same problem.  Internal: flat, shape (m,).
        flat = {k: np.broadcast_to(v, shape).reshape(m).copy() for k, v in bc.items()}
        object.__setattr__(self, "bc", {k: (float(v[0]) if shape == () else v.reshape(shape)) for k, v in flat.items()})
        object.__setattr__(self, "bc_flat", flat)
        object.__setattr__(self, "components", m)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "_vector", shape != ())
        self._check_side_conditions()
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

    def _check_side_conditions(self):
        from .sides import check_door, constraint_types

        types = constraint_types()  # the registered side conditions (varcalc.sides)
        names = [f"vc.{t.__name__}" for t in types]
        expected = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        cons = self.constraints
        if isinstance(cons, types):
            cons = (cons,)
        try:
            cons = tuple(cons)
        except TypeError:
            raise TypeError(
                f"constraints: expected a list of vc.{'/'.join(t.__name__ for t in types)}, got {cons!r}"
            ) from None
        for c in cons:
            if not isinstance(c, types):
                raise TypeError(f"constraints: expected {expected}, got {c!r}")
        # Default names: integral0, pointwise0, bound0, ... in order of appearance.
        counts: dict[str, int] = {}
        named = []
        for c in cons:
            kind = type(c).__name__.lower()
            if c.name is None:
                object.__setattr__(c, "name", f"{kind}{counts.get(kind, 0)}")
            counts[kind] = counts.get(kind, 0) + 1
            named.append(c.name)
        dup = {n for n in named if named.count(n) > 1}
        if dup:
            raise ValueError(f"constraints: names must be distinct, got {sorted(dup)} more than once")
        object.__setattr__(self, "constraints", cons)
        # What each kind supports (orders, count, combinations) is declared by its side object.
        check_door(self)
        if self.left_end is not None and self.left_end is self.right_end:
            raise ValueError("left_end, right_end: give each end its own vc.OnCurve(...)")

    @property
    def is_vector(self) -> bool:
        """True when the unknown is not a scalar: ``f(x) ∈ R^m`` (even ``m = 1``) or a matrix."""
        return self._vector

    @property
    def free_ends(self) -> tuple[str, ...]:
        """The ends without a Dirichlet value (natural boundary condition there)."""
        return tuple(k for k in ("left", "right") if k not in self.bc)

    def end_curve(self, end: str) -> OnCurve | None:
        """The :class:`OnCurve` condition of ``end`` (``"left"``/``"right"``), or None."""
        return self.left_end if end == "left" else self.right_end

    @property
    def integrals(self) -> tuple:
        return tuple(c for c in self.constraints if isinstance(c, Integral))

    @property
    def pointwise(self) -> tuple:
        return tuple(c for c in self.constraints if isinstance(c, Pointwise))

    @property
    def bound(self) -> Bound | None:
        """The :class:`Bound` constraint on the values of ``f`` (``derivative=0``), or None."""
        return next((c for c in self.constraints if isinstance(c, Bound) and c.derivative == 0), None)

    @property
    def slope_bound(self) -> Bound | None:
        """The :class:`Bound` constraint on ``f'`` (``derivative=1``), or None."""
        return next((c for c in self.constraints if isinstance(c, Bound) and c.derivative == 1), None)

    def __repr__(self) -> str:
        bc = {k: (v.tolist() if self.is_vector else v) for k, v in self.bc.items()}
        return (
            f"Problem(name={self.name!r}, integrand={getattr(self.integrand, '__name__', '?')}, "
            f"domain={self.domain}, bc={bc}, components={self.components})"
        )


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


def _check_components(components):
    """``components`` as a shape tuple (``m`` -> ``(m,)``), or None."""
    if components is None:
        return None
    dims = components if isinstance(components, (tuple, list)) else (components,)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"components: expected a positive integer or a shape tuple, got {components!r}")
    if len(dims) == 0:
        raise ValueError("components: expected a positive integer or a non-empty shape tuple, got ()")
    return tuple(int(d) for d in dims)


def _check_bc(bc, order):
    """Validated Dirichlet values as float arrays, and the unknown's shape they imply (or None)."""
    if bc is None:
        bc = {}
    if not isinstance(bc, Mapping):
        raise TypeError(f"bc: expected a dict with keys 'left' and/or 'right', got {type(bc).__name__}")
    allowed = _BC_KEYS if order == 2 else _BC_KEYS[:2]
    unknown = [k for k in bc if k not in allowed]
    if unknown:
        extra = ' and the slopes "left\'", "right\'"' if order == 2 else ""
        hint = " (slope conditions need order=2)" if any(k in _BC_KEYS for k in unknown) else ""
        raise ValueError(
            f"bc: unknown key(s) {unknown}{hint}; expected 'left' and/or 'right'{extra} "
            "(leave an end out for a free end with the natural boundary condition)"
        )
    shapes, out = set(), {}
    for k, v in bc.items():
        if isinstance(v, (str, bytes)) or callable(v):
            raise TypeError(f"bc[{k!r}]: expected a number or an array of numbers, got {v!r}")
        try:
            arr = np.asarray(v)
        except ValueError:
            raise ValueError(f"bc[{k!r}]: expected a number or a (rectangular) array, got {v!r}") from None
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
            raise TypeError(f"bc[{k!r}]: expected real number(s), got {v!r}")
        arr = arr.astype(np.float64)
        if arr.ndim >= 1 and arr.size == 0:
            raise ValueError(f"bc[{k!r}]: expected a number or a non-empty array, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"bc[{k!r}]: expected finite value(s), got {v!r}")
        shapes.add(arr.shape)
        out[k] = arr
    if len(shapes) > 1:
        if () in shapes:
            raise ValueError("bc: one end is a sequence (array) and the other a number; give both as sequences")
        raise ValueError(f"bc: the values have different lengths (shapes) {sorted(shapes)}")
    shape = shapes.pop() if shapes else None
    return out, shape
