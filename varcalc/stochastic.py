"""Functionals of random functions: expected-value extremals, risk-aware variants, sensitivities.

A random integrand ``G(f, f', x; ω)`` whose parameters ``ω`` are drawn from given distributions
defines ``J[f] = E_ω ∫ G(f, f', x; ω) dx``.  Over a fixed set of ``S`` samples ``ω_s`` with weights
``w_s`` (Monte Carlo: ``w_s = 1/S``; a tensor Gauss rule in ``ω``: its weights) the expectation is
the ordinary integrand

    Ḡ(f, f', x; p) = Σ_s w_s G(f, f', x; ω_s),      p = {"omega": {name: (S,)}, "w": (S,)},

so :func:`varcalc.solve` minimises it with the same exact-Hessian Newton, and one compiled solver
serves every new sample set of the same size (the samples are parameters, not constants).

Three things are built on top of that:

* :func:`solve_expected` — the extremal of ``Σ w_s J_s``, with the per-sample values
  ``J_s[f*]`` and, for Monte Carlo, the standard error ``std_s(J_s[f*]) / sqrt(S)`` of ``J*``
  (the sample-average-approximation CLT: ``sqrt(S) (Ĵ*_S - J*) -> N(0, Var J[f*; ω])``; ``Ĵ*_S`` is
  biased low by ``O(1/S)``, which is below the standard error for the sample sizes used here).
  ``risk=λ > 0`` minimises ``mean + λ·std`` of ``J_s[f]`` instead (see :func:`solve_expected`).
* :func:`sensitivity` — ``dĴ*/dθ`` for a distribution parameter ``θ`` (a mean, a scale) by
  (a) central differences with common random numbers (the same uniforms ``u_s`` pushed through the
  inverse CDFs of the distributions at ``θ ± h``), (b) the pathwise derivative (implicit
  differentiation of the solve when ``jax.grad`` goes through :func:`varcalc.solve`, else the
  envelope theorem ``dĴ*/dθ = Σ_s w_s ∂J_s[f*]/∂ω · ∂ω(u_s; θ)/∂θ`` at the fixed extremal), and
  (c) central differences with independent samples at ``θ + h`` and ``θ - h`` (the baseline).
* :func:`compare_sensitivities` — the three estimators over independent replicates (fresh
  seeds), with their means and variances at equal sample counts.

Distributions (:class:`Normal`, :class:`LogNormal`, :class:`Uniform`) validate their parameters
and give inverse CDFs (scipy.stats, for sampling and common random numbers), a differentiable
sample map ``ω(u; θ)`` in JAX (for the pathwise derivative), and Gauss rules (Gauss–Hermite for
the normal family, Gauss–Legendre for the uniform).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from . import cache
from .mesh import check_grid, uniform_grid
from .problem import Problem
from .solution import Solution
from .solve import _initial_values, discretize, solve

if TYPE_CHECKING:  # matplotlib is imported on first plot
    from matplotlib.figure import Figure

__all__ = [
    "Distribution",
    "Normal",
    "LogNormal",
    "Uniform",
    "ExpectedProblem",
    "ExpectedSolution",
    "solve_expected",
    "sample_extremals",
    "sensitivity",
    "compare_sensitivities",
    "plot_ensemble",
]


# -- distributions ---------------------------------------------------------------------------------


class Distribution:
    """A one-dimensional distribution of a random parameter (base class).

    Each distribution is the image of a *standard variable* ``ξ`` under a smooth map
    ``ω = T(ξ; θ)`` with parameters ``θ``: ``ξ ~ N(0, 1)`` for the normal family, ``ξ ~ U(0, 1)``
    for the uniform.  Monte-Carlo samples come from uniforms ``u`` through the inverse CDF
    (:meth:`ppf`, scipy.stats); the pathwise derivative differentiates ``T`` in ``θ`` (JAX).
    """

    parameters: tuple[str, ...] = ()
    standard: str = "normal"  # the standard variable: "normal" or "uniform"

    def __init__(self, **theta: float) -> None:
        vals = {}
        for name in self.parameters:
            v = theta[name]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{type(self).__name__}: {name} must be a real number, got {v!r}")
            v = float(v)
            if not math.isfinite(v):
                raise ValueError(f"{type(self).__name__}: {name} must be finite, got {v!r}")
            vals[name] = v
        self.theta = vals
        self._validate()

    def _validate(self):
        pass

    def __getattr__(self, name):
        theta = self.__dict__.get("theta", {})
        if name in theta:
            return theta[name]
        raise AttributeError(name)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.theta.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.theta == other.theta

    def __hash__(self):
        return hash((type(self).__name__, tuple(self.theta.items())))

    def replace(self, **changes) -> Distribution:
        """The same distribution with some parameters changed (validated)."""
        unknown = [k for k in changes if k not in self.parameters]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown parameter(s) {unknown}; expected some of {self.parameters}"
            )
        return type(self)(**{**self.theta, **changes})

    def to_standard(self, u: ArrayLike) -> np.ndarray:
        """Standard variable ``ξ`` of uniforms ``u`` (numpy): ``Φ⁻¹(u)`` or ``u``."""
        u = np.asarray(u, dtype=np.float64)
        import scipy.special  # here, not at import: scipy.stats/special cost ~0.6 s of start-up

        return scipy.special.ndtri(u) if self.standard == "normal" else u

    def transform(self, xi: jax.Array | np.ndarray, theta: Mapping[str, Any] | None = None) -> jax.Array | np.ndarray:
        """``ω = T(ξ; θ)`` in JAX (differentiable in ``θ``, a dict of this distribution's parameters)."""
        raise NotImplementedError

    def ppf(self, u: ArrayLike) -> np.ndarray:
        """Inverse CDF at uniforms ``u`` (scipy.stats), any shape."""
        with np.errstate(over="ignore"):  # an overflow is reported by name (ExpectedProblem)
            return np.asarray(self._scipy().ppf(np.asarray(u, dtype=np.float64)), dtype=np.float64)

    def mean(self) -> float:
        return float(self._scipy().mean())

    def std(self) -> float:
        return float(self._scipy().std())

    def rule(self, order: int) -> tuple[np.ndarray, np.ndarray]:
        """Gauss rule of ``order`` points in the standard variable: ``(ξ_k, w_k)``, ``Σ w_k = 1``."""
        if self.standard == "normal":
            # Probabilists' Hermite polynomials: weight exp(-ξ²/2); normalise to the N(0, 1) density.
            xi, w = np.polynomial.hermite_e.hermegauss(order)
            return xi, w / math.sqrt(2.0 * math.pi)
        t, w = np.polynomial.legendre.leggauss(order)
        return 0.5 * (t + 1.0), 0.5 * w


class Normal(Distribution):
    """``N(mean, std²)``; ``std > 0``.  ``ω = mean + std·ξ``, ``ξ ~ N(0, 1)``.

    >>> import varcalc as vc
    >>> vc.Normal(1.0, 0.5).ppf(0.5)
    array(1.)
    """

    parameters = ("mean", "std")
    standard = "normal"

    def __init__(self, mean: float, std: float) -> None:
        super().__init__(mean=mean, std=std)

    def _validate(self):
        if not self.theta["std"] > 0:
            raise ValueError(f"Normal: std must be positive, got {self.theta['std']!r}")

    def _scipy(self):
        import scipy.stats

        return scipy.stats.norm(loc=self.theta["mean"], scale=self.theta["std"])

    def transform(self, xi: jax.Array | np.ndarray, theta: Mapping[str, Any] | None = None) -> jax.Array | np.ndarray:
        th = self.theta if theta is None else theta
        return th["mean"] + th["std"] * xi


class LogNormal(Distribution):
    """``exp(N(mu, sigma²))``: ``mu``, ``sigma`` are the mean and std of ``log ω``; ``sigma > 0``.

    >>> import varcalc as vc
    >>> round(vc.LogNormal(0.0, 0.5).mean(), 6)    # exp(sigma²/2)
    1.133148
    """

    parameters = ("mu", "sigma")
    standard = "normal"

    def __init__(self, mu: float, sigma: float) -> None:
        super().__init__(mu=mu, sigma=sigma)

    def _validate(self):
        if not self.theta["sigma"] > 0:
            raise ValueError(f"LogNormal: sigma must be positive, got {self.theta['sigma']!r}")

    def _scipy(self):
        import scipy.stats

        return scipy.stats.lognorm(s=self.theta["sigma"], scale=math.exp(self.theta["mu"]))

    def transform(self, xi: jax.Array | np.ndarray, theta: Mapping[str, Any] | None = None) -> jax.Array | np.ndarray:
        th = self.theta if theta is None else theta
        return jnp.exp(th["mu"] + th["sigma"] * xi)


class Uniform(Distribution):
    """Uniform on ``[low, high]``; ``low < high``.  ``ω = low + (high - low)·u``.

    >>> import varcalc as vc
    >>> vc.Uniform(9.78, 9.83).mean()
    9.805
    """

    parameters = ("low", "high")
    standard = "uniform"

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low=low, high=high)

    def _validate(self):
        if not self.theta["low"] < self.theta["high"]:
            raise ValueError(
                f"Uniform: high must exceed low, got low={self.theta['low']!r}, high={self.theta['high']!r}"
            )

    def _scipy(self):
        import scipy.stats

        return scipy.stats.uniform(loc=self.theta["low"], scale=self.theta["high"] - self.theta["low"])

    def transform(self, xi: jax.Array | np.ndarray, theta: Mapping[str, Any] | None = None) -> jax.Array | np.ndarray:
        th = self.theta if theta is None else theta
        return th["low"] + (th["high"] - th["low"]) * xi


