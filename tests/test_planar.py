"""Functionals on planar domains (``varcalc.planar``): P1/P2 triangles, sparse Newton, the 2-D
catalog problems against their exact solutions with measured orders.

Compilation dominates (one XLA compile per integrand, element and mesh size), so solves are cached
in ``_SOLVES`` and the tests share meshes: the Dirichlet problem on n = 9, 17, 33 (P1) and
5, 9, 17 (P2), Scherk on n = 17, 33, 65 — h halves each time, so the orders come from nested
structured meshes.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc
from varcalc.planar import PlanarProblem, Polygon, Rectangle, TriMesh, solve_planar
from varcalc.planar.assemble import Discretization, functions

N_P1 = (9, 17, 33)
N_P2 = (5, 9, 17)
# Scherk's surface is steep near the mid-edges (|∇u| up to 2.6): the local order is 1.78 from
# n = 9 to 17, 1.89 to 33 and 1.98 to 65, so its fit starts at 17.
N_SCHERK = (17, 33, 65)
_SOLVES = {}


def load(name):
    return importlib.import_module(f"varcalc.problems.{name}")


def solve(name, n, element="P1", **kw):
    key = (name, n, element, tuple(sorted(kw.items())))
    if key not in _SOLVES:
        mod = load(name)
        prob = mod.problem_for(n) if hasattr(mod, "problem_for") else mod.problem
        _SOLVES[key] = solve_planar(prob, n=n, element=element, **kw)
    return _SOLVES[key]


def order(ns, errors):
    """Least-squares slope of log(error) against log(h), h = 1/(n-1)."""
    h = 1.0 / (np.asarray(ns, float) - 1.0)
    return np.polyfit(np.log(h), np.log(errors), 1)[0]


# -- the elements ----------------------------------------------------------------------------------


def test_quadrature_rules_are_exact_to_their_degree():
    from varcalc.planar.elements import rule

    def exact(a, b):  # ∫_ref ξ^a η^b = a! b! / (a + b + 2)!
        from math import factorial as f

        return f(a) * f(b) / f(a + b + 2)

    for degree in (2, 5):
        lam, w = rule(degree)
        xi, eta = lam[:, 1], lam[:, 2]
        for a in range(degree + 1):
            for b in range(degree + 1 - a):
                assert abs(w @ (xi**a * eta**b) - exact(a, b)) < 1e-15
        # and not one degree more (so the rule is the one claimed)
        assert (
            max(abs(w @ (xi**a * eta ** (degree + 1 - a)) - exact(a, degree + 1 - a)) for a in range(degree + 2)) > 1e-6
        )


@pytest.mark.parametrize("name", ["P1", "P2"])
def test_basis_partition_of_unity_and_nodal(name):
    from varcalc.planar.elements import element

    el = element(name)
    np.testing.assert_allclose(el.phi.sum(1), 1.0, atol=1e-15)
    np.testing.assert_allclose(el.dphi.sum(1), 0.0, atol=1e-14)
    nodes = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]])[: el.nloc]
    np.testing.assert_allclose(el.basis(nodes), np.eye(el.nloc), atol=1e-15)


# -- the sparse Hessian ------------------------------------------------------------------------------


@pytest.mark.parametrize("element", ["P1", "P2"])
def test_sparse_hessian_matches_dense_autodiff(element):
    """The assembled CSR Hessian (element Hessians through the precomputed pattern) equals
    jax.hessian of the total discrete energy, restricted to the free unknowns; and it is symmetric."""
    mod = load("planar_scherk")
    mesh = Rectangle((0, 1), (0, 1)).triangulate(4)
    disc = Discretization(mod.problem, mesh, element)
    f = functions(mod.integrand, disc.element, (), False)
    X, E = jnp.asarray(disc.X), jnp.asarray(disc.edofs)
    U = jnp.asarray(np.sin(3 * disc.points[:, 0]) * disc.points[:, 1])
    J, g, Hel = f["derivatives"](U, X, E, None)
    H = disc.pattern.assemble(np.asarray(Hel)).toarray()
    dense = np.asarray(jax.hessian(lambda V: f["energy"](V, X, E, None))(U))[np.ix_(disc.free, disc.free)]
    np.testing.assert_allclose(H, dense, rtol=0, atol=1e-13)
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    g_fd = (
        f["energy"](U.at[disc.free[0]].add(1e-6), X, E, None) - f["energy"](U.at[disc.free[0]].add(-1e-6), X, E, None)
    ) / 2e-6
    assert abs(float(g[disc.free[0]]) - float(g_fd)) < 1e-8


def test_energy_integrates_exactly():
    """J_h of a P2 interpolant of a quadratic, for G = |∇u|² + u x: the degree-5 rule is exact."""
    prob = PlanarProblem(lambda u, du, x: du @ du + u * x[0], Rectangle((0, 1), (0, 2)))
    disc = Discretization(prob, Rectangle((0, 1), (0, 2)).triangulate(4), "P2")
    f = functions(prob.integrand, disc.element, (), False)
    x, y = disc.points.T
    U = jnp.asarray(x**2 + x * y)
    J = float(f["energy"](U, jnp.asarray(disc.X), jnp.asarray(disc.edofs), None))
    # ∫∫ (2x + y)² + x² + (x² + xy) x over [0,1]×[0,2] = 28/3 + 2/3 + (1/2 + 2/3)
    exact = 28 / 3 + 2 / 3 + 1 / 2 + 2 / 3
    assert abs(J - exact) < 1e-12


# -- Dirichlet problem: orders, natural boundary -------------------------------------------------


def test_dirichlet_p1_second_order_with_a_natural_edge():
    sols = [solve("planar_dirichlet", n) for n in N_P1]
    assert all(s.converged for s in sols)
    # a quadratic functional: one Newton step, then the check step
    assert all(s.iterations <= 2 for s in sols)
    for err in ([s.error() for s in sols], [s.l2_error() for s in sols], [s.value_error() for s in sols]):
        assert 1.9 < order(N_P1, err) < 2.2, err
    # the top edge (y = 1) is free: its nodes are unknowns and reach the exact values
    top = np.isclose(sols[-1].nodes[:, 1], 1.0) & (sols[-1].nodes[:, 0] > 0) & (sols[-1].nodes[:, 0] < 1)
    assert top.sum() == N_P1[-1] - 2
    assert np.max(np.abs(sols[-1].u[top] - load("planar_dirichlet").exact(sols[-1].nodes[top]))) < 2 * sols[-1].error()


def test_dirichlet_p2_third_order():
    sols = [solve("planar_dirichlet", n, "P2") for n in N_P2]
    assert all(s.converged for s in sols)
    assert 2.8 < order(N_P2, [s.error() for s in sols]) < 3.5
    assert 2.8 < order(N_P2, [s.l2_error() for s in sols]) < 3.3
    # value error O(h^4) (energy error = square of the energy-norm error)
    assert order(N_P2, [s.value_error() for s in sols]) > 3.7
    # P2 beats P1 on the same mesh (n = 17) by an order of magnitude
    assert solve("planar_dirichlet", 17, "P2").error() < 0.1 * solve("planar_dirichlet", 17).error()


# -- Scherk's minimal surface ----------------------------------------------------------------------


def test_scherk_p1_second_order_and_area():
    sols = [solve("planar_scherk", n) for n in N_SCHERK]
    assert all(s.converged for s in sols)
    assert 1.9 < order(N_SCHERK, [s.error() for s in sols]) < 2.3
    assert 1.9 < order(N_SCHERK, [s.value_error() for s in sols]) < 2.3
    s = sols[-1]
    # quadratic convergence at the end: the residual drops by many orders in the last steps
    r = s.history["residual"]
    assert r[-1] < 1e-8 * r[0]
    assert len(s.history["value"]) == s.iterations + 1
    assert np.all(np.diff(s.history["value"]) <= 1e-12)  # monotone: line search on the energy


def test_cg_path_agrees_with_direct():
    d = solve("planar_scherk", 17)
    c = solve("planar_scherk", 17, linear_solver="cg")
    assert c.converged and c.stats["linear_solver"] == "cg" and c.stats["linear_iterations_total"] > 0
    assert np.max(np.abs(c.u - d.u)) < 1e-9


def test_grid_sequencing_gives_the_same_solution():
    s = solve("planar_scherk", 33, sequence=True)
    assert s.converged and [lv["nodes"] for lv in s.stats["sequence"]] == [17**2]
    assert np.max(np.abs(s.u - solve("planar_scherk", 33).u)) < 1e-9
    assert s.iterations < solve("planar_scherk", 33).iterations


# -- annulus (polygon with a hole) and p-Laplacian (L-shaped polygon) ------------------------------


def test_catenoid_annulus():
    mod = load("planar_catenoid_annulus")
    s = solve("planar_catenoid_annulus", mod.n)
    assert s.converged
    r = np.hypot(*s.nodes.T)
    assert r.min() > mod.R1 * np.cos(np.pi / 60) and r.max() <= mod.R2 + 1e-12
    assert s.error() < 3e-3 and s.l2_error() < 3e-3
    assert s.value_error() < 1e-3 * mod.exact_area


def test_p_laplacian_l_shape():
    mod = load("planar_p_laplacian")
    # the hand-derived forcing equals -div(|∇u|² ∇u) by autodiff, and a third hand calculation
    x = np.random.default_rng(2).uniform(0, 1, (5, 2))
    f = np.asarray(jax.vmap(mod.forcing)(jnp.asarray(x)))
    np.testing.assert_allclose(f, np.asarray(jax.vmap(mod.forcing_autodiff)(jnp.asarray(x))), rtol=1e-13)
    a, b = np.cos(2 * x[:, 1]), np.sin(2 * x[:, 1])
    s2 = np.exp(2 * x[:, 0]) * (a * a + 4 * b * b)  # |∇u|²
    grad_s2 = np.column_stack([2 * s2, 12 * np.exp(2 * x[:, 0]) * a * b])
    du = np.exp(x[:, 0])[:, None] * np.column_stack([a, -2 * b])
    np.testing.assert_allclose(f, -((grad_s2 * du).sum(1) + s2 * (-3 * np.exp(x[:, 0]) * a)), rtol=1e-12)
    sols = [solve("planar_p_laplacian", n) for n in (17, 33)]
    assert all(s.converged for s in sols)
    assert 1.7 < np.log2(sols[0].error() / sols[1].error()) < 2.4
    assert 1.8 < np.log2(sols[0].l2_error() / sols[1].l2_error()) < 2.3
    assert sols[1].value_error() < 3e-3


# -- interface ------------------------------------------------------------------------------------


def test_interpolation_and_trimesh_and_selector_bc():
    s = solve("planar_dirichlet", 17, "P2")
    ex = load("planar_dirichlet").exact
    pts = np.random.default_rng(1).uniform(0, 1, (200, 2))
    assert np.max(np.abs(s(pts) - ex(pts))) < 3 * s.error() + 1e-4
    assert np.isnan(s(np.array([[1.5, 0.5]]))[0])
    # a user-given TriMesh with Dirichlet data selected by a callable: same solution as the Rectangle
    mod = load("planar_dirichlet")
    mesh = Rectangle((0, 1), (0, 1)).triangulate(9)
    user = TriMesh(mesh.nodes, mesh.triangles[:, ::-1])  # clockwise input is reoriented
    prob = PlanarProblem(
        mod.integrand,
        user,
        bc={(lambda p: (p[:, 1] < 1 - 1e-12) | (p[:, 0] < 1e-12) | (p[:, 0] > 1 - 1e-12)): mod.exact},
        exact=mod.exact,
    )
    np.testing.assert_allclose(solve_planar(prob).u, solve("planar_dirichlet", 9).u, atol=1e-12)


def test_vector_unknown_decouples():
    """u: Ω -> R², G = ½|∇u|² - f·u with f = (f, 2f): the components solve scalar problems."""
    mod = load("planar_dirichlet")
    G = lambda u, du, x: 0.5 * jnp.sum(du * du) - mod.forcing(x) * (u[0] + 2 * u[1])
    g = lambda p: np.column_stack([mod.exact(p), 2 * mod.exact(p)])
    prob = PlanarProblem(G, Rectangle((0, 1), (0, 1)), bc={"left": g, "right": g, "bottom": g}, components=2)
    s = solve_planar(prob, n=9)
    assert s.converged and s.u.shape == (81, 2)
    ref = solve("planar_dirichlet", 9).u
    np.testing.assert_allclose(s.u, np.column_stack([ref, 2 * ref]), atol=1e-12)


def test_params_are_passed():
    G = lambda u, du, x, p: 0.5 * du @ du - p * u
    prob = PlanarProblem(G, Rectangle((0, 1), (0, 1)), bc=lambda p: np.zeros(len(p)), params=1.0)
    a, b = solve_planar(prob, n=9), solve_planar(prob, n=9, params=3.0)
    np.testing.assert_allclose(b.u, 3 * a.u, atol=1e-13)


def test_bad_input_is_rejected_naming_the_argument():
    dom = Rectangle((0, 1), (0, 1))
    G = lambda u, du, x: du @ du
    with pytest.raises(TypeError, match="integrand"):
        PlanarProblem(3, dom)
    with pytest.raises(TypeError, match="domain"):
        PlanarProblem(G, (0, 1))
    with pytest.raises(ValueError, match="bc: unknown boundary part 'outer'"):
        PlanarProblem(G, dom, bc={"outer": 0.0})
    with pytest.raises(ValueError, match="integrand: G must return a scalar"):
        PlanarProblem(lambda u, du, x: du, dom)
    with pytest.raises(ValueError, match="components"):
        PlanarProblem(G, dom, components=0)
    with pytest.raises(ValueError, match="xrange"):
        Rectangle((1, 0), (0, 1))
    with pytest.raises(ValueError, match="holes\\[0\\]"):
        Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], holes=[[(2, 2), (3, 2), (3, 3)]])
    with pytest.raises(ValueError, match="triangles"):
        TriMesh([[0, 0], [1, 0], [0, 1]], [[0, 1, 5]])
    with pytest.raises(ValueError, match="degenerate"):
        TriMesh([[0, 0], [1, 0], [2, 0]], [[0, 1, 2]])
    prob = PlanarProblem(G, dom, bc=lambda p: np.zeros(len(p)))
    with pytest.raises(ValueError, match="element"):
        solve_planar(prob, n=5, element="P3")
    with pytest.raises(ValueError, match="linear_solver"):
        solve_planar(prob, n=5, linear_solver="lu")
    with pytest.raises(ValueError, match="guess"):
        solve_planar(prob, n=5, guess=np.zeros(3))


def test_failure_is_reported_not_hidden():
    """J = ∫ |∇u|² - 50 u² with no Dirichlet data is unbounded below (u = const): the start u = 0
    is a stationary point with an indefinite Hessian, which must not be reported as converged."""
    prob = PlanarProblem(lambda u, du, x: du @ du - u * u * 50.0, Rectangle((0, 1), (0, 1)))
    s = solve_planar(prob, n=5, solver=vc.Newton(max_iter=5))
    assert not s.converged and s.status != vc.Status.SUCCESS and s.message


def test_plot_and_cli(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from varcalc.cli import main

    assert main(["solve", "planar_dirichlet", "--n", "17", "--quiet", "--plot", str(tmp_path / "d.png")]) == 0
    out = capsys.readouterr().out
    assert "planar_dirichlet: converged" in out and "max nodal error" in out
    assert (tmp_path / "d.png").stat().st_size > 10_000


def test_vc_problem_and_vc_solve_dispatch_on_a_planar_domain():
    """``vc.Problem`` with a Rectangle/Polygon/TriMesh domain is a PlanarProblem; ``vc.solve`` solves it."""
    G = lambda u, du, x: 0.5 * du @ du - u  # -Δu = 1
    prob = vc.Problem(G, vc.Rectangle((0, 1), (0, 1)), bc=lambda x: np.zeros(len(x)))
    assert isinstance(prob, vc.PlanarProblem)
    sol = vc.solve(prob, n=9)
    ref = vc.solve_planar(prob, n=9)
    assert sol.converged and np.array_equal(sol.u, ref.u)
    with pytest.raises(ValueError, match="mode: not available for a 2-D"):
        vc.solve(prob, n=9, mode="stationary")
