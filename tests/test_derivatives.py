"""Autodiff pieces against independent references: finite differences and dense jax.hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from integrands import catenary, quadratic, sphere_energy, travel_time

import varcalc as vc
from varcalc.linalg import block_tridiag_dense, block_tridiag_matvec, block_tridiag_solve
from varcalc.solve import discretize

N = 17  # small: the dense references are O(n²)


def _cases():
    rng = np.random.default_rng(0)
    x_graded = vc.graded_grid((0.0, 1.0), N, power=2.0)
    wiggle = 0.05 * rng.standard_normal(N)
    yield "catenary-uniform", vc.Problem(catenary, (-1.0, 1.0), {"left": 1.5, "right": 1.5}), None, 1.5 + wiggle
    yield "quadratic-free-ends", vc.Problem(quadratic, (0.0, 2.0)), vc.graded_grid((0.0, 2.0), N, 1.5, "both"), wiggle
    # Singular end: tanh-sinh points within 1e-45 of x = 0 must still give exact derivatives.
    yield (
        "brachistochrone-singular",
        vc.Problem(travel_time, (0.0, 1.0), {"left": 0.0, "right": 0.6}),
        x_graded,
        0.6 * np.sqrt(x_graded) + 0.01 * np.sin(7 * x_graded),
    )
    yield (
        "sphere-vector",
        vc.Problem(sphere_energy, (0.0, 1.0), {"left": [1.5, 0.0], "right": [0.8, 1.0]}),
        None,
        np.stack([np.linspace(1.5, 0.8, N), np.linspace(0, 1, N) ** 2], axis=1) + wiggle[:, None],
    )


CASES = list(_cases())


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES], scope="module")
def case(request):
    _, problem, grid, guess = request.param
    disc = discretize(problem, None if grid is not None else N, grid=grid, guess=guess)
    U = jnp.asarray(disc.U0.T)  # components first, (m, n)
    # Compare on the free nodes: at a singular Dirichlet end (f = 0 in 1/sqrt(f)) the derivatives
    # in the fixed node's direction are infinite, and the solver never uses them.
    free_nodes = np.flatnonzero(~disc.fixed.all(axis=0))
    return _Bound(disc), U, jnp.asarray(disc.x), slice(free_nodes[0], free_nodes[-1] + 1)


class _Bound:
    """The discretization's cell functional with its global unknowns and constants bound."""

    def __init__(self, disc):
        self.F, self.z, self.aux = disc.functional, jnp.asarray(disc.z0), disc.aux()

    def value(self, U, x):
        return self.F.value(U, x, self.z, self.aux)

    def gradient(self, U, x):
        return self.F.gradient(U, x, self.z, self.aux)

    def derivatives(self, U, x):
        return self.F.derivatives(U, x, self.z, self.aux)[:5]

    def hessian_blocks(self, U, x):
        return self.F.hessian_blocks(U, x, self.z, self.aux)

    def hvp(self, U, x, V):
        return self.F.hvp(U, x, V, self.z, self.aux)


def test_gradient_matches_central_differences(case):
    F, U, x, free = case
    g = np.asarray(F.gradient(U, x))
    value = jax.jit(F.value)
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = np.zeros(U.shape)
        v[:, free] = rng.standard_normal(v[:, free].shape)
        # Step ~ eps^(1/3) * scale for a central difference (error O(eps^(2/3))).
        eps = 1e-5
        fd = (value(U + eps * v, x) - value(U - eps * v, x)) / (2 * eps)
        assert np.isclose(float(fd), float(np.sum(g * v)), rtol=1e-6, atol=1e-8)


def test_fused_gradient_equals_jax_grad(case):
    F, U, x, free = case
    _, _, g, _, _ = F.derivatives(U, x)
    np.testing.assert_allclose(g[:, free], F.gradient(U, x)[:, free], rtol=1e-12, atol=1e-12)


def test_block_hessian_equals_dense_hessian_and_is_symmetric(case):
    F, U, x, free = case
    m, n = U.shape
    diag, upper = F.hessian_blocks(U, x)
    diag, upper = diag[free], upper[free.start : free.stop - 1]
    H_banded = np.asarray(block_tridiag_dense(diag, upper))
    # Dense reference: jax.hessian of J_h over node-major flattened unknowns.
    flat_value = lambda u: F.value(u.reshape(n, m).T, x)
    H_dense = np.asarray(jax.hessian(flat_value)(U.T.reshape(-1)))
    H_dense = H_dense[free.start * m : free.stop * m, free.start * m : free.stop * m]
    scale = np.max(np.abs(H_dense))
    np.testing.assert_allclose(H_banded, H_dense, rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_allclose(H_dense, H_dense.T, rtol=0, atol=1e-12 * scale)
    for i in range(m):
        np.testing.assert_allclose(diag[:, i, :], np.swapaxes(diag, 1, 2)[:, i, :], atol=1e-12 * scale)


def test_hessian_vector_product_forward_over_reverse(case):
    F, U, x, free = case
    diag, upper = F.hessian_blocks(U, x)
    diag, upper = diag[free], upper[free.start : free.stop - 1]
    V = np.zeros(U.shape)
    V[:, free] = np.random.default_rng(2).standard_normal(V[:, free].shape)
    hv = np.asarray(F.hvp(U, x, jnp.asarray(V)))[:, free]  # (m, n_free)
    ref = np.asarray(block_tridiag_matvec(diag, upper, jnp.asarray(V[:, free].T))).T
    np.testing.assert_allclose(hv, ref, rtol=1e-10, atol=1e-10 * np.max(np.abs(ref)))


@pytest.mark.parametrize("m", [1, 3])
def test_block_tridiagonal_solve_and_inertia(m):
    rng = np.random.default_rng(3 + m)
    n = 12
    diag = rng.standard_normal((n, m, m))
    diag = diag + np.swapaxes(diag, 1, 2)
    upper = 0.3 * rng.standard_normal((n - 1, m, m))
    for shift in (0.0, 4.0):  # indefinite, then positive definite
        d = diag + shift * np.eye(m)
        H = np.asarray(block_tridiag_dense(jnp.asarray(d), jnp.asarray(upper)))
        b = rng.standard_normal((n, m))
        x, n_neg, min_pivot = block_tridiag_solve(jnp.asarray(d), jnp.asarray(upper), jnp.asarray(b))
        np.testing.assert_allclose(H @ np.asarray(x).reshape(-1), b.reshape(-1), atol=1e-9)
        eig = np.linalg.eigvalsh(H)
        assert int(n_neg) == int(np.sum(eig < 0))  # Sylvester's law of inertia
        assert (float(min_pivot) > 0) == bool(eig.min() > 0)