# -- the expected-value problem ----------------------------------------------------------------------

_RULES = ("gauss", "gauss-hermite", "gauss-legendre")
_WRAPPERS: dict = {}  # (G, names, scalar) -> (G_one, G_bar): one object per random integrand, so


#                        every ExpectedProblem of the same G shares the compiled solver.
def _wrappers(G, names, scalar):
    key = (G, names, scalar)
    if key not in _WRAPPERS:

        def G_one(*args):
            *a, p = args  # p: {name: scalar}
            return G(*a, p[names[0]] if scalar else dict(p))

        def G_bar(*args):
            *a, p = args  # p: {"omega": {name: (S,)}, "w": (S,)}
            values = jax.vmap(lambda om: G_one(*a, om))(p["omega"])
            return jnp.sum(p["w"] * values)

        G_one.__name__ = G_bar.__name__ = getattr(G, "__name__", "G")
        _WRAPPERS[key] = (G_one, G_bar)
    return _WRAPPERS[key]


class ExpectedProblem:
    """``J[f] = E_ω ∫ G(f, f', x; ω) dx`` over a fixed sample set or a Gauss rule in ``ω``.

    Parameters
    ----------
    integrand : callable ``G(f, df, x, omega)``
        The random integrand (``G(f, df, d2f, x, omega)`` with ``order=2``).  ``omega`` is a dict
        ``{name: scalar}`` when ``distributions`` is a dict, else the scalar itself.
    distributions : Distribution or dict of str -> Distribution
    domain, bc : as for :class:`varcalc.Problem`.
    samples : int, optional
        Monte Carlo with ``S = samples`` draws: uniforms ``u`` of shape ``(S, d)`` from
        ``numpy.random.default_rng(seed)``, ``ω = F⁻¹(u)`` per distribution, weights ``1/S``.
    rule : {"gauss", "gauss-hermite", "gauss-legendre"}, optional
        A tensor Gauss rule of ``order`` points per distribution instead (Hermite for the normal
        family, Legendre for the uniform; ``"gauss-hermite"`` insists on normal-family
        distributions, ``"gauss-legendre"`` on uniforms).  ``S = order**d``.
    order : int or dict of str -> int
        Points per dimension of the rule (a dict: per distribution).
    seed : int, optional
        Seed of the Monte-Carlo uniforms (default 0).
    capacity : int, optional
        Pad the sample arrays to this length with zero-weight copies of sample 0 (default: ``S``
        rounded up to a power of two).  The compiled solver depends on the array length only, so
        sample sets of every size up to the capacity share one compilation.
    **problem_options
        More keywords for :class:`varcalc.Problem` (``exact``, ``exact_value``, ``name``,
        ``constraints``, ``order``, ``components``...).

    Attributes
    ----------
    problem : Problem
        The sample-average problem (integrand ``Ḡ``, params ``{"omega", "w"}``): solve it with
        :func:`varcalc.solve` or :func:`solve_expected`.
    samples : dict of str -> ndarray, shape (S,)
    weights : ndarray, shape (S,)
    uniforms : ndarray, shape (S, d) or None (a rule has none)
    standard : ndarray, shape (S, d)
        The standard variables ``ξ`` of the samples (``Φ⁻¹(u)`` for the normal family).

    Examples
    --------
    >>> import jax.numpy as jnp, varcalc as vc
    >>> G = lambda f, df, x, a: 0.5 * a * df**2 - f            # stiffness a ~ LogNormal
    >>> ep = vc.ExpectedProblem(G, vc.LogNormal(0.0, 0.3), (0.0, 1.0), {"left": 0.0, "right": 0.0},
    ...                         rule="gauss", order=8)
    >>> res = vc.solve_expected(ep, n=21)
    >>> round(res.value, 8) == round(-(1 - 0.05**2) / 24 / float(jnp.exp(0.045)), 8)   # closed form
    True
    """

    def __init__(
        self,
        integrand: Callable,
        distributions: Distribution | Mapping[str, Distribution],
        domain: tuple[float, float],
        bc: Mapping[str, Any] | None = None,
        *,
        samples: int | None = None,
        rule: Literal["gauss", "gauss-hermite", "gauss-legendre"] | None = None,
        order: int | Mapping[str, int] | None = None,
        seed: int = 0,
        capacity: int | None = None,
        **problem_options: Any,
    ) -> None:
        if not callable(integrand):
            raise TypeError(f"integrand: expected a callable G(f, df, x, omega), got {type(integrand).__name__}")
        if isinstance(distributions, Distribution):
            dists, scalar = {"omega": distributions}, True
        elif isinstance(distributions, Mapping):
            if not distributions:
                raise ValueError("distributions: expected at least one random parameter, got an empty dict")
            dists, scalar = dict(distributions), False
            for k, v in dists.items():
                if not isinstance(k, str):
                    raise TypeError(f"distributions: names must be strings, got {k!r}")
                if not isinstance(v, Distribution):
                    raise TypeError(f"distributions[{k!r}]: expected a vc.Normal/LogNormal/Uniform, got {v!r}")
        else:
            raise TypeError(
                f"distributions: expected a vc.Distribution or a dict of them, got {type(distributions).__name__}"
            )
        if "params" in problem_options:
            raise ValueError(
                "params: an ExpectedProblem's parameters are its samples; put constants in "
                "the integrand (a closure) instead"
            )
        self.integrand = integrand
        self.distributions = dists
        self.names = tuple(dists)
        self.scalar = scalar
        self.seed = seed
        self.domain, self.bc = domain, ({} if bc is None else bc)
        self._options = dict(problem_options)
        if "problem_order" in problem_options:  # `order` is the rule's; G(f, df, d2f, x, ω) needs this
            problem_options = dict(problem_options)
            problem_options["order"] = problem_options.pop("problem_order")
        self._G_one, self._G_bar = _wrappers(integrand, self.names, scalar)
        d = len(self.names)
        if (samples is None) == (rule is None):
            raise ValueError(
                "samples, rule: give exactly one (samples=S for Monte Carlo, rule='gauss' "
                "with order=k for a quadrature rule in ω)"
            )
        if samples is not None:
            if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
                raise TypeError(f"samples: expected a positive integer, got {samples!r}")
            if samples < 1:
                raise ValueError(f"samples: expected at least 1 sample, got {samples}")
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
                raise TypeError(f"seed: expected an integer or None, got {seed!r}")
            self.kind = "monte-carlo"
            self.uniforms = np.random.default_rng(seed).random((int(samples), d))
            self.standard = np.stack(
                [dists[k].to_standard(self.uniforms[:, j]) for j, k in enumerate(self.names)], axis=1
            )
            S = int(samples)
            self.weights = np.full(S, 1.0 / S)
            values = {k: dists[k].ppf(self.uniforms[:, j]) for j, k in enumerate(self.names)}
        else:
            if rule not in _RULES:
                raise ValueError(f"rule: expected one of {_RULES}, got {rule!r}")
            orders = dict(order) if isinstance(order, Mapping) else {k: order for k in dists}
            if set(orders) != set(dists):
                raise ValueError(f"order: expected one number of points per distribution {tuple(dists)}, got {order!r}")
            for k, o in orders.items():
                if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1:
                    raise ValueError(f"order: expected a positive number of points for {k!r}, got {o!r}")
            need = {"gauss-hermite": "normal", "gauss-legendre": "uniform"}.get(rule)
            for k, dist in dists.items():
                if need is not None and dist.standard != need:
                    raise ValueError(
                        f"rule: {rule!r} does not fit distributions[{k!r}] = {dist!r}; use "
                        "rule='gauss' (Hermite for normal-family, Legendre for uniform parameters)"
                    )
            self.kind = "quadrature"
            self.uniforms = None
            nodes = [dists[k].rule(int(orders[k])) for k in self.names]
            grids = np.meshgrid(*[xi for xi, _ in nodes], indexing="ij")
            wgrid = np.meshgrid(*[w for _, w in nodes], indexing="ij")
            self.standard = np.stack([g.ravel() for g in grids], axis=1)
            self.weights = np.prod(np.stack([w.ravel() for w in wgrid], axis=1), axis=1)
            values = {
                k: np.asarray(dists[k].transform(self.standard[:, j]), dtype=np.float64)
                for j, k in enumerate(self.names)
            }
        self.rule, self.order = rule, order
        self.S = self.weights.size
        for j, k in enumerate(self.names):
            bad = ~np.isfinite(values[k])
            if bad.any():
                s = int(np.argmax(bad))
                raise ValueError(
                    f"sample {s}: {k} = {float(values[k][s])} is not finite "
                    f"({dists[k]!r} at the standard variable {float(self.standard[s, j]):.6g})"
                )
        self.samples = values
        if capacity is None:
            capacity = 1 << max(0, (self.S - 1).bit_length())
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < self.S:
            raise ValueError(f"capacity: expected an integer >= the number of samples {self.S}, got {capacity!r}")
        self.capacity = int(capacity)
        self.params = self._params(values, self.weights)
        omega0 = {k: float(values[k][0]) for k in self.names}
        self.problem = Problem(self._G_bar, domain, self.bc, params=self.params, **problem_options)
        opts = {k: v for k, v in problem_options.items() if k in ("components", "order")}
        self.sample_problem = Problem(self._G_one, domain, self.bc, params=omega0, **opts)

    # -- parameters for vc.solve ----------------------------------------------------------------
    def _pad(self, a):
        a = np.asarray(a, dtype=np.float64)
        extra = self.capacity - a.shape[0]
        return np.concatenate([a, np.repeat(a[:1], extra, axis=0)]) if extra else a

    def _params(self, values, weights):
        w = np.concatenate([np.asarray(weights, dtype=np.float64), np.zeros(self.capacity - self.S)])
        return {"omega": {k: self._pad(values[k]) for k in self.names}, "w": w}

    def params_with(
        self, weights: ArrayLike | None = None, distributions: Mapping[str, Distribution] | None = None
    ) -> dict:
        """``params`` for :func:`varcalc.solve` with new ``weights`` (S,) and/or distributions
        (a dict of replacements): the same uniforms (or rule nodes) pushed through the new
        inverse CDFs — common random numbers.  Same shapes: no recompilation."""
        w = self.weights if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.S,):
            raise ValueError(f"weights: expected shape ({self.S},), got {w.shape}")
        values = self.samples if distributions is None else self._values(distributions)
        return self._params(values, w)

    def _values(self, changes):
        dists = {**self.distributions, **dict(changes)}
        out = {}
        for j, k in enumerate(self.names):
            if self.uniforms is not None:
                out[k] = dists[k].ppf(self.uniforms[:, j])
            else:
                out[k] = np.asarray(dists[k].transform(self.standard[:, j]), dtype=np.float64)
        return out

    def replace(self, seed: int | None = None, **distributions: Distribution) -> ExpectedProblem:
        """The problem with some distributions replaced, on the same uniforms (common random
        numbers) — or, with ``seed=``, on fresh uniforms (independent samples).  Shares the
        compiled solver."""
        dists = {**self.distributions, **distributions}
        kw = (
            dict(samples=self.S, seed=self.seed if seed is None else seed)
            if self.kind == "monte-carlo"
            else dict(rule=self.rule, order=self.order)
        )
        return ExpectedProblem(
            self.integrand,
            dists["omega"] if self.scalar else dists,
            self.domain,
            self.bc,
            capacity=self.capacity,
            **kw,
            **self._options,
        )

    def sample_label(self, s: int) -> str:
        return ", ".join(f"{k} = {self.samples[k][s]:.6g}" for k in self.names)

    def __repr__(self):
        how = (
            f"samples={self.S}, seed={self.seed}"
            if self.kind == "monte-carlo"
            else f"rule={self.rule!r}, order={self.order} ({self.S} nodes)"
        )
        return f"ExpectedProblem({getattr(self.integrand, '__name__', '?')}, {self.distributions}, {how})"


