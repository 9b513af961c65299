"""Write the gallery: one page per catalog problem (``problems/*.py``) and an index table.

Run by the ``gen-files`` plugin on every ``mkdocs build`` (nothing generated is committed, so the
gallery cannot go stale): each problem is solved as ``varcalc solve NAME`` solves it (the module's
own ``n``, grading and options, :func:`varcalc.cli.solve_module`) and its page shows the docstring,
the error against the exact solution measured in this build, the plot from ``plots/`` and the
module's source.  ``python docs/gen_gallery.py`` prints the table alone (no mkdocs needed).

The plots are the committed ``plots/NAME.png`` (``varcalc plots`` regenerates them); solving here
does not redraw them, so a build costs the solves only (about a minute on 2 cores).  For quick
previews (``mkdocs serve`` rebuilds on every edit) ``VARCALC_DOCS_NO_SOLVE=1`` leaves the solves out:
the pages then say so instead of showing errors.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS, PLOTS = ROOT / "problems", ROOT / "plots"


def names() -> list[str]:
    """The catalog's problem names, as ``varcalc list`` shows them."""
    from varcalc.cli import _catalog_names

    return _catalog_names()


def docstring(name: str) -> str:
    return ast.get_docstring(ast.parse((PROBLEMS / f"{name}.py").read_text())) or ""


def measure(name: str) -> dict:
    """Solve the catalog problem ``name`` with its defaults; its errors against the exact solution."""
    from varcalc.cli import _is_planar, load_problem_module, solve_module

    module = load_problem_module(name)
    t0 = time.perf_counter()
    sol = solve_module(module)
    row = {
        "name": name,
        "converged": bool(sol.converged),
        "iterations": int(sol.iterations),
        "time": time.perf_counter() - t0,
        "value": float(sol.value),
    }
    planar = _is_planar(module)
    if planar:
        row["size"] = f"{sol.nodes.shape[0]} nodes, {sol.element}"
    else:
        row["size"] = f"{sol.x.size} nodes" + (f", degree {sol.degree}" if sol.degree > 1 else "")
    problem = sol.problem
    if getattr(problem, "exact_value", None) is not None:
        row["value_error"] = sol.value_error() / max(abs(float(problem.exact_value)), 1e-300)
    if getattr(problem, "exact", None) is not None:
        row["nodal_error"] = sol.error()
        row["l2_error"] = sol.l2_error()
    if not planar:
        try:
            row["verdict"] = sol.verdict
        except Exception as exc:  # noqa: BLE001 - the page reports it instead of failing the build
            row["verdict"] = f"certificate unavailable ({type(exc).__name__})"
    return row


# An italic span the way docstrings write one (``*Calculus of Variations*``): opened after a space,
# closed before a non-letter.  Every other ``*`` is mathematics (``λ*``, ``T*(Y)``) and is escaped,
# or Markdown would pair two of them into emphasis.
_ITALIC = re.compile(r"(?<![\w*])\*(?=[A-Za-z])[^*\n]+?\*(?![\w*])")


