"""The documentation's examples run: every docstring example (``doctest``) and every ```python
block of README.md and of each page under docs/ (any ``docs/**/*.md``, found anew each run).

The examples are the first thing a reader copies; this keeps them honest.  Docstrings: one test per
module, so a failure names the module; the catalog (``varcalc.problems``) and the CLI entry point are
skipped (the catalog has its own tests, ``__main__`` runs the CLI on import).

Pages: one test per page; its blocks run in order in one namespace (a later block may use an earlier
one's names), in a temporary directory (plots and files they write land there).  A block that must
not run carries an HTML comment just above its fence saying why, ``<!-- skip: reason -->``; a
``skip`` without a reason fails the test.  Examples stay small (n ≤ 201) so that all pages together
cost about half a minute.
"""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import varcalc

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(varcalc.__path__, "varcalc.")
    if not m.name.startswith("varcalc.problems") and m.name != "varcalc.__main__"
)
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))

# A fenced python block and the HTML comments on the lines just above it.
BLOCK = re.compile(r"((?:^<!--.*?-->[ \t]*\n)*)^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
SKIP = re.compile(r"<!--\s*skip\b:?\s*(.*?)\s*-->", re.S)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def blocks(text):
    """The page's python blocks as (line number, code, skip reason or None), in order."""
    out = []
    for m in BLOCK.finditer(text):
        skip = SKIP.search(m.group(1))
        line = text.count("\n", 0, m.start(2)) + 1
        out.append((line, m.group(2), None if skip is None else skip.group(1)))
    return out


def test_block_finder():
    """The finder sees fences, markers and reasons (a page without blocks must not pass unnoticed)."""
    text = (
        "x\n```python\na = 1\n```\n<!-- skip: needs a GPU -->\n```python\nb = 2\n```\n"
        "<!-- example -->\n```python\nc = 3\n```\n```text\nnot python\n```\n"
    )
    assert blocks(text) == [(3, "a = 1\n", None), (7, "b = 2\n", "needs a GPU"), (11, "c = 3\n", None)]
    assert sum(len(blocks(p.read_text())) for p in PAGES) >= 20


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code, skip in blocks(page.read_text()):
        if skip is not None:
            assert skip, f"{page.name}:{line}: a skipped block must say why (<!-- skip: reason -->)"
            continue
        try:
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)  # line numbers of the page
        finally:
            plt.close("all")


def test_readme_is_short_and_its_links_resolve():
    """Issue 19: the README stays a front page (≤ 200 lines); the manual is docs/.  Its relative
    links point at files that exist (the site's pages), so a renamed page cannot leave it dangling."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into docs/"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