# -- per-sample values ---------------------------------------------------------------------------------


def _sample_disc(ep, sol):
    """Discretization of the single-sample functional on ``sol``'s grid with the same quadrature."""
    return discretize(
        ep.sample_problem,
        grid=sol.x,
        guess=sol.f,
        singular_ends=sol.singular_ends,
        params={k: float(ep.samples[k][0]) for k in ep.names},
    )


def _values_fn(disc):
    """``(U, x, z, aux, omegas) -> J_s`` for every sample (vmapped over ``omegas``), cached per
    structure; wrapped in ``jax.jit`` (or differentiated) by its callers."""
    key = ("values", disc.problem.integrand, disc.blocks, disc.layout.key(disc.problem))

    def make():
        fun = disc.functional

        def values(U, x, z, aux, omegas):
            return jax.vmap(lambda om: fun.value(U, x, z, {**aux, "p": om}))(omegas)

        return values

    return cache.get(key, make)


def _jit(key, make):
    return cache.get(("stochastic-jit", key), lambda: jax.jit(make()))


def _disc_args(disc):
    lay = disc.layout
    aux = disc.aux()
    aux.pop("p")
    return jnp.asarray(disc.V0[: lay.d_el]), jnp.asarray(disc.x), jnp.asarray(disc.z0), aux


