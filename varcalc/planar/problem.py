"""``PlanarProblem``: an energy density ``G(u, ∇u, x)`` on a planar domain with Dirichlet data."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .domain import DOMAINS as _DOMAINS
from .domain import Annulus, Disk, Polygon, Rectangle, TriMesh

if TYPE_CHECKING:  # imported where used at run time
    from ..constraints import Bound, Integral

__all__ = ["PlanarProblem"]


class PlanarProblem:
    """Minimise ``J[u] = ∫_Ω G(u, ∇u, x) dx`` over ``u: Ω ⊂ R² → R`` (or ``R^m``).

    Parameters
    ----------
    integrand : callable
        ``G(u, grad_u, x)`` (or ``G(u, grad_u, x, p)`` with ``params``) written with
        ``jax.numpy``: ``u`` scalar (or shape (m,)), ``grad_u`` shape (2,) (or (m, 2), row i the
        gradient of component i), ``x`` shape (2,); returns a scalar.
    domain : Rectangle, Polygon, Disk, Annulus or TriMesh
    bc : callable or dict or None
        Dirichlet data.  A callable ``g(points)`` (points shape (k, 2) -> shape (k,) or (k, m))
        applies on the whole boundary; a dict maps a boundary part name (``"left"``, ``"outer"``,
        ``"hole0"``, ...; see the domain) or a selector callable ``points (k, 2) -> bool (k,)`` to
        such a ``g`` (or to a constant).  Boundary not covered is free: the natural boundary
        condition ``∂G/∂(∇u) · n = 0`` holds there.
    components : int, optional
        ``m`` for a vector unknown (default: scalar).
    exact : callable, optional
        Exact minimiser ``points (k, 2) -> (k,)`` or ``(k, m)``, for ``Solution.error()``.
    exact_value : float, optional
        Exact minimum of ``J``.
    name : str, optional
    params : pytree, optional
        Default parameters passed as ``p`` (the integrand then takes four arguments).
    constraints : sequence of vc.Bound / vc.Integral, optional
        Side conditions, as in 1-D: ``vc.Bound(lower=psi, upper=...)`` (an obstacle: ``psi`` a
        number or a vectorised ``psi(points (k, 2)) -> (k,)``, imposed at the nodes, which for P1
        is the constraint itself) and ``vc.Integral(H, value)`` (``∫_Ω H(u, ∇u, x) dx = value``,
        ``H`` with the integrand's signature; its Lagrange multiplier is returned in
        ``sol.multipliers[name]``).  One Bound, or any number of Integrals (not both).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from varcalc.planar import PlanarProblem, Rectangle, solve_planar
    >>> G = lambda u, du, x: 0.5 * du @ du - u               # -Δu = 1
    >>> p = PlanarProblem(G, Rectangle((0, 1), (0, 1)), bc=lambda x: np.zeros(len(x)))
    >>> sol = solve_planar(p, n=9)
    >>> sol.converged, round(float(sol(np.array([[0.5, 0.5]]))[0]), 3)   # exact 0.07367
    (True, 0.073)
    """

    def __init__(
        self,
        integrand: Callable[..., Any],
        domain: Rectangle | Polygon | Disk | Annulus | TriMesh,
        bc: Callable[..., Any] | Mapping[str, Any] | None = None,
        *,
        components: int | None = None,
        exact: Callable[..., Any] | None = None,
        exact_value: float | None = None,
        name: str | None = None,
        params: Any = None,
        constraints: Sequence[Bound | Integral] = (),
    ) -> None:
        if not callable(integrand):
            raise TypeError(f"integrand: expected a callable G(u, grad_u, x), got {type(integrand).__name__}")
        if not isinstance(domain, _DOMAINS):
            raise TypeError(
                "domain: expected varcalc.planar.Rectangle, Polygon, Disk, Annulus or TriMesh, "
                f"got {type(domain).__name__}"
            )
        if components is not None:
            if isinstance(components, bool) or not isinstance(components, (int, np.integer)) or components < 1:
                raise ValueError(f"components: expected a positive integer, got {components!r}")
            components = int(components)
        self.integrand = integrand
        self.domain = domain
        self.components = components
        self.shape = () if components is None else (components,)
        self.bc = self._check_bc(bc)
        for label, f in (("exact", exact),):
            if f is not None and not callable(f):
                raise TypeError(f"{label}: expected a callable of points (k, 2), got {type(f).__name__}")
        self.exact = exact
        if exact_value is not None:
            try:
                exact_value = float(exact_value)
            except (TypeError, ValueError):
                raise TypeError(f"exact_value: expected a number, got {exact_value!r}") from None
        self.exact_value = exact_value
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, got {type(name).__name__}")
        self.name = name or "problem"
        self.params = params
        self.with_params = self._arity() == 4 or params is not None
        self._probe(params)
        self.constraints = self._check_constraints(constraints, params)

    def __repr__(self):
        return f"PlanarProblem({self.name!r}, domain={self.domain!r}, shape={self.shape})"

    def _check_constraints(self, constraints, params):
        from ..constraints import Bound, Integral

        if isinstance(constraints, (Bound, Integral)):
            constraints = (constraints,)
        try:
            cons = tuple(constraints)
        except TypeError:
            raise TypeError(f"constraints: expected a list of vc.Bound / vc.Integral, got {constraints!r}") from None
        counts = {}
        for c in cons:
            if not isinstance(c, (Bound, Integral)):
                raise TypeError(f"constraints: a planar problem takes vc.Bound and vc.Integral, got {c!r}")
            if isinstance(c, Bound) and c.derivative != 0:
                raise ValueError(
                    "constraints: Bound(derivative=1) (slope bounds) is 1-D only; a planar Bound bounds the values u"
                )
            kind = type(c).__name__.lower()
            if c.name is None:  # default names as in 1-D: bound0, integral0, integral1, ...
                object.__setattr__(c, "name", f"{kind}{counts.get(kind, 0)}")
            counts[kind] = counts.get(kind, 0) + 1
            if isinstance(c, Integral):
                self._probe(params, c.fun, f"Integral {c.name!r}")
        if counts.get("bound", 0) > 1:
            raise ValueError("constraints: at most one vc.Bound (give lower= and upper= in one)")
        if counts.get("bound", 0) and counts.get("integral", 0):
            raise ValueError("constraints: a planar problem takes a Bound or Integrals, not both yet")
        names = [c.name for c in cons]
        if len(set(names)) != len(names):
            raise ValueError(f"constraints: names must be distinct, got {names}")
        return cons

    @property
    def bound(self) -> Bound | None:
        """The :class:`~varcalc.Bound` constraint, or None."""
        from ..constraints import Bound

        return next((c for c in self.constraints if isinstance(c, Bound)), None)

    @property
    def integrals(self) -> tuple:
        from ..constraints import Integral

        return tuple(c for c in self.constraints if isinstance(c, Integral))

    def bound_values(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` at ``points`` (k, 2), each of shape (k,) + shape (±inf where absent)."""
        from ..constraints import _bound_values

        full = (len(points),) + self.shape
        b = self.bound
        lo = _bound_values("lower", b.lower, points, full)
        hi = _bound_values("upper", b.upper, points, full)
        lo = np.full(full, -np.inf) if lo is None else lo
        hi = np.full(full, np.inf) if hi is None else hi
        if np.any(lo > hi):
            raise ValueError("Bound: lower > upper at some nodes")
        return lo, hi

    def _arity(self):
        try:
            sig = inspect.signature(self.integrand)
        except (TypeError, ValueError):
            return 3
        pos = [
            p
            for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        return 4 if len(pos) >= 4 else 3

    def _check_bc(self, bc):
        if bc is None:
            return {}
        if callable(bc) and not isinstance(bc, dict):
            return {"__all__": bc}
        if not isinstance(bc, dict):
            raise TypeError(f"bc: expected a callable g(points), a dict {{part: g}} or None, got {type(bc).__name__}")
        names = getattr(self.domain, "part_names", ())
        out = {}
        for key, g in bc.items():
            if isinstance(key, str):
                if key not in names:
                    raise ValueError(
                        f"bc: unknown boundary part {key!r}; this domain has {', '.join(names)} "
                        "(or use a callable selector points -> bool as the key)"
                    )
            elif not callable(key):
                raise TypeError(f"bc: keys must be part names or callables points -> bool, got {key!r}")
            if not callable(g):
                try:
                    c = np.asarray(g, dtype=np.float64)
                except (TypeError, ValueError):
                    raise TypeError(f"bc[{key!r}]: expected a callable g(points) or a constant, got {g!r}") from None
                if c.shape != self.shape:
                    raise ValueError(f"bc[{key!r}]: expected a constant of shape {self.shape}, got shape {c.shape}")
                g = (lambda c: lambda p: np.broadcast_to(c, (len(p),) + c.shape).copy())(c)
            out[key] = g
        return out

    def _probe(self, params, fun=None, what="integrand"):
        """Call G (or ``fun``) once on zeros: it must return a finite-dtype float scalar."""
        fun = self.integrand if fun is None else fun
        u = jnp.zeros(self.shape)
        du = jnp.zeros(self.shape + (2,))
        x = jnp.zeros(2)
        args = (u, du, x) + ((params,) if self.with_params else ())
        try:
            out = jax.eval_shape(fun, *args)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise TypeError(
                f"{what}: calling G(u, grad_u, x{', p' if self.with_params else ''}) with u shape "
                f"{self.shape}, grad_u shape {self.shape + (2,)}, x shape (2,) failed: {exc}"
            ) from exc
        if out.shape != ():
            raise ValueError(f"{what}: G must return a scalar, got shape {out.shape}")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise TypeError(f"{what}: G must return a float, got dtype {out.dtype}")

    def dirichlet(self, points: np.ndarray, on_boundary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dirichlet mask (k,) and values (k,) + shape at ``points`` (k, 2), given which points are on
        the boundary (bool (k,)).  Later dict entries win where parts overlap."""
        k = len(points)
        mask = np.zeros(k, bool)
        vals = np.zeros((k,) + self.shape)
        if not self.bc:
            return mask, vals
        parts = self.domain.boundary_parts(points)
        for key, g in self.bc.items():
            if isinstance(key, str):
                sel = on_boundary if key == "__all__" else (on_boundary & parts[key])
            else:
                s = np.asarray(key(points[on_boundary]))
                if s.shape != (int(on_boundary.sum()),):
                    raise ValueError(
                        f"bc: selector {key!r} must return a bool array of shape (k,), got shape {s.shape}"
                    )
                sel = np.zeros(k, bool)
                sel[on_boundary] = s.astype(bool)
            if not sel.any():
                continue
            v = np.asarray(g(points[sel]), dtype=np.float64)
            want = (int(sel.sum()),) + self.shape
            if v.shape != want:
                v = v.reshape(want) if v.size == np.prod(want) else None
                if v is None:
                    raise ValueError(
                        f"bc: g for part {key if isinstance(key, str) else 'selector'!r} must return shape {want}"
                    )
            if not np.all(np.isfinite(v)):
                raise ValueError(f"bc: Dirichlet data for {key!r} contains NaN or inf")
            mask |= sel
            vals[sel] = v
        return mask, vals
