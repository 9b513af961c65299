"""Every docstring example in the package runs and prints what it says (``doctest``).

The examples are the first thing a reader copies; this keeps them honest.  One test per module, so
a failure names the module; the catalog (``varcalc.problems``) and the CLI entry point are skipped
(the catalog has its own tests, ``__main__`` runs the CLI on import).
"""

import doctest
import importlib
import pkgutil

import pytest

import varcalc

MODULES = sorted(m.name for m in pkgutil.walk_packages(varcalc.__path__, "varcalc.")
                 if not m.name.startswith("varcalc.problems") and m.name != "varcalc.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
