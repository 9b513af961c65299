"""What a user touches: Solution (interpolation, I/O, plots), the CLI, the README example."""

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from integrands import catenary

import varcalc as vc
from varcalc.cli import main

ROOT = Path(__file__).resolve().parents[1]
N = 21


@pytest.fixture(scope="module")
def sol():
    problem = vc.Problem(
        catenary, (-1.0, 1.0), bc={"left": np.cosh(1.0), "right": np.cosh(1.0)}, exact=np.cosh, name="catenary"
    )
    return vc.solve(problem, n=N)


def test_interpolation(sol):
    np.testing.assert_allclose(sol(sol.x), sol.f, rtol=0, atol=0)
    mid = 0.5 * (sol.x[3] + sol.x[4])
    assert sol(mid) == pytest.approx(0.5 * (sol.f[3] + sol.f[4]))
    assert np.shape(sol(np.zeros((2, 3)))) == (2, 3)
    with pytest.raises(ValueError, match="xq"):
        sol(1.5)


def test_solution_reports(sol):
    assert sol.success and sol.status == vc.Status.SUCCESS
    assert sol.history.shape == (sol.iterations + 1,) and sol.history[-1] < 1e-8
    assert sol.quadrature == {"gauss1": N - 1}  # smooth: one point per cell
    assert "iter" in sol.table() and "SUCCESS" in sol.table()
    assert sol.error() < 5e-3  # h = 0.1: O(h²) with a constant ~0.13 (measured 1.3e-3)


def test_save_load_round_trip(sol, tmp_path):
    path = tmp_path / "catenary.npz"
    sol.save(path)
    back = vc.load(path)
    np.testing.assert_array_equal(back.f, sol.f)
    np.testing.assert_array_equal(back.history, sol.history)
    assert (back.value, back.converged, back.status, back.iterations) == (sol.value, True, sol.status, sol.iterations)


def test_to_dict_is_json(sol):
    d = json.loads(json.dumps(sol.to_dict()))
    assert d["converged"] is True and len(d["f"]) == N and d["max_nodal_error"] == pytest.approx(sol.error())


def test_plot_returns_figure_and_saves_png(sol, tmp_path):
    assert matplotlib.get_backend().lower() == "agg"
    fig = sol.plot(tmp_path / "c.png")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "exact" in labels and "initial guess" in labels
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_cli_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("brachistochrone", "catenoid", "harmonic_oscillator", "natural_boundary", "sphere_geodesic"):
        assert name in out


def test_cli_solve_catalog_problem(tmp_path, capsys):
    png, js = tmp_path / "b.png", tmp_path / "b.json"
    assert main(["solve", "brachistochrone", "--n", "41", "--plot", str(png), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"iter\s+J", out)  # the Newton table
    assert "relative" in out and "max nodal error" in out
    assert png.stat().st_size > 10_000
    assert json.loads(js.read_text())["converged"] is True


def test_cli_solve_user_file(tmp_path, capsys):
    f = tmp_path / "my_problem.py"
    f.write_text(
        "import jax.numpy as jnp\nimport varcalc as vc\n"
        "problem = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={'left': 0.0, 'right': 0.0},"
        " exact=lambda x: 0.5 * x * (x - 1), name='mine')\n"
        "n = 11\n"
    )
    assert main(["solve", str(f), "--no-plot", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mine: converged in 1 Newton iteration," in out


def test_cli_solve_to_a_tolerance(capsys):
    """``--tol`` with ``--degree``: p-refinement; the mesh history is printed, one line per level."""
    assert main(["solve", "brachistochrone_psopt", "--tol", "1e-12", "--degree", "4", "--no-plot", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "tolerance 1e-12 (relative) met" in out
    assert "level  2: degree  8, 5 nodes, 30 unknowns" in out


def test_cli_bad_input(capsys):
    assert main(["solve", "no_such_problem"]) == 2  # one line, no traceback (tests/test_cli_errors.py)
    assert "unknown problem 'no_such_problem'" in capsys.readouterr().err
    assert main(["solve", "brachistochrone", "--n", "1"]) == 2


def test_readme_example_is_there_and_short():
    """The README's example: a ```python block after ``<!-- example -->``, at most 20 lines.  It is
    run (with every README block) by tests/test_docs.py::test_page_examples_run[README.md]."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README.md must hold the example in a ```python block after <!-- example -->"
    assert len(block.group(1).strip().splitlines()) <= 20
