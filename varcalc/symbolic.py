"""The Euler–Lagrange equation of a user's integrand, symbolically (optional: needs SymPy).

The integrand stays what the user wrote for the solver: a ``jax.numpy`` function.  It is traced
once with :func:`jax.make_jaxpr` on abstract float64 arguments of the unknown's shape, and the
jaxpr is translated equation by equation into SymPy (elementary functions, ``max``/``min``,
``where`` → ``Piecewise``, slicing, small vector and matrix algebra, ``jnp.linalg.inv``/``det``/
``solve`` of small matrices).  SymPy then forms

    ∂L/∂f − d/dx ∂L/∂f′ (+ d²/dx² ∂L/∂f″ for ``order=2``) = 0,   L = G + Σ λ_k H_k + Σ μ_j(x) g_j,

per component (``H_k``: :class:`~varcalc.Integral` constraints with constant multipliers ``λ_k``;
``g_j``: :class:`~varcalc.Pointwise` constraints with multiplier functions ``μ_j(x)``), solves it
for the highest derivative where that is linear and invertible, and, when ``L`` does not depend on
``x``, gives the first integral (Beltrami identity) ``L − f′·∂L/∂f′ = C``.

This is a display: the numerical solve (:func:`varcalc.solve`) never uses it.  An integrand built
from something without a symbolic form (a ``lax.scan``, a sort, an FFT, ``stop_gradient``, Python
branching on a value) gets a :class:`NotImplementedError` that names the JAX primitive and the
source line it came from.

Constants become exact where the float is the correctly rounded value of a simple number: a
fraction with denominator at most 1000 (``0.5`` → 1/2, ``9.81`` → 981/100) or a rational
multiple of π with denominator at most 12 (``2 * jnp.pi`` → 2π); any other constant stays a
float.

>>> import jax.numpy as jnp, varcalc as vc
>>> el = vc.euler_lagrange(lambda f, df, x: 0.5 * df**2 - 2.0 * f**2)
>>> print(el.equations[0])
Eq(Derivative(f(x), (x, 2)), -4*f(x))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported on first use at run time (cycle)
    from .problem import Problem

__all__ = ["euler_lagrange", "EulerLagrange"]

_INSTALL = 'pip install "varcalc[symbolic]"  (or: pip install sympy)'
_UNAFFECTED = "The numerical solve (vc.solve) does not need the symbolic form and is unaffected."

# Call-like primitives whose body is a sub-jaxpr with the same inputs and outputs (recursed into).
_CALLS = (
    "pjit",
    "jit",
    "closed_call",
    "core_call",
    "custom_jvp_call",
    "custom_vjp_call",
    "custom_vjp_call_jaxpr",
    "remat",
    "remat2",
    "checkpoint",
)
_SUBJAXPR_KEYS = ("jaxpr", "call_jaxpr", "fun_jaxpr")
_MAX_SOLVE = 3  # solve for the highest derivatives symbolically for at most 3 coupled components
_MAX_OPS = 400  # larger expressions are left as they are: simplify() would take minutes
# An integrand with more scalar operations than this (a sample average over many parameter values,
# a large matrix) has no readable symbolic form and would take SymPy minutes: refused with a message.
_MAX_SCALAR_OPS = 400
_COUNTED = (
    "integer_pow",
    "div",
    "clamp",
    "select_n",
    "dot_general",
    "reduce_sum",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "cumsum",
    "cumprod",
)


def _sympy():
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"vc.euler_lagrange needs SymPy, an optional extra: {_INSTALL}") from exc
    return sympy


class _Unsupported(NotImplementedError):
    """Raised inside the translation; re-raised with the source line at the top."""

    def __init__(self, primitive, where=None, detail=""):
        super().__init__(primitive)
        self.primitive, self.where, self.detail = primitive, where, detail


class _TooLarge(Exception):
    def __init__(self, ops):
        super().__init__(ops)
        self.ops = ops


def _where(eqn):
    try:  # private but stable for years; only used to point the user at a line
        from jax._src import source_info_util

        return source_info_util.summarize(eqn.source_info) or None  # '' inside jnp's own jits
    except Exception:  # noqa: BLE001 - the line is a courtesy, never a reason to fail
        return None


try:  # the public home of Literal since jax 0.4.36
    from jax.extend.core import Literal as _Literal
except ImportError:  # pragma: no cover - older jax
    from jax.core import Literal as _Literal


class _Translator:
    """Evaluate a jaxpr on numpy object arrays of SymPy expressions (shape = the aval's shape)."""

    def __init__(self, sp):
        self.sp = sp
        self.ops = 0  # scalar operations translated so far (see _MAX_SCALAR_OPS)
        S = sp
        self.unary = {
            "neg": lambda a: -a,
            "sqrt": S.sqrt,
            "rsqrt": lambda a: 1 / S.sqrt(a),
            "cbrt": lambda a: S.real_root(a, 3),
            "exp": S.exp,
            "exp2": lambda a: 2**a,
            "log": S.log,
            "log1p": lambda a: S.log(1 + a),
            "expm1": lambda a: S.exp(a) - 1,
            "sin": S.sin,
            "cos": S.cos,
            "tan": S.tan,
            "asin": S.asin,
            "acos": S.acos,
            "atan": S.atan,
            "sinh": S.sinh,
            "cosh": S.cosh,
            "tanh": S.tanh,
            "asinh": S.asinh,
            "acosh": S.acosh,
            "atanh": S.atanh,
            "abs": S.Abs,
            "sign": S.sign,
            "floor": S.floor,
            "ceil": S.ceiling,
            "logistic": lambda a: 1 / (1 + S.exp(-a)),
            "erf": S.erf,
            "erfc": S.erfc,
            "square": lambda a: a**2,
            "copy": lambda a: a,
            "copy_p": lambda a: a,
            "real": lambda a: a,
            "not": S.Not,
            "optimization_barrier": lambda a: a,
        }
        self.binary = {
            "add": lambda a, b: a + b,
            "sub": lambda a, b: a - b,
            "mul": lambda a, b: a * b,
            "pow": lambda a, b: a**b,
            "atan2": S.atan2,
            "max": S.Max,
            "min": S.Min,
            "lt": S.Lt,
            "le": S.Le,
            "gt": S.Gt,
            "ge": S.Ge,
            "eq": S.Eq,
            "ne": S.Ne,
            "and": S.And,
            "or": S.Or,
        }

    # -- constants ----------------------------------------------------------------------------
    def number(self, c):
        sp = self.sp
        if isinstance(c, (bool, np.bool_)):
            return sp.true if c else sp.false
        if isinstance(c, (int, np.integer)):
            return sp.Integer(int(c))
        c = float(c)
        if not math.isfinite(c):
            return sp.nan if math.isnan(c) else (sp.oo if c > 0 else -sp.oo)
        r = Fraction(c).limit_denominator(1000)
        if float(r) == c:  # c is the double nearest to a simple fraction: take the fraction
            return sp.Rational(r.numerator, r.denominator)
        r = Fraction(c / math.pi).limit_denominator(12)
        if r != 0 and abs(float(r) * math.pi - c) <= 2 * math.ulp(c):
            return sp.Rational(r.numerator, r.denominator) * sp.pi
        return sp.Float(c)

    def const(self, value):
        arr = np.asarray(value)
        out = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            out[idx] = self.number(arr[idx].item() if arr.dtype != bool else bool(arr[idx]))
        return out

    # -- evaluation ---------------------------------------------------------------------------
    def run(self, closed, args):
        return self.eval(closed.jaxpr, closed.consts, args)

    def eval(self, jaxpr, consts, args):
        env = {}

        def read(v):
            return self.const(v.val) if isinstance(v, _Literal) else env[v]

        for v, c in zip(jaxpr.constvars, consts):
            env[v] = self.const(c)
        for v, a in zip(jaxpr.invars, args):
            env[v] = a
        for eqn in jaxpr.eqns:
            ins = [read(v) for v in eqn.invars]
            try:
                outs = self.apply(eqn, ins)
            except _Unsupported as exc:
                if exc.where is None:
                    exc.where = _where(eqn)
                raise
            if not eqn.primitive.multiple_results:
                outs = [outs]
            for v, o in zip(eqn.outvars, outs):
                env[v] = np.asarray(o, dtype=object).reshape(v.aval.shape)
        return [read(v) for v in jaxpr.outvars]

    def apply(self, eqn, ins):
        sp, name, p = self.sp, eqn.primitive.name, eqn.params
        out_dtype = eqn.outvars[0].aval.dtype if eqn.outvars else None
        if name in self.unary or name in self.binary or name in _COUNTED:
            self.ops += sum(math.prod(v.aval.shape) for v in eqn.outvars)
            if self.ops > _MAX_SCALAR_OPS:
                raise _TooLarge(self.ops)
        if name in self.unary:
            return np.frompyfunc(self.unary[name], 1, 1)(ins[0])
        if name == "integer_pow":
            return np.frompyfunc(lambda a: a ** p["y"], 1, 1)(ins[0])
        if name == "div":
            if np.issubdtype(out_dtype, np.integer):
                return np.frompyfunc(lambda a, b: self._int_div(a, b, eqn), 2, 1)(*ins)
            return np.frompyfunc(lambda a, b: a / b, 2, 1)(*ins)
        if name in self.binary:
            return np.frompyfunc(self.binary[name], 2, 1)(*ins)
        if name == "clamp":
            return np.frompyfunc(lambda lo, a, hi: sp.Min(sp.Max(a, lo), hi), 3, 1)(*ins)
        if name == "select_n":
            return np.frompyfunc(self._select, len(ins), 1)(*ins)
        if name == "convert_element_type":
            return self._convert(ins[0], eqn.invars[0].aval.dtype, p["new_dtype"], eqn)
        if name in ("reduce_precision",):
            return ins[0]
        if name == "iota":
            shape, dim = p["shape"], p["dimension"]
            idx = np.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])
            return self.const(np.broadcast_to(idx, shape))
        if name == "broadcast_in_dim":
            a, shape = ins[0], tuple(p["shape"])
            tmp = [1] * len(shape)
            for i, d in enumerate(p["broadcast_dimensions"]):
                tmp[d] = a.shape[i]
            return np.broadcast_to(a.reshape(tmp), shape).copy()
        if name == "reshape":
            return ins[0].reshape(tuple(p["new_sizes"]))
        if name == "squeeze":
            return ins[0].reshape(eqn.outvars[0].aval.shape)
        if name == "transpose":
            return np.transpose(ins[0], p["permutation"])
        if name == "rev":
            return np.flip(ins[0], axis=tuple(p["dimensions"]))
        if name == "slice":
            strides = p["strides"] or (1,) * len(p["start_indices"])
            return ins[0][tuple(slice(s, e, k) for s, e, k in zip(p["start_indices"], p["limit_indices"], strides))]
        if name == "dynamic_slice":
            a, starts = ins[0], [self._index(s, eqn) for s in ins[1 : 1 + ins[0].ndim]]
            sizes = p["slice_sizes"]
            starts = [min(max(s, 0), n - k) for s, n, k in zip(starts, a.shape, sizes)]  # lax clamps
            return a[tuple(slice(s, s + k) for s, k in zip(starts, sizes))]
        if name == "dynamic_update_slice":
            a, u = ins[0].copy(), ins[1]
            starts = [self._index(s, eqn) for s in ins[2 : 2 + a.ndim]]
            starts = [min(max(s, 0), n - k) for s, n, k in zip(starts, a.shape, u.shape)]
            a[tuple(slice(s, s + k) for s, k in zip(starts, u.shape))] = u
            return a
        if name == "stack":
            return np.stack(ins, axis=p["axis"])
        if name == "split":
            cuts = np.cumsum(p["sizes"])[:-1]
            return np.split(ins[0], cuts, axis=p["axis"])
        if name == "concatenate":
            return np.concatenate(ins, axis=p["dimension"])
        if name == "dot_general":
            return self._dot_general(ins[0], ins[1], p["dimension_numbers"])
        if name == "reduce_sum":
            return np.sum(ins[0], axis=tuple(p["axes"])) if p["axes"] else ins[0]
        if name in ("reduce_max", "reduce_min", "reduce_prod"):
            op = {"reduce_max": sp.Max, "reduce_min": sp.Min, "reduce_prod": sp.Mul}[name]
            return self._reduce(ins[0], tuple(p["axes"]), op)
        if name in ("cumsum", "cumprod"):
            a = np.flip(ins[0], p["axis"]) if p["reverse"] else ins[0]
            a = (np.cumsum if name == "cumsum" else np.cumprod)(a, axis=p["axis"])
            return np.flip(a, p["axis"]) if p["reverse"] else a
        if name == "cond":
            return self._cond(ins, p["branches"], eqn)
        if name in _CALLS:
            return self._call(eqn, ins)
        raise _Unsupported(name)

    # -- helpers ------------------------------------------------------------------------------
    def _int_div(self, a, b, eqn):
        if a.is_Integer and b.is_Integer and b != 0:
            q = abs(int(a)) // abs(int(b))  # lax.div on integers rounds toward zero
            return self.sp.Integer(q if (a >= 0) == (b > 0) else -q)
        raise _Unsupported("div", detail="integer division of a value that depends on the unknowns")

    def _index(self, s, eqn):
        s = s.reshape(()).item() if isinstance(s, np.ndarray) else s
        if not getattr(s, "is_Integer", False):
            raise _Unsupported(eqn.primitive.name, detail="an index that depends on the unknowns")
        return int(s)

    def _select(self, pred, *cases):
        sp = self.sp
        if pred is sp.true or pred is sp.false:
            return cases[int(bool(pred))]
        if getattr(pred, "is_Integer", False):
            return cases[int(pred)]
        if len(cases) == 2 and isinstance(pred, sp.logic.boolalg.Boolean):
            return sp.piecewise_fold(sp.Piecewise((cases[1], pred), (cases[0], True)))
        pieces = [(c, self._is_index(pred, i)) for i, c in enumerate(cases[:-1])]
        return sp.Piecewise(*pieces, (cases[-1], True))

    def _is_index(self, index, i):
        """The condition ``index == i``, unwrapping an index made from a boolean."""
        sp = self.sp
        if isinstance(index, sp.Piecewise) and len(index.args) == 2 and index.args[1].cond == sp.true:
            (v1, c1), (v0, _) = index.args
            if {v1, v0} == {sp.Integer(0), sp.Integer(1)}:
                return c1 if v1 == i else sp.Not(c1)
        return sp.Eq(index, i)

    def _convert(self, a, old, new, eqn):
        sp = self.sp
        old, new = np.dtype(old), np.dtype(new)
        if old == np.dtype(bool) and new != np.dtype(bool):
            return np.frompyfunc(
                lambda c: (
                    sp.Integer(1)
                    if c is sp.true
                    else sp.Integer(0)
                    if c is sp.false
                    else sp.Piecewise((1, c), (0, True))
                ),
                1,
                1,
            )(a)
        if new == np.dtype(bool) and old != np.dtype(bool):
            return np.frompyfunc(lambda c: sp.Ne(c, 0), 1, 1)(a)
        if np.issubdtype(new, np.integer) and not np.issubdtype(old, np.integer):

            def trunc(c):
                if c.is_Number:
                    return sp.Integer(int(c))
                raise _Unsupported(
                    "convert_element_type", detail="a float converted to an integer (truncation of the unknowns)"
                )

            return np.frompyfunc(trunc, 1, 1)(a)
        return a

    def _dot_general(self, a, b, dims):
        (lc, rc), (lb, rb) = dims
        letters = iter("abcdefghijklmnopqrstuvwxyz")
        sa = [next(letters) for _ in range(a.ndim)]
        sb = [None] * b.ndim
        for i, j in zip(lc, rc):
            sb[j] = sa[i]
        for i, j in zip(lb, rb):
            sb[j] = sa[i]
        sb = [s if s is not None else next(letters) for s in sb]
        out = (
            [sa[i] for i in lb]
            + [s for i, s in enumerate(sa) if i not in lc and i not in lb]
            + [s for j, s in enumerate(sb) if j not in rc and j not in rb]
        )
        spec = f"{''.join(sa)},{''.join(sb)}->{''.join(out)}"
        return np.asarray(np.einsum(spec, a, b), dtype=object)

    def _reduce(self, a, axes, op):
        keep = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(a, keep + list(axes)).reshape([a.shape[i] for i in keep] + [-1])
        out = np.empty(moved.shape[:-1], dtype=object)
        for idx in np.ndindex(out.shape):
            out[idx] = op(*moved[idx])
        return out

    def _cond(self, ins, branches, eqn):
        index, ops = ins[0].reshape(()).item(), ins[1:]
        results = [self.run(br, ops) for br in branches]
        if getattr(index, "is_Integer", False):
            return results[int(index)]
        outs = []
        for k in range(len(results[0])):
            stacked = [r[k] for r in results]
            pick = lambda *cs: self.sp.Piecewise(
                *[(c, self._is_index(index, i)) for i, c in enumerate(cs[:-1])], (cs[-1], True)
            )
            outs.append(np.frompyfunc(pick, len(stacked), 1)(*stacked))
        return outs

    def _call(self, eqn, ins):
        p = eqn.params
        sub = next((p[k] for k in _SUBJAXPR_KEYS if k in p), None)
        if sub is None:
            raise _Unsupported(eqn.primitive.name)
        try:
            if hasattr(sub, "consts"):
                outs = self.run(sub, ins)
            else:
                outs = self.eval(sub, (), ins)
        except _Unsupported:
            outs = self._linalg(p.get("name"), ins)  # jnp.linalg.inv/det/solve of a small matrix
            if outs is None:
                raise
        return outs if eqn.primitive.multiple_results else outs[0]

    def _linalg(self, name, ins):
        sp = self.sp
        if name not in ("inv", "det", "solve") or not ins or ins[0].ndim != 2:
            return None
        n = ins[0].shape[0]
        if ins[0].shape != (n, n) or n > 4:
            return None
        A = sp.Matrix(ins[0].tolist())
        if name == "det":
            return [np.asarray(A.det(), dtype=object)]
        Ainv = A.inv()
        if name == "inv":
            return [np.array(Ainv.tolist(), dtype=object)]
        b = ins[1]
        B = sp.Matrix(b.reshape(n, -1).tolist())
        return [np.array((Ainv * B).tolist(), dtype=object).reshape(b.shape)]