def sample_values(ep: ExpectedProblem, sol: Solution) -> np.ndarray:
    """``J_s[f]`` of the extremal ``sol`` for every sample, shape ``(S,)``, same quadrature as the solve."""
    disc = _sample_disc(ep, sol)
    fn = _jit(
        ("values-jit", disc.problem.integrand, disc.blocks, disc.layout.key(disc.problem)), lambda: _values_fn(disc)
    )
    U, x, z, aux = _disc_args(disc)
    return np.asarray(fn(U, x, z, aux, ep.params["omega"]))[: ep.S]


def _check_samples_at_guess(ep, x, guess):
    """Each sample's integrand finite at the cell midpoints of the initial guess?  Else name it."""
    if ep.problem.order != 1:
        return
    U0 = _initial_values(ep.problem, x, guess)  # (n, m)
    shape = ep.problem.shape
    fm = (0.5 * (U0[1:] + U0[:-1])).reshape((-1,) + shape)
    dfm = (np.diff(U0, axis=0) / np.diff(x)[:, None]).reshape((-1,) + shape)
    xm = 0.5 * (x[1:] + x[:-1])

    def make():
        G = ep._G_one

        def finite(fm, dfm, xm, omegas):
            per = jax.vmap(lambda om: jax.vmap(lambda a, b, c: G(a, b, c, om))(fm, dfm, xm))(omegas)
            return jnp.all(jnp.isfinite(per), axis=1)

        return finite

    fn = _jit(("finite", ep._G_one, shape), make)
    ok = np.asarray(fn(jnp.asarray(fm), jnp.asarray(dfm), jnp.asarray(xm), ep.params["omega"]))[: ep.S]
    if not ok.all():
        s = int(np.argmax(~ok))
        raise ValueError(
            f"sample {s} ({ep.sample_label(s)}): the integrand is NaN/inf on the initial guess; "
            "check the distributions (e.g. a parameter that must stay positive) or give guess=..."
        )


# -- solving -------------------------------------------------------------------------------------------


