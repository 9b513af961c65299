"""The single solve's entry points, for the code that runs a solve but sits below ``varcalc.solve``.

The two-grid error estimate (:mod:`varcalc.estimate`: one more solve on the halved grid), the
adaptive drivers (:mod:`varcalc.adaptive`: a solve per level, and ``vc.solve(tol=...)`` runs them)
and the certificate (:mod:`varcalc.certify`: the solve's own compiled kernel) need functions of
:mod:`varcalc.solve`, which imports them (or imports :mod:`varcalc.solution`, which reaches them).
Instead of importing it back, they take those functions as arguments, defaulting to the ones
``varcalc.solve`` registers here when it is imported (``import varcalc`` does, before any of its
submodules).  So the import graph has no cycle: ``solve`` is above them all.

Registered names: ``solve``, ``discretize``, ``run_newton``, ``kernel_inputs``, ``check_degree``.
"""

from __future__ import annotations

_ENTRY: dict = {}


def register(**functions) -> None:
    """Record entry points by name (``varcalc.solve`` calls this at import)."""
    _ENTRY.update(functions)


def entry(name: str):
    """The registered function ``name``; a RuntimeError if ``varcalc.solve`` was never imported."""
    try:
        return _ENTRY[name]
    except KeyError:
        raise RuntimeError(f"{name}: varcalc.solve is not imported (import varcalc first)") from None
