"""One result type: ``vc.Solution`` is a frozen, registered pytree for plain, traced and batched
results, evaluated by one piecewise evaluator (:mod:`varcalc.piecewise`); the certificate and the
error estimate are functions of a solution; nothing below ``varcalc.solve`` imports it."""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc
from varcalc.implicit import TracedSolution
from varcalc.piecewise import evaluate, spline_slopes

ROOT = Path(__file__).resolve().parents[1]

# f* = q x (1 - x) / 2: P1 is exact at the nodes, so sol(x) is the chord of f* (linear in q).
LOAD = vc.Problem(
    lambda f, df, x, q: 0.5 * df**2 - q * f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, params=1.0, name="load"
)
# A clamped beam under a load q: order 2, cubic Hermite elements (f and f' at the nodes).
BEAM = vc.Problem(
    lambda f, df, d2f, x, q: 0.5 * d2f**2 - q * f,
    (0.0, 1.0),
    bc={"left": 0.0, "left'": 0.0, "right": 0.0, "right'": 0.0},
    order=2,
    params=1.0,
    name="beam",
)
XQ = np.array([0.0, 0.137, 0.5, 0.731, 1.0])


@pytest.fixture(scope="module")
def plain():
    return vc.solve(LOAD, n=11, params=2.0)


def test_a_solution_is_a_pytree(plain):
    leaves, tree = jax.tree_util.tree_flatten(plain)
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert type(back) is vc.Solution
    for name in ("x", "f", "history", "guess"):
        np.testing.assert_array_equal(getattr(back, name), getattr(plain, name))
    assert (back.value, back.converged, back.status, back.iterations) == (
        plain.value,
        plain.converged,
        plain.status,
        plain.iterations,
    )
    assert back.message == plain.message and back.problem is plain.problem
    assert back.quadrature == plain.quadrature and back.mode == plain.mode
    np.testing.assert_array_equal(back(XQ), plain(XQ))
    # Arrays and numbers are the leaves; names, the problem and the discretization are static.
    assert not any(isinstance(leaf, str) for leaf in leaves)
    paths = {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(plain)[0]}
    assert ".f" in paths and ".value" in paths and not any("message" in p for p in paths)
    # tree.map works, and keeps the class and the static data.
    doubled = jax.tree.map(lambda a: 2 * np.asarray(a), plain)
    assert type(doubled) is vc.Solution and doubled.message == plain.message
    np.testing.assert_array_equal(doubled.f, 2 * plain.f)
    # A jit argument: its static data hash, so a second call reuses the compiled function.
    at = jax.jit(lambda s: s(XQ))
    np.testing.assert_allclose(np.asarray(at(plain)), plain(XQ), rtol=0, atol=1e-15)
    at(plain)
    assert at._cache_size() == 1


def test_a_solution_is_frozen(plain):
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.value = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.message = "changed"
    other = dataclasses.replace(plain, message="changed")
    assert other.message == "changed" and plain.message != "changed"
    assert other.value == plain.value


def test_jit_and_vmap_return_the_same_type():
    run = jax.jit(lambda q: vc.solve(LOAD, n=11, params=q))
    traced = run(2.0)
    assert isinstance(traced, TracedSolution) and isinstance(traced, vc.Solution)
    assert bool(traced.converged) and traced.message is None
    plain = vc.solve(LOAD, n=11, params=2.0)
    np.testing.assert_allclose(np.asarray(traced.f), plain.f, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(traced(XQ)), plain(XQ), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="JAX transformation"):
        traced.certificate
    with pytest.raises(ValueError, match="JAX transformation"):
        traced.table()
    with pytest.raises(ValueError, match="JAX transformation"):
        vc.euler_lagrange_residual(traced)
    lanes = jax.vmap(lambda q: vc.solve(LOAD, n=11, params=q))(jnp.array([1.0, 2.0, 4.0]))
    assert isinstance(lanes, TracedSolution) and lanes.f.shape == (3, 11)
    np.testing.assert_allclose(np.asarray(lanes.f[1]), plain.f, rtol=0, atol=1e-14)


