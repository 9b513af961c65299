"""The CLI as a newcomer meets it: a mistake in a problem file, or a misspelt name, is one line on
stderr with ``file:line`` and the cause and exit code 2, never a traceback (``--debug`` shows it);
``varcalc new`` writes a problem file that solves; ``varcalc --version``.

The cases run ``varcalc.cli.main`` in this process, in the user's directory, with its streams and
exit code captured (a subprocess per case cost ~2 s of start-up each, most of this file's time);
the paths a subprocess alone shows — ``python -m varcalc`` (``run()``, which ends with
``os._exit``) and an uncaught traceback under ``--debug`` — run as a user would run them.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from varcalc.cli import _first_docstring_line, main

ROOT = Path(__file__).resolve().parents[1]


def varcalc(*args, cwd, module=None):
    """``varcalc ARGS`` in directory ``cwd``: ``(returncode, stdout, stderr)``.  In this process, or
    with ``module`` (``"varcalc"``, ``"varcalc.cli"``) as ``python -m module`` in a subprocess."""
    env = {"VARCALC_NO_CACHE": "1", "MPLBACKEND": "Agg"}
    if module is not None:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            timeout=300,
        )
    out, err, here, saved = io.StringIO(), io.StringIO(), os.getcwd(), {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse and --version leave this way
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    finally:
        os.chdir(here)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def error_line(result) -> str:
    """The single non-empty stderr line of a failed command (exit code 2, no traceback)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# `python -m varcalc` is the console script's path (run(), which ends with os._exit).
@pytest.mark.parametrize("module", [None, "varcalc"])
def test_syntax_error_is_one_line_with_file_and_line(tmp_path, module):
    (tmp_path / "my_problem.py").write_text("import varcalc as vc\n\nproblem = vc.Problem(\n")
    line = error_line(varcalc("solve", "my_problem.py", "--no-plot", cwd=tmp_path, module=module))
    assert line.startswith("varcalc: error: my_problem.py:3: ") and "(SyntaxError)" in line


def test_exception_at_import_names_the_raising_line(tmp_path):
    (tmp_path / "my_problem.py").write_text(
        "import varcalc as vc\n\n\ndef scale():\n    return {}['width']\n\n\nw = scale()\n"
    )
    line = error_line(varcalc("solve", "my_problem.py", "--no-plot", cwd=tmp_path))
    # The innermost frame in the file: the line that raised, inside the function it called.
    assert line.startswith("varcalc: error: my_problem.py:5: KeyError: 'width'")


def test_integrand_error_at_solve_time_points_at_its_line(tmp_path):
    (tmp_path / "my_problem.py").write_text(
        "import varcalc as vc\n\n\ndef G(f, df, x):\n    return jnp.sqrt(1 + df**2)\n\n\n"
        "problem = vc.Problem(G, (0.0, 1.0), bc={'left': 0.0, 'right': 1.0})\n"
    )
    line = error_line(varcalc("solve", "my_problem.py", "--no-plot", "--quiet", cwd=tmp_path))
    assert line.startswith("varcalc: error: my_problem.py:5: ") and "name 'jnp' is not defined" in line


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "my_problem.py").write_text("x = 1 / 0\n")
    result = varcalc("--debug", "solve", "my_problem.py", "--no-plot", cwd=tmp_path, module="varcalc.cli")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ZeroDivisionError: division by zero" in result.stderr
    with pytest.raises(ZeroDivisionError):  # --debug after the subcommand too: main() lets it out
        varcalc("solve", "my_problem.py", "--debug", "--no-plot", cwd=tmp_path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("import math\nx = math.pi\n", "my_problem.py defines no `problem`; expected `problem = vc.Problem(...)`"),
        ("problem = {'G': None}\n", "my_problem.py: `problem` is a dict; expected `problem = vc.Problem(...)`"),
    ],
)
def test_missing_problem(tmp_path, text, expected):
    (tmp_path / "my_problem.py").write_text(text)
    line = error_line(varcalc("euler", "my_problem.py", cwd=tmp_path))
    assert line == f"varcalc: error: {expected} (or a vc.PlanarProblem)"


def test_unknown_name_suggests_close_catalog_names(tmp_path):
    line = error_line(varcalc("solve", "brachistocrone", cwd=tmp_path))
    assert "unknown problem 'brachistocrone'; did you mean: brachistochrone," in line
    assert "`varcalc list`" in line and "catenoid" not in line  # not the whole catalog
    line = error_line(varcalc("sweep", "no/such_file.py", cwd=tmp_path))
    assert line == "varcalc: error: no such problem file: no/such_file.py"


def test_new_writes_a_problem_file_that_solves(tmp_path):
    result = varcalc("new", "my_chain", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    text = (tmp_path / "my_chain.py").read_text()
    for name in ("problem", "n", "grading", "guess", "mode", "params", "solve_options", "plot_options"):
        assert f"\n{name} = " in text
    assert _first_docstring_line(tmp_path / "my_chain.py").startswith("my_chain: ")  # what `list` shows
    result = varcalc("solve", "my_chain.py", "--n", "51", "--quiet", "--no-plot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "my_chain: converged" in result.stdout and "strict local minimum" in result.stdout
    assert "max nodal error vs exact extremal" in result.stdout  # the file gives the exact catenary


def test_new_refuses_to_overwrite_and_checks_the_name(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("# my work\n")
    line = error_line(varcalc("new", "mine", cwd=tmp_path))
    assert line == "varcalc: error: new: mine.py exists; pass --force to overwrite it"
    assert mine.read_text() == "# my work\n"
    line = error_line(varcalc("new", "2nd-try", cwd=tmp_path))
    assert line.startswith("varcalc: error: new: expected a Python identifier (") and "'2nd-try'" in line
    assert not list(tmp_path.glob("2nd*"))
    assert varcalc("new", "mine.py", "--force", cwd=tmp_path).returncode == 0
    assert "problem = vc.Problem(" in mine.read_text()


def test_version(tmp_path):
    result = varcalc("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("varcalc ") and result.stdout.split()[1][0].isdigit()