@dataclass(frozen=True, eq=False, repr=False)
class EulerLagrange:
    """The Euler–Lagrange equation(s) of an integrand, as SymPy objects.

    Attributes
    ----------
    integrand : sympy.Expr
        ``G`` in terms of ``f(x)``, its derivatives and ``x`` (vector components ``f1(x), f2(x), …``;
        matrix entries ``f11(x), f12(x), …``).
    lagrangian : sympy.Expr
        ``G + Σ λ_k H_k + Σ μ_j(x) g_j`` (equal to ``integrand`` without constraints).
    equations : list of sympy.Eq
        One per component: solved for the highest derivative (``f'' = …``, ``f'''' = …``) where
        the equation is linear in it with an invertible coefficient, else ``E = 0``.
    residuals : list of sympy.Expr
        The Euler–Lagrange expressions ``∂L/∂f − d/dx ∂L/∂f′ (+ d²/dx² ∂L/∂f″)``, unsolved.
    first_integral : sympy.Eq or None
        ``L − f′·∂L/∂f′ = C`` (order 2: ``L − f′·(∂L/∂f′ − d/dx ∂L/∂f″) − f″·∂L/∂f″ = C``) when
        ``L`` does not depend on ``x``; None otherwise.
    x : sympy.Symbol
    functions : list of sympy function applications ``f_i(x)``
    params : dict
        Parameter name -> SymPy symbol (array of symbols for an array leaf).
    multipliers : dict
        Constraint name -> ``λ`` symbol (Integral) or ``μ(x)`` function(s) (Pointwise).
    notes : list of str
        What the equations do not show (obstacle contact, data sites, free ends).
    """

    integrand: object
    lagrangian: object
    equations: list
    residuals: list
    first_integral: object
    x: object
    functions: list
    order: int = 1
    params: dict = field(default_factory=dict)
    multipliers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def _display(self, expr):
        return _display(_sympy(), expr)

    def __repr__(self):
        n = len(self.equations)
        return (
            f"<EulerLagrange: {n} equation{'s' * (n != 1)}, order {self.order}, "
            f"first integral {'yes' if self.first_integral is not None else 'no'}; print() it>"
        )

    def _signature(self):
        args = {1: "f, f', x", 2: "f, f', f'', x"}[self.order]
        return f"G({args}{', p' if self.params else ''})"

    def __str__(self):
        sp = _sympy()
        show = lambda e: sp.sstr(self._display(e))
        lines = [f"{self._signature()} = {show(self.integrand)}"]
        if self.lagrangian != self.integrand:
            lines.append(f"Lagrangian L = {show(self.lagrangian)}")
        what = {1: "∂L/∂f - d/dx ∂L/∂f' = 0", 2: "∂L/∂f - d/dx ∂L/∂f' + d²/dx² ∂L/∂f'' = 0"}[self.order]
        lines.append(f"Euler–Lagrange equation{'s' * (len(self.equations) > 1)} ({what}):")
        lines += [f"  {show(e.lhs)} = {show(e.rhs)}" for e in self.equations]
        if self.first_integral is not None:
            lines.append("First integral (L does not depend on x):")
            lines.append(f"  {show(self.first_integral.lhs)} = {show(self.first_integral.rhs)}")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def latex(self) -> str:
        """The equations (and first integral) as one LaTeX ``aligned`` block, primes for derivatives."""
        sp = _sympy()

        def tex(e):
            e = self._display(e)
            names = {}
            for s in e.free_symbols:  # f1'' -> f_{1}'', f12 -> f_{12}
                base, primes = s.name.rstrip("'"), s.name[len(s.name.rstrip("'")) :]
                if base[:1] == "f" and base[1:].replace("_", "").isdigit():
                    names[s] = f"f_{{{base[1:]}}}{primes}"
            return sp.latex(e, symbol_names=names)

        rows = [f"{tex(e.lhs)} &= {tex(e.rhs)}" for e in self.equations]
        if self.first_integral is not None:
            rows.append(f"{tex(self.first_integral.lhs)} &= {tex(self.first_integral.rhs)}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self):
        return f"$${self.latex()}$$"


def _display(sp, expr):
    """``expr`` with ``f(x)`` → ``f`` and ``d^k f/dx^k`` → ``f'…'`` (plain symbols)."""
    reps = {}
    for d in expr.atoms(sp.Derivative):
        ((var, k),) = d.variable_count
        name = d.expr.func.__name__
        reps[d] = sp.Symbol(name + ("'" * k if k <= 4 else f"^({k})"))
    for fx in expr.atoms(sp.core.function.AppliedUndef):
        reps.setdefault(fx, sp.Symbol(fx.func.__name__))
    return expr.xreplace(reps)


def _shape(shape):
    from .problem import _check_components

    return () if shape is None or (isinstance(shape, tuple) and shape == ()) else _check_components(shape)


def _names(shape):
    """Component names: ``f`` (scalar), ``f1..fm`` (vector), ``f11, f12, …`` (matrix)."""
    if shape == ():
        return ["f"]
    sep = "" if max(shape) <= 9 else "_"
    return ["f" + sep.join(str(i + 1) for i in idx) for idx in np.ndindex(shape)]


def _param_symbols(sp, params, taken):
    """Symbols for the parameter pytree (named after the keys) and the array to pass to G."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    symbols, arrays = {}, []
    for path, leaf in leaves:
        keys = [getattr(k, "key", getattr(k, "idx", getattr(k, "name", k))) for k in path]
        full = "_".join(["p"] + [str(k) for k in keys])
        # p["g"] -> g, p.g -> g; p[0] -> p_0, p[1]["k"] -> k; the full path where names clash
        name = str(keys[-1]) if keys and isinstance(keys[-1], str) and keys[-1].isidentifier() else full
        name = full if name in taken else name
        while name in taken:
            name += "_"
        taken.add(name)
        shape = np.shape(leaf)
        if shape == ():
            arr = np.asarray(sp.Symbol(name, real=True), dtype=object)
            symbols[name] = arr.item()
        else:
            arr = np.empty(shape, dtype=object)
            for idx in np.ndindex(shape):
                arr[idx] = sp.Symbol(name + "_" + "_".join(map(str, idx)), real=True)
            symbols[name] = arr
        arrays.append(arr)
    return symbols, arrays, [np.shape(leaf) for _, leaf in leaves], treedef


def _trace(fun, what, arg_shapes, param_shapes, treedef):
    """``jax.make_jaxpr`` of ``fun`` on abstract float64 arguments."""
    import jax
    import jax.numpy as jnp

    avals = [jax.ShapeDtypeStruct(s, jnp.float64) for s in arg_shapes]
    if treedef is not None:
        avals.append(
            jax.tree_util.tree_unflatten(treedef, [jax.ShapeDtypeStruct(s, jnp.float64) for s in param_shapes])
        )
    try:
        return jax.make_jaxpr(fun)(*avals)
    except jax.errors.ConcretizationTypeError as exc:
        raise NotImplementedError(
            f"cannot form the Euler–Lagrange equation symbolically: {what} branches in Python on the "
            f"value of an argument (use jnp.where for a symbolic form). {_UNAFFECTED}\n{exc}"
        ) from None
    except Exception as exc:
        raise TypeError(
            f"{what}: calling it on abstract float64 arguments of shapes {arg_shapes} "
            f"raised {type(exc).__name__}: {exc}"
        ) from exc


def _translate(sp, fun, what, args, arg_shapes, params):
    _, arrays, pshapes, treedef = params
    closed = _trace(fun, what, arg_shapes, pshapes, treedef)
    try:
        (out,) = _Translator(sp).run(closed, list(args) + list(arrays))
    except _TooLarge:
        raise NotImplementedError(
            f"cannot form a readable Euler–Lagrange equation symbolically: {what} takes more than "
            f"{_MAX_SCALAR_OPS} scalar operations (arrays of many values, e.g. a sample average over "
            f"parameter values); state one term (e.g. one sample) for its symbolic form. {_UNAFFECTED}"
        ) from None
    except _Unsupported as exc:
        where = f" at {exc.where}" if exc.where else ""
        detail = f" ({exc.detail})" if exc.detail else ""
        raise NotImplementedError(
            f"cannot form the Euler–Lagrange equation symbolically: {what} uses the JAX primitive "
            f"{exc.primitive!r}{where}{detail}, which has no SymPy translation. {_UNAFFECTED}"
        ) from None
    return out


def _simplify(sp, expr):
    """``sympy.simplify`` for moderate smooth expressions; only ``together`` for ones with branches
    (Piecewise, Max, Abs, …: ``simplify`` takes seconds and splits cases); nothing for large ones."""
    if sp.count_ops(expr) > _MAX_OPS:  # e.g. a sample average over many parameter values
        return expr
    rough = (sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign, sp.floor, sp.ceiling)
    if expr.has(*rough):
        return sp.together(expr)
    return sp.simplify(expr)


def euler_lagrange(
    problem_or_integrand: Problem | Callable[..., Any],
    *,
    shape: int | tuple[int, ...] | None = None,
    order: int | None = None,
    params: Any = None,
) -> EulerLagrange:
    """The Euler–Lagrange equation(s) of an integrand, symbolically (needs SymPy).

    Parameters
    ----------
    problem_or_integrand : vc.Problem or callable
        A :class:`~varcalc.Problem` (its shape, order, params, Integral and Pointwise constraints
        are used), or an integrand ``G(f, df, x)`` / ``G(f, df, d2f, x)`` with optional params
        ``p`` last, written with ``jax.numpy``.
    shape : int or tuple of int, optional
        The unknown's shape for a bare integrand: ``()`` (default, scalar), ``m`` or ``(m,)`` for
        ``f ∈ R^m``, ``(k, l)`` for a matrix.
    order : {1, 2}, optional
        1 (default): ``G(f, df, x)``; 2: ``G(f, df, d2f, x)``.
    params : pytree, optional
        Parameters (only their tree structure and leaf shapes matter: they become symbols named
        after their keys, ``{"g": 9.81}`` → ``g``, a list → ``p_0, p_1``).  For a Problem,
        defaults to ``problem.params``.

    Returns
    -------
    EulerLagrange
        ``.equations`` (list of ``sympy.Eq``), ``.first_integral``, ``.integrand``; ``str()`` is
        readable text, ``.latex()`` LaTeX.

    Raises
    ------
    NotImplementedError
        When the integrand uses a JAX operation without a symbolic form; the message names the
        primitive and the source line.  The numerical solve is unaffected.
    ImportError
        When SymPy is not installed (``pip install "varcalc[symbolic]"``).

    Examples
    --------
    >>> import jax.numpy as jnp, varcalc as vc
    >>> el = vc.euler_lagrange(lambda f, df, x: f * jnp.sqrt(1 + df**2))   # the catenary
    >>> print(el.first_integral)
    Eq(f(x)/sqrt(Derivative(f(x), x)**2 + 1), C)
    """
    sp = _sympy()
    from .problem import Problem

    notes, integrals, pointwise = [], (), ()
    if isinstance(problem_or_integrand, Problem):
        prob = problem_or_integrand
        if shape is not None and _shape(shape) != prob.shape:
            raise ValueError(f"shape: the Problem's unknown has shape {prob.shape}, got shape={shape!r}")
        if order is not None and order != prob.order:
            raise ValueError(f"order: the Problem has order={prob.order}, got order={order!r}")
        G, shape, order = prob.integrand, prob.shape, prob.order
        params = prob.params if params is None else params
        integrals, pointwise = prob.integrals, prob.pointwise
        if prob.bound is not None:
            notes.append(f"Bound {prob.bound.name!r}: the equation holds where f is off the obstacle.")
        if prob.data is not None:
            notes.append(
                "Data term: the equation holds between the data sites; each site adds a "
                "point force (a jump in the highest derivative)."
            )
        for end in ("left", "right"):
            if prob.end_curve(end) is not None:
                notes.append(f"The {end} end lies on a curve: the transversality condition is not shown.")
        free = [e for e in prob.free_ends if prob.end_curve(e) is None]
    else:
        G = problem_or_integrand
        if not callable(G):
            raise TypeError(
                f"problem_or_integrand: expected a vc.Problem (one independent variable x) "
                f"or a callable G(f, df, x), got {type(G).__name__}"
            )
        free = []
        order = 1 if order is None else order
        if order not in (1, 2) or isinstance(order, bool):
            raise ValueError(f"order: expected 1 (G(f, df, x)) or 2 (G(f, df, d2f, x)), got {order!r}")
        shape = _shape(shape)
    shape = tuple(shape)

    names = _names(shape)
    x = sp.Symbol("x", real=True)
    funcs = [sp.Function(n, real=True)(x) for n in names]
    taken = set(names) | {"x", "C"}
    # d[k][i]: the k-th derivative of component i as a plain symbol (Dummy: no name clashes).
    kmax = 2 * order
    d = [[sp.Dummy(f"{n}_{k}", real=True) for n in names] for k in range(kmax + 1)]
    args = [np.array(d[k], dtype=object).reshape(shape) for k in range(order + 1)]
    args.append(np.asarray(x, dtype=object))
    par = _param_symbols(sp, params, taken) if params is not None else ({}, [], [], None)

    arg_shapes = [shape] * (order + 1) + [()]
    sig = "G(f, df, x)" if order == 1 else "G(f, df, d2f, x)"
    Gs = _translate(sp, G, f"the integrand {sig}", args, arg_shapes, par)
    if Gs.shape != ():
        raise ValueError(f"integrand: expected a scalar result, got shape {Gs.shape}")
    G_sym = Gs.item()
    L0, multipliers = G_sym, {}
    for c in integrals:
        lam = sp.Symbol(f"lambda_{c.name}", real=True)
        H = _translate(sp, c.fun, f"Integral {c.name!r}", args, arg_shapes, par)
        L0 = L0 + lam * H.item()
        multipliers[c.name] = lam
    L = L0
    g_x_free = True
    for c in pointwise:
        gv = _translate(
            sp,
            lambda f, x_, *p, fun=c.fun: fun(f, x_),
            f"Pointwise {c.name!r}",
            [args[0], args[-1]],
            [shape, ()],
            ({}, [], [], None),
        )
        gv = gv.reshape(-1)
        mus = [sp.Function(f"mu_{c.name}" + (str(j + 1) if gv.size > 1 else ""), real=True)(x) for j in range(gv.size)]
        L = L + sum(m * g for m, g in zip(mus, gv))
        g_x_free &= all(x not in g.free_symbols for g in gv)
        multipliers[c.name] = mus[0] if len(mus) == 1 else mus

    # Symbols <-> functions of x.
    to_fun = {
        d[k][i]: (funcs[i] if k == 0 else funcs[i].diff(x, k)) for k in range(kmax + 1) for i in range(len(names))
    }
    to_sym = {v: k for k, v in to_fun.items()}
    fun = lambda e: e.xreplace(to_fun)
    sym = lambda e: e.xreplace(to_sym)
    Dx = lambda e, k=1: sym(sp.diff(fun(e), x, k))  # total derivative d^k/dx^k in symbols

    residuals = []
    for i in range(len(names)):
        E = sp.diff(L, d[0][i]) - Dx(sp.diff(L, d[1][i]))
        if order == 2:
            E = E + Dx(sp.diff(L, d[2][i]), 2)
        residuals.append(E)

    equations = _solved_form(sp, residuals, d[kmax])
    equations = [sp.Eq(fun(e.lhs), fun(e.rhs), evaluate=False) for e in equations]

    first = None
    if x not in L0.free_symbols and g_x_free:
        H = L0
        for i in range(len(names)):
            if order == 1:
                H = H - d[1][i] * sp.diff(L0, d[1][i])
            else:
                Lq = sp.diff(L0, d[2][i])
                H = H - d[1][i] * (sp.diff(L0, d[1][i]) - Dx(Lq)) - d[2][i] * Lq
        H = _simplify(sp, H)
        H = -H if H.could_extract_minus_sign() else H  # C is arbitrary: show the positive form
        first = sp.Eq(fun(H), sp.Symbol("C"), evaluate=False) if H != 0 else None
    if all(e.lhs == 0 and e.rhs == 0 for e in equations):
        notes.append("The equation holds for every f: G is a null Lagrangian (a total derivative).")
    if free and order == 1:  # ∂L/∂f' = 0 at a free end (order 2: two conditions, not shown)
        nbc = ", ".join(sp.sstr(_display(sp, fun(_simplify(sp, sp.diff(L, d[1][i]))))) for i in range(len(names)))
        notes.append(
            f"Free {' and '.join(free)} end{'s' * (len(free) > 1)}: natural boundary condition "
            f"∂L/∂f' = 0 there: {nbc} = 0."
        )
    return EulerLagrange(
        integrand=fun(G_sym),
        lagrangian=fun(L),
        equations=equations,
        residuals=[fun(E) for E in residuals],
        first_integral=first,
        x=x,
        functions=funcs,
        order=order,
        params=par[0],
        multipliers=multipliers,
        notes=notes,
    )


def _solved_form(sp, residuals, top):
    """``f_i^(kmax) = rhs_i`` where the equations are linear in the top derivatives with an
    invertible coefficient matrix (diagonal, or at most ``_MAX_SOLVE`` coupled components);
    otherwise the simplified residuals ``= 0``."""
    m = len(residuals)
    A = sp.Matrix(m, m, lambda i, j: sp.diff(residuals[i], top[j]))
    linear = all(sp.diff(A[i, j], t) == 0 for i in range(m) for j in range(m) for t in top)
    zero = {t: 0 for t in top}
    b = sp.Matrix([E.xreplace(zero) for E in residuals])
    sol = None
    if linear and A.is_diagonal():
        diag = [_simplify(sp, A[i, i]) for i in range(m)]
        if all(a != 0 for a in diag):
            sol = [-b[i] / diag[i] for i in range(m)]
    elif linear and m <= _MAX_SOLVE:
        det = _simplify(sp, A.det())
        if det != 0:
            sol = list(A.LUsolve(-b))
    if sol is None:
        return [sp.Eq(_simplify(sp, E), 0, evaluate=False) for E in residuals]
    return [sp.Eq(t, _simplify(sp, r), evaluate=False) for t, r in zip(top, sol)]
