"""The public API is annotated (issue 19 item 5): every callable in ``varcalc.__all__`` and the public
methods/properties of the result classes carry parameter and return annotations that resolve, and the
package ships a PEP 561 ``py.typed`` marker so type checkers use them."""

import inspect
import pathlib
import typing

import varcalc

# Result classes users get back from solves but do not construct (not all in __all__).
_RESULT_CLASSES = [
    ("varcalc.solution", "Solution"),
    ("varcalc.batch", "BatchSolution"),
    ("varcalc.planar.solution", "PlanarSolution"),
    ("varcalc.certify", "Certificate"),
    ("varcalc.estimate", "ErrorEstimate"),
    ("varcalc.bifurcation", "Diagram"),
]

_SKIP_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _public_callables():
    """(label, function) for every public function, class __init__ and public method/property getter
    defined in varcalc itself (inherited object/dataclass/Enum machinery is not ours to annotate)."""
    import importlib

    objs = [(name, getattr(varcalc, name)) for name in varcalc.__all__]  # lazy names resolve as for users
    objs += [(cls, getattr(importlib.import_module(mod), cls)) for mod, cls in _RESULT_CLASSES]
    seen = set()
    for name, obj in objs:
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, property):
                    member = member.fget
                elif isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if not inspect.isfunction(member) or not member.__module__.startswith("varcalc"):
                    continue
                if id(member) not in seen:
                    seen.add(id(member))
                    yield f"{name}.{attr}", member
        elif callable(obj) and id(obj) not in seen:
            seen.add(id(obj))
            yield name, obj


def test_public_callables_are_annotated():
    missing = []
    for label, fn in _public_callables():
        sig = inspect.signature(fn)
        for i, (pname, p) in enumerate(sig.parameters.items()):
            if p.kind in _SKIP_KINDS or (i == 0 and pname in ("self", "cls")):
                continue
            if p.annotation is inspect.Parameter.empty:
                missing.append(f"{label}({pname})")
        if not label.endswith(".__init__") and sig.return_annotation is inspect.Signature.empty:
            missing.append(f"{label} -> ?")
    assert not missing, "unannotated: " + ", ".join(missing)


def _deferred_names():
    """Names the modules import only under ``TYPE_CHECKING`` (matplotlib and the result classes are
    imported on first use, to keep ``import varcalc`` fast and free of cycles): resolved here from
    where a type checker finds them.  Anything else must resolve from the defining module itself."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from varcalc.bifurcation import Diagram
    from varcalc.certify import Certificate
    from varcalc.constraints import Bound, Integral
    from varcalc.estimate import ErrorEstimate
    from varcalc.newton import Newton
    from varcalc.planar.solution import PlanarSolution
    from varcalc.problem import Problem
    from varcalc.solution import Solution

    return dict(locals())


def test_annotations_resolve():
    # Under `from __future__ import annotations` a typo or a missing import only shows when resolved.
    deferred = _deferred_names()
    bad = []
    for label, fn in _public_callables():
        try:
            typing.get_type_hints(fn, localns=deferred)
        except Exception as exc:  # NameError, TypeError, ...: report them all at once
            bad.append(f"{label}: {type(exc).__name__}: {exc}")
    assert not bad, "\n".join(bad)


def test_py_typed_marker_is_present():
    assert (pathlib.Path(varcalc.__file__).parent / "py.typed").is_file()