@dataclass
class ExpectedSolution:
    """The result of :func:`solve_expected`.

    Attributes
    ----------
    solution : Solution
        The extremal of the final weighted sample average (``x``, ``f``, ``converged``, plots...).
    value : float
        ``Ĵ* = Σ_s w_s J_s[f*]`` with the sample/rule weights (the expected value at the extremal).
    sample_values : ndarray, shape (S,)
        ``J_s[f*]`` per sample.
    standard_error : float or None
        Monte Carlo: ``std(J_s[f*], ddof=1) / sqrt(S)``; None for a quadrature rule.
    mean, std : float
        Weighted mean and standard deviation of ``J_s[f*]`` (``std² = Σ w_s (J_s - mean)²``).
    risk : float
        ``λ``; ``objective = mean + λ·std`` is what was minimised.
    weights : ndarray, shape (S,)
        The weights of the last inner solve (``w_s`` itself for ``λ = 0``).
    outer_iterations : int
        Fixed-point iterations on the weights (0 for ``λ = 0``).
    stationarity : float
        ``max |∂(mean + λ std)/∂U_i| / m_i`` over free nodes (``m_i`` lumped mass): the discrete
        first-order condition of the risk objective, checked by autodiff at the answer (None for
        ``λ = 0`` unless ``check=True``).
    """

    solution: Solution
    problem: ExpectedProblem
    value: float
    sample_values: np.ndarray
    standard_error: float | None
    mean: float
    std: float
    risk: float = 0.0
    objective: float = 0.0
    weights: np.ndarray = field(default=None, repr=False)
    outer_iterations: int = 0
    stationarity: float | None = None
    converged: bool = True

    @property
    def x(self) -> np.ndarray:
        return self.solution.x

    @property
    def f(self) -> np.ndarray:
        return self.solution.f

    def __call__(self, xq):
        return self.solution(xq)


def _resolve_grid(problem, n, grid):
    if grid is not None:
        return check_grid(grid, problem.domain)
    return uniform_grid(problem.domain, 201 if n is None else n)


def solve_expected(
    ep: ExpectedProblem,
    n: int | None = None,
    *,
    grid: ArrayLike | None = None,
    risk: float = 0.0,
    guess: Callable[..., Any] | ArrayLike | None = None,
    max_outer: int = 50,
    tol: float = 1e-10,
    check: bool = False,
    **solve_options,
) -> ExpectedSolution:
    """Minimise ``E_ω J[f]`` (``risk = 0``) or ``mean + risk·std`` of ``J_s[f]`` over the samples.

    Parameters
    ----------
    ep : ExpectedProblem
    n, grid, guess, **solve_options : as for :func:`varcalc.solve`.
    risk : float
        ``λ >= 0``.  ``λ = 0``: one solve of the sample average ``Σ_s w_s J_s``.
    max_outer, tol : the fixed-point iteration for ``λ > 0`` (stop when the weights change by less
        than ``tol`` in max-norm).
    check : bool
        Compute ``stationarity`` also for ``λ = 0`` (always computed for ``λ > 0``).

    Notes
    -----
    **Why a fixed point on the weights.**  ``R[f] = m[f] + λ σ[f]`` with ``m = Σ q_s J_s[f]``,
    ``σ² = Σ q_s (J_s[f] - m)²`` is not an integral of a local integrand — ``σ`` couples the whole
    curve through the ``J_s`` — so Newton on a block-tridiagonal Hessian does not apply to it
    directly.  Its first variation is, however, that of a *weighted sample average*:

        δR = Σ_s w_s δJ_s,      w_s = q_s (1 + λ (J_s[f] - m) / σ),      Σ w_s = 1,

    so ``f`` is stationary for ``R`` iff it is stationary for ``Σ w_s J_s`` with the weights
    evaluated at ``f``.  Each outer step computes the weights at the current extremal and solves
    the weighted sample-average problem (an ordinary integrand: exact-Hessian Newton, warm-started,
    the same compiled solver every time), until the weights stop changing.  The alternative — the
    ``S`` values ``J_s`` as global unknowns with ``S`` equality constraints — would border the
    Hessian with ``S`` dense columns; the fixed point keeps each solve O(n) and converges linearly
    at a rate ~ ``λ × (sensitivity of the weights)``, a handful of steps for moderate ``λ``.  Its
    answer is checked against the first-order condition: ``stationarity`` is ``∇_U R`` computed by
    autodiff of ``R`` through the per-sample values (not through the weights).  Weights can turn
    negative for large ``λ``; the inner problem is still solved by the same globalised Newton and
    its convergence is reported.

    Returns
    -------
    ExpectedSolution

    Examples
    --------
    >>> import varcalc as vc
    >>> G = lambda f, df, x, a: 0.5 * a * df**2 - f
    >>> ep = vc.ExpectedProblem(G, vc.Uniform(1.0, 3.0), (0.0, 1.0), {"left": 0.0, "right": 0.0}, samples=64)
    >>> res = vc.solve_expected(ep, n=21)
    >>> res.standard_error is not None and res.solution.converged
    True
    """
    if not isinstance(ep, ExpectedProblem):
        raise TypeError(f"ep: expected a vc.ExpectedProblem, got {type(ep).__name__}")
    if (
        isinstance(risk, bool)
        or not isinstance(risk, (int, float, np.floating, np.integer))
        or not math.isfinite(risk)
        or risk < 0
    ):
        raise ValueError(f"risk: expected a finite λ >= 0, got {risk!r}")
    x = _resolve_grid(ep.problem, n, grid)
    _check_samples_at_guess(ep, x, guess)
    q = ep.weights
    sol = solve(ep.problem, grid=x, guess=guess, params=ep.params, **solve_options)
    J = _checked_values(ep, sol)
    w, it, converged = q, 0, sol.converged
    if risk > 0:
        for it in range(1, max_outer + 1):
            w_new = _risk_weights(q, J, risk)
            change = float(np.max(np.abs(w_new - w)))
            if change < tol:
                it -= 1
                break
            w = w_new
            sol = solve(ep.problem, grid=x, guess=sol.f, params=ep.params_with(weights=w), **solve_options)
            J = _checked_values(ep, sol)
            if not sol.converged:
                break
        else:
            converged = False
        converged = converged and sol.converged
    mean = float(np.sum(q * J))
    std = float(np.sqrt(np.sum(q * (J - mean) ** 2)))
    se = float(np.std(J, ddof=1) / math.sqrt(ep.S)) if ep.kind == "monte-carlo" and ep.S > 1 else None
    stat = _stationarity(ep, sol, risk) if risk > 0 or check else None
    return ExpectedSolution(
        solution=sol,
        problem=ep,
        value=mean,
        sample_values=J,
        standard_error=se,
        mean=mean,
        std=std,
        risk=float(risk),
        objective=mean + risk * std,
        weights=w,
        outer_iterations=it,
        stationarity=stat,
        converged=bool(converged and sol.converged),
    )