def markdown_text(text: str) -> str:
    """Docstring prose as Markdown: stars outside code spans and italic spans escaped."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts lie outside `code`
        keep = _ITALIC.findall(parts[i])
        pieces = _ITALIC.split(parts[i])
        parts[i] = "".join(p.replace("*", "\\*") + (keep[k] if k < len(keep) else "") for k, p in enumerate(pieces))
    return "`".join(parts)


def _title(name: str) -> str:
    doc = docstring(name)
    return markdown_text(doc.splitlines()[0].rstrip(".")) if doc else ""


def _e(row: dict, key: str) -> str:
    return f"{row[key]:.1e}" if key in row else "–"


def index_page(rows: list[dict]) -> str:
    lines = [
        "---",
        "hide:",
        "  - toc",
        "---",
        "",
        "# Gallery",
        "",
        "Every problem of the catalog (`problems/`), solved when this site was built with the",
        "problem file's own defaults (what `varcalc solve NAME` does), against its exact or",
        "independent reference. *J error* is relative; the nodal error is the largest over the",
        "nodes, *L²* that of the interpolant. A problem file is a complete script: copy one to",
        "start your own, or run `varcalc new NAME`.",
        "",
        "| problem | what it shows | size | J error | nodal error | L² error | Newton its |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    if any(r.get("skipped") for r in rows):
        lines[6:] = [
            "",
            "**Preview: built with `VARCALC_DOCS_NO_SOLVE=1`, so nothing was solved and no error is shown.**",
            "",
            "| problem | what it shows |",
            "|---|---|",
        ]
        for r in rows:
            lines.append(f"| [{r['name']}]({r['name']}.md) | {_title(r['name'])} |")
        return "\n".join(lines) + "\n"
    for r in rows:
        title = _title(r["name"])
        ok = "" if r["converged"] else " (**not converged**)"
        lines.append(
            f"| [{r['name']}]({r['name']}.md) | {title} | {r['size']} | {_e(r, 'value_error')} | "
            f"{_e(r, 'nodal_error')} | {_e(r, 'l2_error')} | {r['iterations']}{ok} |"
        )
    lines += [
        "",
        f"Built with varcalc {_version()} on {os.cpu_count()} cores; the solves took "
        f"{sum(r['time'] for r in rows):.0f} s in all, compilation included.",
    ]
    return "\n".join(lines) + "\n"


def _version() -> str:
    import varcalc

    return varcalc.__version__


def extra_plots(name: str, all_names: list[str]) -> list[Path]:
    """Further plots of this problem (``NAME_something.png`` that are not another problem's)."""
    return sorted(p for p in PLOTS.glob(f"{name}_*.png") if p.stem not in all_names)


def problem_page(row: dict, all_names: list[str]) -> str:
    name = row["name"]
    doc = docstring(name)
    title, _, body = doc.partition("\n")
    lines = [f"# {name}", "", f"*{markdown_text(title.strip())}*", "", markdown_text(body.strip()), "", "## Result", ""]
    if row.get("skipped"):
        lines += ["Not solved in this preview build (`VARCALC_DOCS_NO_SOLVE=1`).", ""]
    else:
        lines += [
            f"Solved at this site's build: {row['size']}, "
            + ("converged" if row["converged"] else "**not converged**")
            + f" in {row['iterations']} Newton iterations ({row['time']:.1f} s, compilation included).",
            "",
        ]
    errors = [("relative error of J", "value_error"), ("max nodal error", "nodal_error"), ("L² error", "l2_error")]
    shown = [(label, row[key]) for label, key in errors if key in row]
    if shown:
        lines += ["| measure | against the exact solution |", "|---|---:|"]
        lines += [f"| {label} | {value:.2e} |" for label, value in shown] + [""]
    if "verdict" in row:
        lines += [f"Second variation: **{row['verdict']}**.", ""]
    if (PLOTS / f"{name}.png").exists():
        lines += [f"![{name}](../plots/{name}.png)", ""]
    for extra in extra_plots(name, all_names):
        lines += [f"![{extra.stem}](../plots/{extra.name})", ""]
    lines += [
        "Run it: `varcalc solve " + name + "` (or `python problems/" + name + ".py`).",
        "",
        "## Code",
        "",
        f"`problems/{name}.py`:",
        "",
        "```python",
        (PROBLEMS / f"{name}.py").read_text().rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def measure_all(only: list[str] | None = None) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    rows = []
    skip = os.environ.get("VARCALC_DOCS_NO_SOLVE", "") not in ("", "0")
    for name in only or names():
        if skip:
            rows.append({"name": name, "skipped": True})
            continue
        rows.append(measure(name))
        print(f"gallery: {name:<26} {rows[-1]['time']:6.1f} s", file=sys.stderr, flush=True)
    return rows


def generate():
    """Write the pages into the build (``mkdocs_gen_files``: virtual files, nothing on disk), and
    every ``plots/*.png`` as ``plots/`` of the site (the guide pages show some of them too)."""
    import mkdocs_gen_files

    for png in sorted(PLOTS.glob("*.png")):
        with mkdocs_gen_files.open(f"plots/{png.name}", "wb") as fh:
            fh.write(png.read_bytes())
    all_names = names()
    rows = measure_all()
    with mkdocs_gen_files.open("gallery/index.md", "w") as fh:
        fh.write(index_page(rows))
    for row in rows:
        with mkdocs_gen_files.open(f"gallery/{row['name']}.md", "w") as fh:
            fh.write(problem_page(row, all_names))


if __name__ == "__main__":  # python docs/gen_gallery.py [NAME ...]: the table alone
    print(index_page(measure_all(sys.argv[1:] or None)))
elif __name__ == "<run_path>":  # mkdocs build (the gen-files plugin runs this file)
    generate()
