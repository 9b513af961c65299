"""Singular ends with high-order elements (``vc.solve(..., degree=p)``, :mod:`varcalc.endmap`).

The anchor of issue 4: PSOPT's brachistochrone (from rest at (0, 0) to (2, 2), g = 9.8; PSOPT
reports t_f = 0.8247591 with 40 Legendre nodes, local error 2.8e-7) in varcalc's graph form, to
1e-9 relative in T with fewer than 200 unknowns.  Measured here: degree 8 on 4 cells, 30 unknowns,
error ~1e-16; degree 3 / 4 / 6 on the same 4 cells: 6e-8, 1.5e-10, 5e-15 (spectral in p).
Solves are cached per (problem, n, p): one compilation each.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conventions import cached_solve, check_module_convention
from varcalc.problems import brachistochrone_psopt as psopt

import varcalc as vc
from varcalc.endmap import EndMap, singular_power

_solve = cached_solve


def _relative_error(sol):
    return abs(sol.value - sol.problem.exact_value) / sol.problem.exact_value


def _free_unknowns(sol):
    disc = sol._state[0]
    return int(np.sum(~np.asarray(disc.fixed)))


def test_psopt_module_convention():
    check_module_convention(psopt, "brachistochrone_psopt")


def test_psopt_anchor_below_1e9_with_fewer_than_200_unknowns():
    sol = _solve(psopt.problem, psopt.n, psopt.solve_options["degree"])
    assert sol.converged
    assert sol.end_map is not None and sol.end_map.powers == (3, 1)  # found from the integrand
    assert sol.singular_ends == ("left",)
    assert _free_unknowns(sol) == 30 < 200
    assert _relative_error(sol) < 1e-9  # the target; measured ~1e-16
    assert sol.error() < 1e-12  # nodal, against the cycloid
    xq = np.linspace(0.0, 2.0, 97)  # the element polynomials in s, evaluated through s = φ⁻¹(x)
    assert np.max(np.abs(sol(xq) - psopt.exact(xq))) < 1e-9
    assert sol.l2_error() < 1e-9


def test_spectral_convergence_in_p():
    errors = [_relative_error(_solve(psopt.problem, 5, p)) for p in (3, 4, 6)]
    # Each step in p gains a large factor (measured 6e-8 -> 1.5e-10 -> 5e-15): no algebraic
    # rate from the x^(2/3) start survives the map.
    assert errors[0] > 300 * errors[1] and errors[1] > 1e3 * errors[2], errors
    assert errors[2] < 1e-13


def test_the_mapped_solution_is_certified_and_estimated():
    sol = _solve(psopt.problem, 5, 4)
    assert sol.verdict == "strict local minimum"
    fine = _solve(psopt.problem, 5, 6)
    # λ_min of δ²J with the L² mass in x (GLL weights times φ'(s)): one value on both grids.
    assert (
        abs(sol.certificate.smallest_eigenvalue - fine.certificate.smallest_eigenvalue)
        < 1e-4 * fine.certificate.smallest_eigenvalue
    )
    est = sol.error_estimate  # two-grid: the s-cells halved under the same map
    true = abs(sol.value - psopt.exact_value)
    assert 1 / 3 <= est.value_error / true <= 3


def test_both_ends_singular_full_arch():
    """From rest at (0, 0) to (X, 0) at the same height: the whole cycloid arch, f ~ x^(2/3) at both
    ends, T = 2π sqrt(R / g) with R = X / (2π)."""
    X, g = 2.0, psopt.g
    T = 2 * np.pi * np.sqrt(X / (2 * np.pi) / g)
    arch = vc.Problem(psopt.integrand, (0.0, X), bc={"left": 0.0, "right": 0.0}, exact_value=T, name="arch")
    sol = _solve(arch, 5, 6, guess=lambda x: 0.3 * np.sin(np.pi * x / X))
    assert sol.converged and sol.end_map.powers == (3, 3)
    assert _relative_error(sol) < 1e-10  # measured 2.7e-12
    with pytest.raises(ValueError, match="n: mapping both singular ends needs at least 3 nodes"):
        vc.solve(arch, n=2, degree=6, guess=lambda x: 0.3 * np.sin(np.pi * x / X))


def test_given_power_and_errors():
    p = psopt.problem
    sol = _solve(p, 5, 4, singular_ends={"left": 3})  # the same as found
    assert abs(sol.value - _solve(p, 5, 4).value) < 1e-15
    with pytest.raises(ValueError, match="positive integer"):
        vc.solve(p, n=5, degree=4, singular_ends={"left": 0})
    with pytest.raises(ValueError, match="Dirichlet ends"):
        vc.solve(p, n=5, degree=4, singular_ends={"middle": 3})
    free = vc.Problem(psopt.integrand, (0.0, 1.0), bc={"left": 0.0})
    with pytest.raises(ValueError, match="Dirichlet ends"):
        vc.solve(free, n=5, degree=4, singular_ends=("right",))
    # The power of a non-Fermat singular integrand cannot be found: the message says what to give.
    log = vc.Problem(lambda f, df, x: df**2 + jnp.log(f) ** 2, (0.0, 1.0), bc={"left": 0.0, "right": 1.0})
    with pytest.raises(ValueError, match="singular_ends=\\{'left': k\\}"):
        vc.solve(log, n=5, degree=3)


@pytest.mark.parametrize("powers", [(3, 1), (1, 2), (3, 3), (2, 4)])
def test_end_map_inverse_and_derivative(powers):
    m = EndMap(powers, -1.0, 2.0)
    s = np.linspace(0.0, 1.0, 41)
    x = m.x_of_s(s)
    assert x[0] == -1.0 and abs(x[-1] - 2.0) < 1e-15 and np.all(np.diff(x) > 0)
    assert np.max(np.abs(m.s_of_x(x) - s)) < 1e-12
    h = 1e-6
    si = s[1:-1]
    fd = (m.x_of_s(si + h) - m.x_of_s(si - h)) / (2 * h)
    assert np.max(np.abs(fd - m.dx_ds(si))) < 1e-7
    fd2 = (m.dx_ds(si + h) - m.dx_ds(si - h)) / (2 * h)
    assert np.max(np.abs(fd2 - m.d2x_ds2(si))) < 1e-6
    kl, kr = powers  # x - a ∝ s^kl and b - x ∝ (1 - s)^kr near the ends
    assert abs(np.log((m.x_of_s(2e-3) + 1) / (m.x_of_s(1e-3) + 1)) / np.log(2) - kl) < 1e-2
    assert abs(np.log((2 - m.x_of_s(1 - 2e-3)) / (2 - m.x_of_s(1 - 1e-3))) / np.log(2) - kr) < 1e-2


def test_singular_power_from_the_integrand():
    fermat = lambda beta: lambda f, df, x: np.sqrt(1 + df**2) * f ** (-beta)
    assert singular_power(fermat(0.5), 0.0, 1, 0.0, "left") == 3  # f ~ x^(2/3)
    assert singular_power(fermat(1 / 3), 0.0, 1, 0.0, "left") == 4  # f ~ x^(3/4)
    assert singular_power(fermat(0.5), 0.0, 1, 1.0, "right") == 3
    assert "Fermat" in singular_power(lambda f, df, x: df**2 / f, 0.0, 1, 0.0, "left")
    assert "β" in singular_power(fermat(1.0), 0.0, 1, 0.0, "left")  # infinite travel time


def test_tol_with_degree_raises_p_until_the_levels_agree():
    """``vc.solve(problem, tol=..., degree=p)``: p-refinement (2 -> ... -> 16, then halved cells),
    the singular start found and mapped with no grid given; the same (n, p) as above: no compile."""
    sol = vc.solve(psopt.problem, tol=1e-12, degree=4)
    hist = sol.stats["mesh_history"]
    assert sol.converged and sol.stats["tol_met"]
    assert [h["degree"] for h in hist] == [4, 6, 8] and hist[0]["estimate"] is None
    assert hist[-1]["estimate"] <= 1e-12 * sol.value and hist[-1]["unknowns"] == 30
    assert _relative_error(sol) < 1e-12  # measured 1e-16: the estimate (4e-15) is conservative
    with pytest.raises(ValueError, match="n: expected an integer >= 3"):
        vc.solve(psopt.problem, tol=1e-8, degree=4, n=2)
    with pytest.raises(ValueError, match="tol"):
        vc.solve(psopt.problem, tol=-1.0, degree=4)


def test_diagnostics_use_the_element_polynomials():
    """The strong Euler–Lagrange residual and the first integral from the degree-p polynomials
    (chain rule through x = φ(s)), at every cell's GLL nodes but the mapped start (f' = ∞ there)."""
    low, high = _solve(psopt.problem, 5, 4), _solve(psopt.problem, 5, 8)
    r_low = np.max(np.abs(vc.euler_lagrange_residual(low)[1]))
    x, r = vc.euler_lagrange_residual(high)
    assert x.size == 4 * 8 and x[0] > 0 and np.all(np.isfinite(r))
    assert np.max(np.abs(r)) < 1e-3 * r_low  # measured 9.2e-4 -> 3.8e-7
    _, E = vc.first_integral(high)
    assert np.ptp(E) < 1e-7 * np.max(np.abs(E))  # measured 2.1e-8


def test_save_load_keeps_the_element_polynomials(tmp_path):
    sol = _solve(psopt.problem, 5, 8)
    sol.save(tmp_path / "psopt.npz")
    back = vc.load(tmp_path / "psopt.npz")
    assert back.degree == 8 and back.end_map.powers == (3, 1)
    xq = np.linspace(0.0, 2.0, 33)
    assert np.max(np.abs(back(xq) - sol(xq))) == 0.0


def test_grad_through_a_mapped_high_order_solve():
    """``jax.grad`` through ``vc.solve(..., degree=8)`` (implicit function theorem, as for degree 1):
    dT/dY of the travel time to (2, Y) against central differences of the exact cycloid time, and
    the curve's sensitivity d f(1)/dY against differences of re-solves."""
    from varcalc.problems import brachistochrone as brach

    solve_Y = lambda Y: vc.solve(psopt.problem, n=5, degree=8, bc={"right": Y})
    dT = float(jax.grad(lambda Y: solve_Y(Y).value)(2.0))

    def exact_T(Y):
        R, theta = brach.cycloid(2.0, Y)
        return theta * np.sqrt(R / psopt.g)

    h = 1e-5
    fd = (exact_T(2.0 + h) - exact_T(2.0 - h)) / (2 * h)
    assert abs(dT - fd) < 1e-8 * abs(fd)  # measured 1e-10 (the difference quotient's own error)
    df = float(jax.grad(lambda Y: solve_Y(Y)(1.0))(2.0))  # sol(x) of a TracedSolution: the elements
    fd_f = (
        vc.solve(psopt.problem, n=5, degree=8, bc={"right": 2.0 + h})(1.0)
        - vc.solve(psopt.problem, n=5, degree=8, bc={"right": 2.0 - h})(1.0)
    ) / (2 * h)
    assert abs(df - float(fd_f)) < 1e-7 * abs(df)