def _risk_weights(q, J, lam):
    m = np.sum(q * J)
    sigma = math.sqrt(float(np.sum(q * (J - m) ** 2)))
    if sigma == 0.0:
        return q
    return q * (1.0 + lam * (J - m) / sigma)


def _checked_values(ep, sol):
    J = sample_values(ep, sol)
    bad = ~np.isfinite(J)
    if bad.any():
        s = int(np.argmax(bad))
        raise ValueError(
            f"sample {s} ({ep.sample_label(s)}): J_s is NaN/inf at the extremal "
            f"({'converged' if sol.converged else sol.status.name}); the integrand is not finite "
            "for this sample along the curve"
        )
    return J


def _stationarity(ep, sol, lam):
    """``max |∇_U (mean + λ std)| / lumped mass`` over free nodes, by autodiff through the J_s."""
    disc = _sample_disc(ep, sol)
    q = jnp.asarray(np.concatenate([ep.weights, np.zeros(ep.capacity - ep.S)]))
    values = _values_fn(disc)

    def make():
        def grad(U, x, z, aux, omegas, q, lam):
            def R(U):
                J = values(U, x, z, aux, omegas)
                m = jnp.sum(q * J)
                return m + lam * jnp.sqrt(jnp.sum(q * (J - m) ** 2))

            return jax.grad(R)(U)

        return grad

    fn = _jit(("stationarity", disc.problem.integrand, disc.blocks, disc.layout.key(disc.problem)), make)
    U, x, z, aux = _disc_args(disc)
    g = np.asarray(fn(U, x, z, aux, ep.params["omega"], q, float(lam)))
    free = ~np.asarray(disc.fixed[: disc.layout.d_el])
    mass = np.asarray(aux["mass"])[None, :]
    r = np.abs(g / mass)[free]
    return float(np.max(r)) if r.size else 0.0


def sample_extremals(
    ep: ExpectedProblem,
    indices: Iterable[int],
    n: int | None = None,
    *,
    grid: ArrayLike | None = None,
    **solve_options: Any,
) -> list[Solution]:
    """The extremals of single samples ``J_s`` (one-hot weights: the same compiled solver)."""
    x = _resolve_grid(ep.problem, n, grid)
    out = []
    for s in indices:
        w = np.zeros(ep.S)
        w[int(s)] = 1.0
        out.append(solve(ep.problem, grid=x, params=ep.params_with(weights=w), **solve_options))
    return out


# -- sensitivities -----------------------------------------------------------------------------------

_METHODS = ("crn", "pathwise", "independent")


def _check_param(ep, dist, param):
    if dist is None:
        if len(ep.names) != 1:
            raise ValueError(f"dist: name the distribution, one of {ep.names}")
        dist = ep.names[0]
    if dist not in ep.distributions:
        raise ValueError(f"dist: expected one of {ep.names}, got {dist!r}")
    d = ep.distributions[dist]
    if param not in d.parameters:
        raise ValueError(f"param: {d!r} has parameters {d.parameters}, got {param!r}")
    return dist, d


def _solve_value(ep, x, params, guess, solve_options):
    sol = solve(ep.problem, grid=x, guess=guess, params=params, **solve_options)
    if not sol.converged:
        raise RuntimeError(f"sensitivity: a solve did not converge ({sol.status.name}: {sol.message})")
    return sol


