"""vc.solve_batch: a batch equals its one-by-one solves, failures stay in their lane, sharding over
several (virtual CPU) devices, results files, `varcalc sweep`.

Compile budget: one batched solver (chunks of 4 lanes, 21 nodes) and its unbatched twin serve the
module; the sharded run compiles in its own subprocess; the CLI sweep compiles one more.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc
import varcalc.batch as vb
from varcalc.cli import _Ticker, main

N = 21
CHUNK = 4
COSH1 = float(np.cosh(1.0))


def shifted_catenary(f, df, x, p):
    """Hanging cable with its height shifted by s: y = f + s is a catenary (if one exists)."""
    return (f + p["s"]) * jnp.sqrt(1.0 + df**2)


PROBLEM = vc.Problem(
    shifted_catenary,
    (-1.0, 1.0),
    bc={"left": COSH1, "right": COSH1},
    params={"s": 0.0},
    exact=np.cosh,
    name="shifted_catenary",
)
# Lane 2 has equal ends at height 1.2 < 1.5089·(half-width): no catenary exists, Newton must fail.
LEFT = np.array([COSH1, 1.8, 1.2, 2.0, 1.6, 1.7])
RIGHT = np.array([COSH1, 1.6, 1.2, 1.7, 1.9, 1.7])
SHIFT = np.array([0.0, 0.1, 0.0, -0.1, 0.05, 0.2])
FAILING = 2


def lane_guesses():
    """Per-lane guesses: the straight line between the lane's ends plus a lane-dependent sag."""
    x = np.linspace(-1.0, 1.0, N)
    t = (x + 1) / 2
    return (1 - t) * LEFT[:, None] + t * RIGHT[:, None] - 0.05 * np.arange(6)[:, None] * (1 - x**2)


@pytest.fixture(scope="module")
def batch():
    calls = []
    b = vc.solve_batch(
        PROBLEM,
        n=N,
        params={"s": SHIFT},
        bc={"left": LEFT, "right": RIGHT},
        guess=lane_guesses(),
        chunk_size=CHUNK,
        progress=lambda *a: calls.append(a),
    )
    b.progress_calls = calls
    return b


@pytest.fixture(scope="module")
def singles():
    G = lane_guesses()
    return [
        vc.solve(
            vc.Problem(shifted_catenary, (-1.0, 1.0), bc={"left": LEFT[i], "right": RIGHT[i]}, params={"s": 0.0}),
            n=N,
            params={"s": SHIFT[i]},
            guess=G[i],
        )
        for i in range(LEFT.size)
    ]


def test_batch_equals_one_by_one_solves(batch, singles):
    assert len(batch) == 6 and batch.f.shape == (6, N) and batch.x.shape == (N,)
    for i, s in enumerate(singles):
        assert batch.status[i] == s.status and batch.iterations[i] == s.iterations
        if i == FAILING:
            continue
        assert s.converged
        np.testing.assert_allclose(batch.f[i], s.f, rtol=0, atol=1e-12)
        assert abs(batch.value[i] - s.value) <= 1e-12 * abs(s.value)
        assert batch.residual[i] == pytest.approx(s.history[-1], rel=1e-6, abs=1e-12)
    # Lane 0 is the unshifted catenary: O(h²) nodal error against cosh x (h = 0.1: about 1e-3).
    assert np.max(np.abs(batch.f[0] - np.cosh(batch.x))) < 5e-3


def test_a_failing_lane_does_not_spoil_the_others(batch):
    assert not batch.converged[FAILING] and batch.status[FAILING] != vc.Status.SUCCESS
    others = np.delete(np.arange(6), FAILING)
    assert batch.converged[others].all() and (batch.status[others] == vc.Status.SUCCESS).all()
    # The failed lane ran to max_iter while the others stopped at their own count.
    assert batch.iterations[FAILING] == vc.Newton().max_iter and batch.iterations[others].max() < 15
    assert "did not converge" in batch.messages[FAILING] and batch.messages[0].startswith("converged")