def test_vmap_batches_high_order_solves():
    """``jax.vmap`` over the end depth: one compiled degree-8 solve for the batch, each lane the
    same as its own ``vc.solve`` and exact to ~1e-13 (Y = 1 ... 3: the cycloid ends before 2π)."""
    from varcalc.problems import brachistochrone as brach

    Ys = np.array([1.0, 1.5, 2.0, 3.0])
    T = jax.jit(jax.vmap(lambda Y: vc.solve(psopt.problem, n=5, degree=8, bc={"right": Y}).value))(Ys)
    exact = []
    for Y in Ys:
        R, theta = brach.cycloid(2.0, Y)
        exact.append(theta * np.sqrt(R / psopt.g))
    assert np.max(np.abs(np.asarray(T) - exact) / exact) < 1e-12  # measured 1e-13


def test_solve_batch_with_degree():
    """``vc.solve_batch(..., degree=8)``: every lane on lane 0's map; a lane's report is the one
    ``vc.solve`` gives (the same map, the element polynomials)."""
    Ys = np.array([1.0, 2.0, 3.0])
    batch = vc.solve_batch(psopt.problem, n=5, degree=8, bc={"right": Ys})
    assert batch.converged.all()
    lane = batch[1]
    assert lane.degree == 8 and lane.end_map.powers == (3, 1)
    assert abs(lane.value - psopt.exact_value) < 1e-15 * 10
    xq = np.linspace(0.0, 2.0, 9)
    assert np.max(np.abs(lane(xq) - psopt.exact(xq))) < 1e-9