def sensitivity(
    ep: ExpectedProblem,
    param: str,
    dist: str | None = None,
    *,
    method: str = "crn",
    n: int | None = None,
    grid: ArrayLike | None = None,
    h: float | None = None,
    seed: int | None = None,
    pathwise: str = "auto",
    statistic: Callable[..., Any] | None = None,
    **solve_options: Any,
) -> float:
    """One estimate of ``dĴ*/dθ``, ``Ĵ* = min_f Σ_s w_s J[f; ω_s(θ)]``, for ``θ = dist.param``
    (or of ``d statistic(x, f*)/dθ``).

    Parameters
    ----------
    ep : ExpectedProblem
        Monte Carlo (for a rule, all three methods are deterministic and ``"independent"`` is
        meaningless: ValueError).
    param : str
        The distribution parameter, e.g. ``"mean"``, ``"std"``, ``"mu"``, ``"sigma"``, ``"low"``.
    dist : str, optional
        Which distribution (may be left out when there is one).
    method : {"crn", "pathwise", "independent"}
        (a) ``"crn"``: ``(Ĵ*(θ + h; u) - Ĵ*(θ - h; u)) / 2h`` on the same uniforms ``u``;
        (b) ``"pathwise"``: ``dĴ*(θ; u)/dθ`` exactly — by ``jax.grad`` through the solve when
        :func:`varcalc.solve` is differentiable in ``params``, else by the envelope theorem
        ``Σ_s w_s ∂J_s[f*]/∂θ`` at the fixed extremal (``∂`` through the sample map
        ``ω = T(Φ⁻¹(u); θ)``), which is exact for the derivative of an optimal value;
        (c) ``"independent"``: ``(Ĵ*(θ + h; u') - Ĵ*(θ - h; u)) / 2h`` with ``u'`` fresh uniforms
        (``seed``, default ``ep.seed + 1_000_003``).
    h : float, optional
        Finite-difference step (default ``1e-3 · max(|θ|, scale)``, ``scale`` the distribution's std).
    pathwise : {"auto", "implicit", "envelope"}
        How (b) differentiates: ``"implicit"`` — ``jax.grad`` through :func:`varcalc.solve`
        (implicit differentiation of the Newton solve); ``"envelope"`` — the envelope theorem at
        the fixed extremal (one solve, one gradient of the per-sample values); ``"auto"`` — implicit
        when the solve is differentiable, else envelope.  Both are exact for the discrete ``Ĵ*``.
    statistic : callable ``(x, f) -> scalar``, optional
        Differentiate this statistic of the extremal instead of ``Ĵ*`` (``x`` shape ``(n,)``,
        ``f`` shape ``(n,)`` or ``(n,) + shape``; written with ``jax.numpy``, e.g. the depth at a
        node).  The pathwise estimator then needs ``pathwise="implicit"`` (the envelope theorem
        holds for optimal values only).

    Returns
    -------
    float

    Examples
    --------
    >>> import varcalc as vc
    >>> G = lambda f, df, x, a: 0.5 * a * df**2 - f
    >>> ep = vc.ExpectedProblem(G, vc.Normal(2.0, 0.2), (0.0, 1.0), {"left": 0.0, "right": 0.0}, samples=16)
    >>> a = vc.sensitivity(ep, "mean", method="crn", n=21, h=1e-4)   # error O(h²)
    >>> b = vc.sensitivity(ep, "mean", method="pathwise", n=21)
    >>> abs(a - b) < 1e-7 * abs(b)
    True
    """
    if not isinstance(ep, ExpectedProblem):
        raise TypeError(f"ep: expected a vc.ExpectedProblem, got {type(ep).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    dist, d = _check_param(ep, dist, param)
    if ep.kind != "monte-carlo" and method == "independent":
        raise ValueError("method: 'independent' needs a Monte-Carlo ExpectedProblem (samples=S)")
    x = _resolve_grid(ep.problem, n, grid)
    theta = d.theta[param]
    if h is None:
        h = 1e-3 * max(abs(theta), d.std())
    if not (isinstance(h, (int, float, np.floating)) and math.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a positive step, got {h!r}")
    if pathwise not in ("auto", "implicit", "envelope"):
        raise ValueError(f"pathwise: expected 'auto', 'implicit' or 'envelope', got {pathwise!r}")
    if statistic is not None and not callable(statistic):
        raise TypeError(f"statistic: expected a callable (x, f) -> scalar, got {type(statistic).__name__}")
    if statistic is not None and method == "pathwise" and pathwise == "envelope":
        raise ValueError(
            "pathwise: the envelope theorem gives derivatives of the optimal value only; "
            "use pathwise='implicit' (or 'auto') for a statistic of the extremal"
        )
    if method == "pathwise":
        return _pathwise(ep, x, dist, param, solve_options, pathwise, statistic)
    plus = {dist: d.replace(**{param: theta + h})}
    minus = {dist: d.replace(**{param: theta - h})}
    sol0 = None
    lo = _solve_value(ep, x, ep.params_with(distributions=minus), sol0, solve_options)
    if method == "crn":
        hi = _solve_value(ep, x, ep.params_with(distributions=plus), lo.f, solve_options)
    else:
        other = ep.replace(seed=((ep.seed or 0) + 1_000_003) if seed is None else seed)
        hi = _solve_value(other, x, other.params_with(distributions=plus), lo.f, solve_options)
    if statistic is None:
        return (hi.value - lo.value) / (2.0 * h)
    return (float(statistic(hi.x, hi.f)) - float(statistic(lo.x, lo.f))) / (2.0 * h)


_IMPLICIT = {"works": None}


def _pathwise(ep, x, dist, param, solve_options, how="auto", statistic=None):
    """Exact ``dĴ*/dθ`` on the fixed uniforms: implicit differentiation if available, else envelope."""
    d = ep.distributions[dist]
    j = ep.names.index(dist)
    xi = jnp.asarray(ep._pad(ep.standard[:, j]))
    omegas = dict(ep.params["omega"])
    w = jnp.asarray(ep.params["w"])

    def omega_of(t):
        return {**omegas, dist: d.transform(xi, {**d.theta, param: t})}

    theta = d.theta[param]
    if how == "implicit" or statistic is not None or (how == "auto" and _IMPLICIT["works"] is not False):

        def target(t):
            sol = solve(ep.problem, grid=x, params={"omega": omega_of(t), "w": w}, **solve_options)
            return sol.value if statistic is None else statistic(jnp.asarray(sol.x), sol.f)

        try:
            g = jax.grad(target)(theta)
            _IMPLICIT["works"] = True
            _pathwise.last_method = "implicit"
            return float(g)
        except Exception as exc:  # vc.solve not differentiable in params: use the envelope theorem
            if how == "implicit" or statistic is not None:
                raise
            _IMPLICIT["works"], _IMPLICIT["error"] = False, repr(exc)  # "auto" does not retry
    sol = _solve_value(ep, x, ep.params, None, solve_options)
    disc = _sample_disc(ep, sol)
    values = _values_fn(disc)

    def make():
        def grad(U, x, z, aux, xi, omegas, w, theta_all, t):
            def total(t):
                om = {**omegas, dist: d.transform(xi, {**theta_all, param: t})}
                return jnp.sum(w * values(U, x, z, aux, om))

            return jax.grad(total)(t)

        return grad

    key = ("envelope", disc.problem.integrand, disc.blocks, disc.layout.key(disc.problem), dist, param, type(d))
    fn = _jit(key, make)
    U, xx, z, aux = _disc_args(disc)
    _pathwise.last_method = "envelope"
    return float(fn(U, xx, z, aux, xi, omegas, w, dict(d.theta), float(theta)))


_pathwise.last_method = None


def compare_sensitivities(
    ep: ExpectedProblem,
    param: str,
    dist: str | None = None,
    *,
    replicates: int = 20,
    n: int | None = None,
    grid: ArrayLike | None = None,
    h: float | None = None,
    methods: Sequence[str] = _METHODS,
    pathwise: str = "auto",
    statistic: Callable[..., Any] | None = None,
    **solve_options: Any,
) -> dict:
    """Estimators (a) CRN, (b) pathwise, (c) independent over ``replicates`` independent sample sets.

    Replicate ``r`` uses ``ep.replace(seed=ep.seed + r)`` (S samples each; the independent
    estimator's second set is another fresh draw).  Returns ``{method: {"estimates": (R,),
    "mean", "variance", "stderr"}}`` plus ``"pathwise_method"`` ("implicit" or "envelope") and the
    variance ratios ``"reduction_crn"``, ``"reduction_pathwise"`` (independent / coupled).

    Examples
    --------
    >>> import varcalc as vc
    >>> G = lambda f, df, x, a: 0.5 * a * df**2 - f
    >>> ep = vc.ExpectedProblem(G, vc.Normal(2.0, 0.2), (0.0, 1.0), {"left": 0.0, "right": 0.0}, samples=16)
    >>> out = vc.compare_sensitivities(ep, "mean", replicates=5, n=21)
    >>> out["reduction_crn"] > 100
    True
    """
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 2:
        raise ValueError(f"replicates: expected an integer >= 2, got {replicates!r}")
    base = 0 if ep.seed is None else ep.seed
    est = {m: [] for m in methods}
    for r in range(replicates):
        rep = ep.replace(seed=base + r)
        for m in methods:
            est[m].append(
                sensitivity(
                    rep,
                    param,
                    dist,
                    method=m,
                    n=n,
                    grid=grid,
                    h=h,
                    pathwise=pathwise,
                    statistic=statistic,
                    seed=base + 7_919 * (r + 1) + 104_729,
                    **solve_options,
                )
            )
    out = {}
    for m, v in est.items():
        v = np.asarray(v)
        var = float(np.var(v, ddof=1))
        out[m] = {"estimates": v, "mean": float(np.mean(v)), "variance": var, "stderr": math.sqrt(var / v.size)}
    out["pathwise_method"] = _pathwise.last_method
    if "independent" in out:
        for m in ("crn", "pathwise"):
            if m in out:
                out[f"reduction_{m}"] = out["independent"]["variance"] / max(out[m]["variance"], 1e-300)
    return out


# -- plot ------------------------------------------------------------------------------------------


def plot_ensemble(
    ep: ExpectedProblem,
    path: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    grid: ArrayLike | None = None,
    count: int = 12,
    risks: Sequence[float] = (0.0, 1.0, 2.0),
    exact: Callable[..., Any] | None = None,
    invert_yaxis: bool = False,
    title: str | None = None,
    sample_problem: ExpectedProblem | None = None,
) -> Figure:
    """Three panels: the extremals of ``count`` single samples (coloured by the first random
    parameter), their mean ± std and the expected-value extremal (and ``exact`` when given); the
    risk-aware family ``min mean + λ·std`` over ``risks``; and its trade-off (std against mean).

    ``sample_problem`` (an ExpectedProblem, default ``ep``) supplies the single samples (e.g.
    Monte-Carlo draws while ``ep`` is a quadrature rule).  Matplotlib only; returns the Figure and
    writes ``path`` when given.

    Examples
    --------
    >>> import varcalc as vc
    >>> G = lambda f, df, x, a: 0.5 * a * df**2 - f * (1 + 0.2 * a)
    >>> ep = vc.ExpectedProblem(G, vc.Uniform(1.0, 3.0), (0.0, 1.0), {"left": 0.0, "right": 0.0}, rule="gauss", order=4)
    >>> fig = vc.plot_ensemble(ep, n=21, count=4, risks=(0.0, 1.0))
    """
    import matplotlib.pyplot as plt

    src = ep if sample_problem is None else sample_problem
    count = min(count, src.S)
    sols = sample_extremals(src, range(count), n=n, grid=grid)
    F = np.stack([s.f for s in sols])
    xs = sols[0].x
    fam = [solve_expected(ep, n=n, grid=grid, risk=lam) for lam in risks]
    fig, (ax1, ax2, ax3) = plt.subplots(
        1, 3, figsize=(15, 4.8), constrained_layout=True, gridspec_kw={"width_ratios": [1.25, 1.0, 0.75]}
    )
    name = src.names[0]
    vals = src.samples[name][:count]
    norm = plt.Normalize(vals.min(), vals.max() if vals.max() > vals.min() else vals.min() + 1)
    cmap = plt.get_cmap("coolwarm")
    for i, s in enumerate(sols):
        ax1.plot(xs, s.f, color=cmap(norm(vals[i])), lw=0.9, alpha=0.9)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax1, label=f"{name} of the sample", pad=0.01)
    mu, sd = F.mean(axis=0), F.std(axis=0)
    ax1.fill_between(xs, mu - sd, mu + sd, color="0.5", alpha=0.25, label="mean ± std of sample extremals")
    ax1.plot(xs, mu, color="k", lw=1.3, ls="--", label="mean of sample extremals")
    ax1.plot(fam[0].x, fam[0].f, color="tab:green", lw=2.4, label="extremal of E[J]")
    if exact is not None:
        xe = np.linspace(xs[0], xs[-1], 200)
        ax1.plot(xe, exact(xe), color="k", lw=1.0, ls=":", label="reference for E[J]")
    ax1.set_xlabel("x")
    ax1.set_ylabel("f")
    ax1.set_title(f"{count} single-sample extremals and the expected-value extremal", fontsize=10)
    ax1.legend(fontsize=8)
    vir = plt.get_cmap("viridis")
    colours = [vir(i / max(1, len(risks) - 1)) for i in range(len(risks))]
    for c, lam, r in zip(colours, risks, fam):
        ax2.plot(r.x, r.f, color=c, lw=1.6, label=f"λ = {lam:g}")
    ax2.set_xlabel("x")
    ax2.set_title("risk-aware extremals: min mean + λ·std of J", fontsize=10)
    ax2.legend(fontsize=8)
    means, stds = [r.mean for r in fam], [r.std for r in fam]
    ax3.plot(means, stds, color="0.6", lw=1)
    for i, (c, lam, m, s) in enumerate(zip(colours, risks, means, stds)):
        ax3.plot(m, s, "o", color=c)
        last = i == len(risks) - 1 and i > 0
        ax3.annotate(f"λ = {lam:g}", (m, s), textcoords="offset points", xytext=(-38 if last else 5, 4), fontsize=8)
    ax3.set_xlabel("mean of J at the extremal")
    ax3.set_ylabel("std of J at the extremal")
    ax3.set_title("trade-off", fontsize=10)
    ax3.grid(alpha=0.3)
    if invert_yaxis:
        ax1.invert_yaxis()
        ax2.invert_yaxis()
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