def _concrete_vs_traced(solve_with, theta, xq, h):
    """``sol(xq)`` of a plain solve, and the primal and tangent of the traced ``sol(xq)`` at
    ``theta`` (``jax.jvp``: the traced solution's own evaluation), with central differences."""
    plain = solve_with(theta)(xq)
    primal, tangent = jax.jvp(lambda t: solve_with(t)(xq), (theta,), (1.0,))
    fd = (solve_with(theta + h)(xq) - solve_with(theta - h)(xq)) / (2 * h)
    return plain, np.asarray(primal), np.asarray(tangent), fd


def test_one_evaluator_p1_concrete_and_traced_agree():
    solve_with = lambda q: vc.solve(LOAD, n=11, params=q)
    plain, primal, tangent, _ = _concrete_vs_traced(solve_with, 2.0, XQ, 1e-3)
    np.testing.assert_allclose(primal, plain, rtol=0, atol=1e-14)
    np.testing.assert_allclose(tangent, plain / 2.0, rtol=1e-10, atol=1e-15)  # f is linear in q
    x = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(plain, np.interp(XQ, x, x * (1 - x)), rtol=0, atol=1e-12)
    g = jax.grad(lambda q: vc.solve(LOAD, n=11, params=q)(0.37))(2.0)  # jax.grad through sol(x)
    assert float(g) == pytest.approx(float(np.interp(0.37, x, x * (1 - x) / 2)), rel=1e-10)
    # A plain solution called while jit traces something else: its numbers, as numpy.
    sol = solve_with(2.0)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda a: a + sol(XQ))(0.0)), plain)


def test_one_evaluator_hermite_concrete_and_traced_agree():
    solve_with = lambda q: vc.solve(BEAM, n=9, params=q)
    sol = solve_with(2.0)
    assert sol.converged and sol.slope is not None
    plain, primal, tangent, _ = _concrete_vs_traced(solve_with, 2.0, XQ, 1e-3)
    np.testing.assert_allclose(primal, plain, rtol=0, atol=1e-14)
    np.testing.assert_allclose(tangent, plain / 2.0, rtol=1e-9, atol=1e-15)
    exact = lambda x: 2.0 * x**2 * (1 - x) ** 2 / 24  # clamped beam, f'''' = q
    assert np.max(np.abs(plain - exact(XQ))) < 1e-6
    # Derivatives of the Hermite cubic: C¹ at the nodes, f' against the exact slope.
    dexact = lambda x: 2.0 * (2 * x * (1 - x) ** 2 - 2 * x**2 * (1 - x)) / 24
    np.testing.assert_allclose(sol.derivative(sol.x), sol.slope, rtol=0, atol=1e-14)
    assert np.max(np.abs(sol.derivative(XQ) - dexact(XQ))) < 1e-4


def test_one_evaluator_lagrange_with_an_end_map_concrete_and_traced_agree():
    from varcalc.problems import brachistochrone_psopt as psopt

    solve_with = lambda Y: vc.solve(psopt.problem, n=5, degree=8, bc={"right": Y})
    sol = solve_with(2.0)
    assert sol.converged and sol.end_map is not None and sol.grid is not None
    xq = np.array([1e-3, 0.05, 0.4, 1.0, 1.7, 2.0])
    plain, primal, tangent, fd = _concrete_vs_traced(solve_with, 2.0, xq, 1e-5)
    np.testing.assert_allclose(primal, plain, rtol=0, atol=1e-13)
    np.testing.assert_allclose(tangent, fd, rtol=1e-6, atol=1e-8)
    # The evaluator's derivatives (chain rule through x = φ(s)) against differences of sol(x).
    x = np.array([0.3, 1.0, 1.6])
    h = 1e-5
    np.testing.assert_allclose(sol.derivative(x), (sol(x + h) - sol(x - h)) / (2 * h), rtol=1e-8)
    np.testing.assert_allclose(sol.derivative(x, 2), (sol(x + h) - 2 * sol(x) + sol(x - h)) / h**2, rtol=1e-4)