def test_lane_is_an_ordinary_solution(batch):
    sol = batch[-1]
    assert isinstance(sol, vc.Solution) and sol is batch[5]
    assert sol.converged and sol.history.shape == (sol.iterations + 1,) and sol.history[-1] < 1e-8
    assert sol.stats["batch"] == {"lane": 5, "size": 6, "time": batch.time}
    assert sol.params == {"s": SHIFT[5]} and sol.problem.bc == {"left": LEFT[5], "right": RIGHT[5]}
    assert sol.problem.exact is None  # other end values: the template's exact solution does not apply
    np.testing.assert_array_equal(sol.f, batch.f[5])
    np.testing.assert_array_equal(batch.guess[3], lane_guesses()[3])
    with pytest.raises(IndexError, match="lane 6"):
        batch[6]
    with pytest.raises(TypeError, match="index"):
        batch[1:3]


def test_chunks_and_progress(batch):
    assert batch.chunk_size == CHUNK
    done = [c[0] for c in batch.progress_calls]
    assert done == [4, 6] and all(c[1] == 6 for c in batch.progress_calls)
    assert batch.progress_calls[-1][2] == 5  # converged lanes so far


def test_results_files(batch, tmp_path):
    batch.save(tmp_path / "b.csv")
    rows = (tmp_path / "b.csv").read_text().splitlines()
    assert rows[0] == "lane,s,bc_left,bc_right,value,converged,status,iterations,residual" and len(rows) == 7
    assert rows[FAILING + 1].split(",")[5:7] == ["0", "UNBOUNDED"]  # no catenary: f runs off below 0
    assert float(rows[2].split(",")[4]) == batch.value[1]
    batch.save(tmp_path / "b.json")
    d = json.loads((tmp_path / "b.json").read_text())
    assert d["size"] == 6 and d["converged"] == 5 and d["lanes"][1]["s"] == SHIFT[1]
    assert d["lanes"][FAILING]["converged"] is False and "did not converge" in d["lanes"][FAILING]["message"]
    batch.save(tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as z:
        np.testing.assert_array_equal(z["f"], batch.f)
        np.testing.assert_array_equal(z["param_s"], SHIFT)
        np.testing.assert_array_equal(z["bc_right"], RIGHT)
        assert json.loads(str(z["meta"]))["name"] == "shifted_catenary"
    with pytest.raises(ValueError, match="path"):
        batch.save(tmp_path / "b.txt")
    fig = batch.plot(tmp_path / "b.png", against="bc_right")
    assert len(fig.axes) == 2 and (tmp_path / "b.png").stat().st_size > 10_000


def test_bad_input_names_the_argument():
    B = np.ones(3)
    with pytest.raises(ValueError, match="bc: 'left'"):  # a free end cannot be given values
        vc.solve_batch(
            vc.Problem(shifted_catenary, (-1.0, 1.0), bc={"right": 1.0}, params={"s": 0.0}), n=N, bc={"left": B}
        )
    with pytest.raises(ValueError, match=r"bc\['right'\]: expected shape \(B,\)"):
        vc.solve_batch(PROBLEM, n=N, bc={"right": 1.5})
    with pytest.raises(ValueError, match="different batch sizes"):
        vc.solve_batch(PROBLEM, n=N, params={"s": np.zeros(2)}, bc={"right": B})
    with pytest.raises(ValueError, match="nothing has a batch axis"):
        vc.solve_batch(PROBLEM, n=N)
    with pytest.raises(ValueError, match="params: expected the structure"):
        vc.solve_batch(PROBLEM, n=N, params={"t": B})
    with pytest.raises(ValueError, match="params: expected leaves of shape"):
        vc.solve_batch(PROBLEM, n=N, params={"s": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="guess: expected node values"):
        vc.solve_batch(PROBLEM, n=N, guess=np.ones((3, N + 1)))
    with pytest.raises(ValueError, match="guess: non-finite value at x = 0.0 \\(lane 1\\)"):
        G = np.ones((3, N))
        G[1, N // 2] = np.nan
        vc.solve_batch(PROBLEM, n=N, guess=G)
    with pytest.raises(ValueError, match="chunk_size"):
        vc.solve_batch(PROBLEM, n=N, bc={"right": B}, chunk_size=0)
    with pytest.raises(ValueError, match="devices"):
        vc.solve_batch(PROBLEM, n=N, bc={"right": B}, devices=99)
    with pytest.raises(TypeError, match="solver"):
        vc.solve_batch(PROBLEM, n=N, bc={"right": B}, solver={"max_iter": 3})
    with pytest.raises(TypeError, match="problem"):
        vc.solve_batch(shifted_catenary, n=N, bc={"right": B})


def test_initial_unknowns_match_a_single_discretization():
    """The vectorised set-up of V0 (slopes for order 2, Dirichlet slope values per lane) equals
    what vc.solve builds for each lane, without solving anything."""
    beam = vc.Problem(
        lambda f, df, d2f, x: 0.5 * d2f**2 - f, (0.0, 1.0), bc={"left": 0.0, "left'": 0.0, "right": 0.0}, order=2
    )
    B, n = 3, 9
    bc = {"left'": np.array([0.0, 0.5, -1.0]), "right": np.array([0.0, 0.2, 0.4])}
    disc = vc.discretize(beam, n)
    x = disc.x_user
    lane_problem = vb._lane_problem_factory(beam, bc, None)
    U0 = vb._default_and_bc(beam, x, None, bc, B)
    V0, _ = vb._initial_unknowns(disc, beam, U0, bc, B)
    for i in range(B):
        want = vc.discretize(lane_problem(i), n)
        np.testing.assert_allclose(V0[i], want.V0, rtol=0, atol=1e-15)


def test_singular_ends_are_the_union_over_lanes():
    """One lane released at rest (f(0) = 0, singular 1/sqrt(f)) makes the left end singular for all."""
    p = vc.Problem(lambda f, df, x: jnp.sqrt((1 + df**2) / f), (0.0, 1.0), bc={"left": 0.5, "right": 1.0})
    bc = {"left": np.array([0.5, 0.0, 0.3])}
    disc = vc.discretize(p, 9, singular_ends=())
    U0 = vb._default_and_bc(p, disc.x_user, None, bc, 3)
    assert vb._union_singular_ends(disc, U0, disc.aux(), frozenset()) == ("left",)
    assert vb._union_singular_ends(disc, U0[[0, 2]], disc.aux(), frozenset()) == ()


SHARDED = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import jax
    import varcalc as vc
    from test_batch import PROBLEM, LEFT, RIGHT, SHIFT, N, lane_guesses
    assert len(jax.devices()) == 4, jax.devices()
    # 6 lanes on 4 devices in chunks of 8 (padded): each device iterates on its own 2 lanes.
    b = vc.solve_batch(PROBLEM, n=N, params={{"s": SHIFT}}, bc={{"left": LEFT, "right": RIGHT}},
                       guess=lane_guesses(), devices="all", chunk_size=5)
    print(json.dumps(dict(devices=b.devices, chunk=b.chunk_size, f=b.f.tolist(), status=b.status.tolist(),
                          iterations=b.iterations.tolist())))
""")


def test_sharding_over_four_virtual_cpu_devices(batch):
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu", VARCALC_NO_CACHE="1"
    )
    code = SHARDED.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["devices"] == 4 and got["chunk"] == 8
    assert got["status"] == batch.status.tolist() and got["iterations"] == batch.iterations.tolist()
    ok = batch.converged
    np.testing.assert_allclose(np.array(got["f"])[ok], batch.f[ok], rtol=0, atol=1e-12)


def test_sweep_cli_writes_results_and_plot(tmp_path, capsys):
    """parametric_catenoid: R/L below 1.5089 has no catenoid (those lanes fail, the rest converge)."""
    csv, npz, png = tmp_path / "s.csv", tmp_path / "s.npz", tmp_path / "s.png"
    code = main(
        [
            "sweep",
            "parametric_catenoid",
            "--param",
            "R",
            "--values",
            "0.7:1.0:7",
            "--n",
            str(N),
            "--out",
            str(csv),
            "--out",
            str(npz),
            "--plot",
            str(png),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1  # not every lane converged
    assert "7 problems over R" in out and "5 converged" in out
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("lane,L,R,value,converged") and len(rows) == 8
    with np.load(npz) as z:
        np.testing.assert_allclose(z["param_R"], np.linspace(0.7, 1.0, 7))
        assert z["converged"].tolist() == [False, False, True, True, True, True, True]
        from varcalc.problems import parametric_catenoid as pc

        for R, J, ok in zip(z["param_R"], z["value"], z["converged"]):
            if ok:  # O(h²) on 21 nodes: the area to about 1e-3
                assert abs(J - pc.exact_value_for({"R": R, "L": 0.5})) < 3e-3 * J
    assert png.stat().st_size > 10_000
    # A boundary value: the same compiled batch (only the initial unknowns change).
    code = main(["sweep", "parametric_catenoid", "--bc-right", "0,0.05,0.1", "--n", str(N), "--no-plot", "--quiet"])
    assert code == 0 and "3 problems over bc_right" in capsys.readouterr().out
    assert main(["sweep", "parametric_catenoid", "--param", "R"]) == 2
    assert "--values: required with --param" in capsys.readouterr().err
    assert main(["sweep", "parametric_catenoid", "--param", "Q", "--values", "1,2"]) == 2
    assert "--param: expected one of ['R', 'L']" in capsys.readouterr().err


def test_progress_ticker_for_long_single_solves(capsys):
    with _Ticker("solving x", after=0.05, every=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "... solving x:" in err and "compilation" in err
    with _Ticker("quick", after=5.0):
        pass
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("n", [2, 513])
def test_parallel_tridiagonal_solve_matches_the_sequential_one(n):
    """The GPU path of linalg (tridiagonal_solve + pivots by a parallel prefix product): the same
    solution, number of negative eigenvalues and smallest pivot as the LDLᵀ scan, batched too."""
    from varcalc.linalg import _scalar_solve, _scalar_solve_parallel

    rng = np.random.default_rng(n)
    e = rng.uniform(-1.0, 1.0, (3, n - 1))
    d = np.stack(
        [
            2.0 + rng.uniform(0, 0.1, n),  # positive definite (diagonally dominant)
            rng.uniform(-2.0, 2.0, n),  # indefinite
            np.where(np.arange(n) % 5 == 0, 1.0, 2.5),
        ]
    )  # with decoupled (identity-like) rows
    e[2, ::5] = 0.0
    r = rng.normal(size=(3, n, 2))
    seq = jax_vmap(_scalar_solve)(d, e, r)
    par = jax_vmap(_scalar_solve_parallel)(d, e, r)
    for k in range(3):
        A = np.diag(d[k]) + np.diag(e[k], 1) + np.diag(e[k], -1)
        np.testing.assert_allclose(np.asarray(par[0][k]), np.linalg.solve(A, r[k]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.asarray(par[0][k]), np.asarray(seq[0][k]), rtol=1e-9, atol=1e-9)
        assert int(par[1][k]) == int(seq[1][k]) == int(np.sum(np.linalg.eigvalsh(A) < 0))
        assert float(par[2][k]) == pytest.approx(float(seq[2][k]), rel=1e-9)
    assert int(par[1][0]) == 0 and float(par[2][0]) > 0


def jax_vmap(fun):
    import jax

    return jax.jit(jax.vmap(fun))


def arc_length(f, df, x):
    return jnp.sqrt(1.0 + df**2)


def chain_energy(f, df, x):
    return f * jnp.sqrt(1.0 + df**2)


def test_integral_values_vary_per_lane():
    """Hanging chains of several lengths (an Integral constraint): a chain shorter than the distance
    between its supports (lane 1) fails in its lane, naming the constraint; the others match vc.solve."""
    chain = vc.Problem(
        chain_energy,
        (-1.0, 1.0),
        bc={"left": 0.0, "right": 0.5},
        constraints=[vc.Integral(arc_length, 3.0, name="length")],
    )
    lengths = np.array([2.5, 1.5, 3.0])  # the supports are sqrt(4.25) = 2.06 apart
    b = vc.solve_batch(chain, n=N, constraint_values={"length": lengths})
    assert b.converged.tolist() == [True, False, True]
    assert b.status[1] == b[1].status != vc.Status.SUCCESS  # the lane's full report refines it
    assert "The constraint 'length' is violated" in b.messages[1]
    assert b.columns()["length"].tolist() == lengths.tolist()
    for i in (0, 2):
        s = vc.solve(chain, n=N, constraint_values={"length": lengths[i]})
        np.testing.assert_allclose(b.f[i], s.f, rtol=0, atol=1e-12)
        assert b[i].multipliers["length"] == pytest.approx(s.multipliers["length"], rel=1e-12)
        assert b[i].constraint_residuals["length"] < 1e-10