def test_diagnostics_use_the_spline_through_the_nodes_for_p1(plain):
    """Deliberately not the P1 interpolant (f'' = 0 in every cell): the not-a-knot cubic spline,
    which is the Hermite evaluator with the spline's nodal slopes."""
    from scipy.interpolate import CubicSpline

    from varcalc.diagnostics import _jets

    spline = CubicSpline(plain.x, plain.f)
    f, df, d2f = _jets(plain, XQ)
    for k, jet in enumerate((f, df, d2f)):
        np.testing.assert_allclose(jet[:, 0], spline(XQ, k), rtol=1e-12, atol=1e-12)
    slopes = spline_slopes(plain.x, plain.f)
    np.testing.assert_allclose(
        np.asarray(evaluate(plain.x, XQ, values=plain.f, slopes=slopes)[0])[:, 0], spline(XQ), rtol=1e-13, atol=1e-15
    )


def test_batch_lane_is_a_single_solve():
    batch = vc.solve_batch(LOAD, n=11, params=np.array([1.0, 2.0]))
    lane = batch[1]
    single = vc.solve(LOAD, n=11, params=2.0)
    assert type(lane) is vc.Solution and lane.converged
    np.testing.assert_allclose(lane.f, single.f, rtol=0, atol=1e-14)
    assert lane.value == pytest.approx(single.value, rel=1e-14)
    np.testing.assert_allclose(lane(XQ), single(XQ), rtol=0, atol=1e-14)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lane.f = single.f
    leaves, tree = jax.tree_util.tree_flatten(lane)
    np.testing.assert_array_equal(jax.tree_util.tree_unflatten(tree, leaves).f, lane.f)


def test_certificate_and_estimate_are_functions_of_a_solution(plain):
    from varcalc.certify import certificate
    from varcalc.estimate import error_estimate

    cert = plain.certificate
    assert cert is plain.certificate  # cached
    assert certificate(plain).verdict == cert.verdict == "strict local minimum"
    est = plain.error_estimate
    assert est is plain.error_estimate
    assert error_estimate(plain).value_error == pytest.approx(est.value_error, rel=1e-12)
    calls = []

    def counting_solve(*args, **kw):  # the solve is passed in, not imported
        calls.append(kw.get("grid").size)
        return vc.solve(*args, **kw)

    assert error_estimate(plain, solve=counting_solve).value_error == pytest.approx(est.value_error, rel=1e-12)
    assert calls == [21]


LOWER = (
    "solution",
    "piecewise",
    "estimate",
    "certify",
    "adaptive",
    "diagnostics",
    "elements",
    "implicit",
    "plot",
    "endmap",
    "_entry",
)


def test_nothing_below_solve_imports_it():
    # In the sources: no import of varcalc.solve, at module level or inside a function.
    for name in LOWER:
        tree = ast.parse((ROOT / "varcalc" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 1:
                    assert module != "solve", f"varcalc.{name} imports varcalc.solve"
                    assert module or "solve" not in [a.name for a in node.names], f"varcalc.{name}"
                else:
                    assert module != "varcalc.solve", f"varcalc.{name} imports varcalc.solve"
            elif isinstance(node, ast.Import):
                assert "varcalc.solve" not in [a.name for a in node.names], f"varcalc.{name}"
    # And in a fresh interpreter: the lower modules load without varcalc.solve (the package's
    # __init__, which imports everything, is bypassed by a bare package object).
    code = f"""
import sys, types
import jax
jax.config.update("jax_enable_x64", True)
pkg = types.ModuleType("varcalc")
pkg.__path__ = [{str(ROOT / "varcalc")!r}]
sys.modules["varcalc"] = pkg
for name in {[n for n in LOWER if n != "plot"]!r}:
    __import__("varcalc." + name)
print(sorted(m for m in sys.modules if m.startswith("varcalc.")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    loaded = eval(out.stdout.strip().splitlines()[-1])
    assert "varcalc.solution" in loaded and "varcalc.adaptive" in loaded
    assert "varcalc.solve" not in loaded and "varcalc.batch" not in loaded, loaded
