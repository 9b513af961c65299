"""The ``varcalc`` command: list the catalog, solve a catalog problem or a problem file, plot.

    varcalc list
    varcalc solve brachistochrone [--n 401] [--grading 2] [--plot out.png] [--json out.json]
    varcalc solve path/to/my_problem.py
    varcalc solve brachistochrone --tol 1e-10 --degree 4   # refine to a tolerance (p from 4)
    varcalc plots                     # regenerate plots/ for the whole catalog
    varcalc sweep parametric_catenoid --param R --values 0.6:1.2:61 --out sweep.csv
    varcalc euler catenoid            # the Euler–Lagrange equation, symbolically (needs SymPy)
    varcalc new my_problem            # write my_problem.py, a commented problem file to start from
    varcalc --version

A problem file is a Python module defining ``problem`` (a :class:`varcalc.Problem`) and optionally
``n`` (default node count), ``grading`` (kwargs of :func:`varcalc.graded_grid`), ``guess``,
``mode``, ``params``, ``solve_options`` (more keyword arguments of :func:`varcalc.solve`)
and ``plot_options`` (kwargs of :meth:`varcalc.Solution.plot`).  See ``problems/`` for examples.

User errors (a problem file that does not parse, raises while it is imported or defines no
``problem``; an unknown catalog name; bad options) print one line ``varcalc: error: ...`` (with
``file:line`` when the problem file is at fault) and exit with code 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

__all__ = ["main", "load_problem_module", "catalog"]

DEFAULT_N = 401


class UsageError(Exception):
    """A mistake of the user's (a name, a path, a problem file), reported by the CLI as one line."""


# Resolved path -> path as the user gave it, of every problem file imported: an exception whose
# traceback passes through one of them is the user's to fix, and is reported at that line.
_USER_FILES: dict[Path, str] = {}


def _enable_compilation_cache():
    """JAX's persistent compilation cache: a repeated run skips XLA compilation (opt out with
    ``VARCALC_NO_CACHE=1``)."""
    if os.environ.get("VARCALC_NO_CACHE"):
        return
    import jax

    cache = Path(os.environ.get("VARCALC_CACHE_DIR", Path.home() / ".cache" / "varcalc" / "jax"))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache))
    # Every program: the engine runs as several small ones (each under 0.2 s to compile), and a
    # cache hit (a file read) is faster than any compile.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _catalog_names() -> list[str]:
    """The catalog's problem names, sorted (without reading the files)."""
    import varcalc.problems as pkg

    return sorted(i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_"))


def catalog() -> dict[str, str]:
    """Catalog problem names -> first docstring line."""
    import varcalc.problems as pkg

    folder = Path(pkg.__path__[0])
    return {name: _first_docstring_line(folder / f"{name}.py") for name in _catalog_names()}


def _first_docstring_line(path: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (OSError, SyntaxError):
        doc = None
    return (doc or "").strip().splitlines()[0] if doc else ""


def load_problem_module(spec: str):
    """Import a catalog problem by name, or a problem file by path (a name ending in ``.py``, with
    a path separator, or an existing file).  A :class:`UsageError` for an unknown name, a missing
    file or a module without ``problem``; errors of the file itself (a ``SyntaxError``, an
    exception at import) propagate unchanged."""
    path = Path(spec)
    if spec.endswith(".py") or os.sep in spec or "/" in spec or path.is_file():
        if not path.is_file():
            raise UsageError(f"no such problem file: {spec}" + (" (it is a directory)" if path.is_dir() else ""))
        mspec = importlib.util.spec_from_file_location(f"varcalc_user_problem_{path.stem}", path)
        module = importlib.util.module_from_spec(mspec)
        _USER_FILES[path.resolve()] = spec
        sys.modules[mspec.name] = module
        try:
            mspec.loader.exec_module(module)
        except BaseException:
            del sys.modules[mspec.name]  # as `import` does: no half-initialised module left behind
            raise
    else:
        names = _catalog_names()  # (not catalog(): its docstrings are for `varcalc list` only)
        if spec not in names:
            import difflib

            close = difflib.get_close_matches(spec, names, n=3)
            hint = f"did you mean: {', '.join(close)}? " if close else ""
            raise UsageError(
                f"unknown problem {spec!r}; {hint}`varcalc list` shows the catalog "
                "(a problem file is a path ending in .py)"
            )
        module = importlib.import_module(f"varcalc.problems.{spec}")
    from .problem import Problem

    if not isinstance(getattr(module, "problem", None), Problem) and not _is_planar(module):
        expected = "expected `problem = vc.Problem(...)` (or a vc.PlanarProblem)"
        if not hasattr(module, "problem"):
            raise UsageError(f"{spec} defines no `problem`; {expected}")
        raise UsageError(f"{spec}: `problem` is a {type(module.problem).__name__}; {expected}")
    return module


def _is_planar(holder) -> bool:
    """Is ``holder.problem`` a 2-D :class:`~varcalc.PlanarProblem`?  Without importing the planar
    layer when nothing has (a planar problem cannot exist before ``varcalc.planar`` is imported)."""
    planar = sys.modules.get("varcalc.planar")
    return planar is not None and isinstance(getattr(holder, "problem", None), planar.PlanarProblem)


def solve_module(
    module, *, n=None, grading=None, grading_end=None, max_iter=None, verbose=False, degree=None, tol=None
):
    """Solve a problem module with its own defaults, overridden by the arguments.  With ``tol``:
    refine to that relative tolerance (``vc.solve(problem, tol=...)``: the automatic choice of
    :mod:`varcalc.auto` when neither ``n`` nor a degree is given, h-refinement from ``n`` nodes, or
    p-refinement from ``degree`` when it, or the module's degree, is above 1)."""
    from . import Newton, graded_grid, solve

    if _is_planar(module):  # 2-D problems (grading does not apply)
        from .planar import cli as planar

        if tol is not None:
            raise ValueError("tol: refinement to a tolerance is for 1-D problems")
        return planar.solve_module(module, n=n, max_iter=max_iter, verbose=verbose)
    problem = module.problem
    if tol is not None:  # the adaptive solve picks its grids: no module n or grading
        options = {
            k: v for k, v in (getattr(module, "solve_options", None) or {}).items() if k in ("mode", "params", "degree")
        }
        for name in ("mode", "params"):
            if getattr(module, name, None) is not None:
                options.setdefault(name, getattr(module, name))
        if degree is not None:
            options["degree"] = degree
        solver = Newton(max_iter=max_iter) if max_iter else None
        return solve(problem, n, tol=tol, solver=solver, verbose=verbose, **options)
    n = n if n is not None else getattr(module, "n", DEFAULT_N)
    grade = dict(getattr(module, "grading", None) or {})
    if grading is not None:
        grade = {} if grading == 1 else {**grade, "power": grading}
    if grading_end is not None and grade:
        grade["end"] = grading_end
    kwargs = {"grid": graded_grid(problem.domain, n, **grade)} if grade else {"n": n}
    options = dict(getattr(module, "solve_options", None) or {})
    # --max-iter overrides a module's own solver options (solve_options={"solver": vc.Newton(...)})
    solver = Newton(max_iter=max_iter) if max_iter else options.pop("solver", None)
    for name in ("mode", "params"):  # module-level shorthands
        if getattr(module, name, None) is not None:
            options.setdefault(name, getattr(module, name))
    if degree is not None:
        options["degree"] = degree
    return solve(problem, guess=getattr(module, "guess", None), solver=solver, verbose=verbose, **options, **kwargs)


def summary_lines(sol, elapsed, size: str, nodal_error) -> list[str]:
    """First lines of a solve report (1-D and 2-D): status, size, time, J and its error, and
    ``nodal_error()`` (a callable giving the error line) when the problem has an exact solution."""
    p = sol.problem
    lines = [
        f"{p.name}: {'converged' if sol.converged else 'NOT converged'} in {sol.iterations} "
        f"Newton iteration{'s' * (sol.iterations != 1)}, {size}, {elapsed:.2f} s (compile included)",
        f"  J = {sol.value:.15g}",
    ]
    if p.exact_value is not None:
        rel = sol.value_error() / max(abs(p.exact_value), 1e-300)
        lines.append(f"  exact J = {p.exact_value:.15g}, error {sol.value_error():.3e} (relative {rel:.3e})")
    if p.exact is not None:
        lines.append(nodal_error())
    return lines


def _report(sol, elapsed) -> str:
    import numpy as np

    if _is_planar(sol):
        from .planar import cli as planar

        return planar.report(sol, elapsed)
    lines = summary_lines(
        sol, elapsed, f"n = {sol.x.size} nodes", lambda: f"  max nodal error vs exact extremal: {sol.error():.3e}"
    )
    lines.append(
        f"  quadrature: {sol.quadrature}"
        + (f", singular ends: {', '.join(sol.singular_ends)}" if sol.singular_ends else "")
    )
    for name, mu in sol.multipliers.items():
        shown = f"{mu:.10g}" if np.ndim(mu) == 0 else f"nodal values in [{np.min(mu):.4g}, {np.max(mu):.4g}]"
        lines.append(f"  constraint {name!r}: multiplier {shown}, residual {sol.constraint_residuals[name]:.2e}")
    if sol.complementarity is not None:
        lines.append(f"  complementarity max|μ·gap| = {sol.complementarity:.2e}")
    if sol.start is not None:
        lines.append(f"  free start x_a = {sol.start:.12g}")
    if sol.end is not None:
        lines.append(f"  free end x_b = {sol.end:.12g}")
    if sol.transversality is not None:
        lines.append(f"  transversality residual {sol.transversality:.2e} (O(h²))")
    if sol.mode != "minimize" or (sol.negative or 0) > 0:
        lines.append(f"  mode {sol.mode!r}: second variation has {sol.negative} negative direction(s)")
    if not sol.converged:
        lines.append(f"  {sol.status.name}: {sol.message}")
    lines.append(_certificate_lines(sol))
    return "\n".join(lines)


def _mesh_history_lines(sol, tol) -> str:
    """The levels of an adaptive solve (``sol.stats["mesh_history"]``), one line each."""
    met = "met" if sol.stats.get("tol_met") else "NOT met"
    lines = [f"  tolerance {tol:g} (relative) {met}: estimate of |J_h - J| = {sol.stats['error_estimate']:.2e}"]
    for h in sol.stats["mesh_history"]:
        size = (
            f"degree {h['degree']:2d}, {h['nodes']} nodes, {h['unknowns']} unknowns"
            if "degree" in h
            else f"{h['nodes']} -> {h['fine_nodes']} nodes"
        )
        est = "-" if h["estimate"] is None else f"{h['estimate']:.2e}"
        why = f"  [{h.get('role', '')} {h['action']}: {h['why']}]" if "why" in h and "action" in h else ""
        lines.append(
            f"    level {h['level']:2d}: {size}, J = {h['value']:.16g}, estimate {est}, t = {h['time']:.2f} s{why}"
        )
    return "\n".join(lines)


def _certificate_lines(sol) -> str:
    """The second-variation verdict and its evidence, indented (or why it is unavailable)."""
    try:
        cert = sol.certificate
    except Exception as exc:  # noqa: BLE001 - a report must not fail on its diagnostics
        return f"  certificate: unavailable ({type(exc).__name__}: {exc})"
    # (a refused certificate already says why; no caveat repeating it)
    caveat = (
        ""
        if sol.converged or cert.verdict.startswith("not certified")
        else " (at the last iterate, which is not converged)"
    )
    return "\n".join([f"  verdict: {cert.verdict}{caveat}"] + [f"    {line}" for line in cert.evidence.splitlines()])


def _cmd_list(args) -> int:
    names = catalog()
    width = max(map(len, names), default=0)
    for name, title in names.items():
        print(f"{name:<{width}}  {title}")
    return 0


def _use_file_backend():
    import matplotlib

    matplotlib.use("Agg")  # the CLI only writes files; no display needed


def _cmd_solve(args) -> int:
    _enable_compilation_cache()
    _use_file_backend()
    module = load_problem_module(args.problem)
    if getattr(args, "all", False):
        return _solve_all(module, args)
    t0 = time.perf_counter()
    with _Ticker(f"solving {module.problem.name}"):
        sol = solve_module(
            module,
            n=args.n,
            grading=args.grading,
            grading_end=args.grading_end,
            max_iter=args.max_iter,
            verbose=not args.quiet,
            degree=args.degree,
            tol=args.tol,
        )
    elapsed = time.perf_counter() - t0
    print(_report(sol, elapsed))
    if args.tol is not None:
        print(_mesh_history_lines(sol, args.tol))
    if getattr(args, "estimate", False) and hasattr(sol, "error_estimate"):
        est = sol.error_estimate
        print(
            f"  error estimate (grid halved, Richardson with order {est.order}): |J_h - J| ≈ "
            f"{est.value_error:.2e} (relative {est.relative_value_error:.2e}), max nodal error ≈ {est.f_error:.2e}"
        )
    if not args.no_plot:
        stem = sol.problem.name if sol.problem.name != "problem" else Path(args.problem).stem
        path = Path(args.plot) if args.plot else Path("plots") / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        sol.plot(path, **dict(getattr(module, "plot_options", {}) or {}))
        print(f"  plot: {path}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(sol.to_dict(), indent=1))
        print(f"  json: {args.json}")
    return 0 if sol.converged else 1


def _module_grid(module, n, grading=None):
    """``{"n": n}`` or ``{"grid": graded grid}`` for a problem module (its own n and grading by default)."""
    from . import graded_grid

    n = n if n is not None else getattr(module, "n", DEFAULT_N)
    grade = dict(getattr(module, "grading", None) or {})
    if grading is not None:
        grade = {} if grading == 1 else {**grade, "power": grading}
    return {"grid": graded_grid(module.problem.domain, n, **grade)} if grade else {"n": n}


def _solve_all(module, args) -> int:
    """``varcalc solve NAME --all``: every extremal deflation finds, a table and one plot."""
    import warnings

    from .deflation import plot_extremals, solve_all

    problem = module.problem
    guess = getattr(module, "guess", None)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, _Ticker(f"deflating {problem.name}"):
        warnings.simplefilter("always", UserWarning)
        sols = solve_all(
            problem, guesses=() if guess is None else (guess,), **_module_grid(module, args.n, args.grading)
        )
    elapsed = time.perf_counter() - t0
    print(f"{problem.name}: {len(sols)} extremal(s) in {elapsed:.2f} s (sorted by J)")
    print(f"  {'#':>2}  {'J':>22}  {'max |f|':>10}  verdict")
    for i, s in enumerate(sols):
        strong = "" if s.certificate.strong is None else f" ({'strong' if s.certificate.strong else 'weak only'})"
        print(f"  {i:2d}  {s.value:22.15g}  {float(abs(s.f).max()):10.4g}  {s.certificate.verdict}{strong}")
    for w in caught:
        if str(w.message).startswith("solve_all:"):
            print(f"  {str(w.message)[len('solve_all: ') :]}")
    if not args.no_plot and sols:
        stem = problem.name if problem.name != "problem" else Path(args.problem).stem
        path = Path(args.plot) if args.plot else Path("plots") / f"{stem}_all.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        _close(plot_extremals(sols, path).figure)
        print(f"  plot: {path}")
    return 0 if sols else 1


def _cmd_continue(args) -> int:
    """``varcalc continue NAME --param P --values a:b:count``: the bifurcation diagram to a PNG."""
    _enable_compilation_cache()
    _use_file_backend()
    from .continuation import continuation

    module = load_problem_module(args.problem)
    problem = module.problem
    base = problem.params
    if not isinstance(base, dict):
        raise ValueError(f"--param: {args.problem} has no dict of parameters to continue in")
    if args.param not in base:
        raise ValueError(f"--param: expected one of {list(base)}, got {args.param!r}")
    values = _parse_values(args.values, "--values")
    if ":" not in args.values or values.size < 2 or values[0] == values[-1]:
        raise ValueError(f"--values: expected a:b:count with a != b and count >= 2, got {args.values!r}")
    t0 = time.perf_counter()
    with _Ticker(f"continuing {problem.name} in {args.param}"):
        d = continuation(
            problem,
            {args.param: (values[0], values[-1])},
            method="arclength",
            steps=values.size - 1,
            guess=getattr(module, "guess", None),
            **_module_grid(module, args.n, None),
        )
    elapsed = time.perf_counter() - t0
    print(
        f"{problem.name}: {len(d.branches)} branch(es) over {args.param} in [{values[0]:g}, {values[-1]:g}], "
        f"{elapsed:.2f} s"
    )
    print("\n".join(f"  {line}" for line in d.summary().splitlines()))
    path = Path(args.out) if args.out else Path("plots") / f"{problem.name}_diagram.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    _close(d.plot(path, measure=getattr(module, "measure", None)).figure)
    print(f"  diagram: {path}")
    return 0


def _cmd_plots(args) -> int:
    _enable_compilation_cache()
    _use_file_backend()
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in catalog():
        module = load_problem_module(name)
        sol = solve_module(module)
        path = out / f"{name}.png"
        fig = sol.plot(path, **dict(getattr(module, "plot_options", {}) or {}))
        _close(fig)  # 25 problems: keep one figure open at a time
        print(f"{name:<22} converged={sol.converged}  plot: {path}")
        failed += not sol.converged
    return 1 if failed else 0


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


def _cmd_euler(args) -> int:
    from .symbolic import euler_lagrange

    module = load_problem_module(args.problem)
    try:
        el = euler_lagrange(module.problem)
    except (NotImplementedError, ImportError) as exc:
        raise UsageError(str(exc)) from exc
    print(el.latex() if args.latex else el)
    return 0


_TEMPLATE = '''"""{stem}: the hanging chain (catenary), a problem to start from; edit this line.

`varcalc list` shows the first line of a catalog problem's docstring; here, say what you solve.
Run it with `varcalc solve {file}` (options: `varcalc solve --help`), or `python {file}`.

The problem: find f on [a, b] with f(a), f(b) given that makes J[f] = ∫_a^b G(f, f', x) dx
stationary (a minimum by default).  Here G = f sqrt(1 + f'²): the potential energy of a chain
hanging over [-1, 1] with its ends at height cosh(1).  The minimiser is the catenary f = cosh x,
and J = 1 + sinh(2)/2.
"""
import jax.numpy as jnp  # write the integrand with jax.numpy (varcalc differentiates it)
import numpy as np

import varcalc as vc


def integrand(f, df, x):
    """G(f, f', x): f and df = f' are the unknown and its slope at the point x (scalars here;
    arrays for a vector unknown, see `components` in help(vc.Problem))."""
    return f * jnp.sqrt(1.0 + df**2)


def exact(x):
    """The exact extremal, if you know it (optional: the report then shows the error)."""
    return np.cosh(x)


# Only `problem` is required.  domain = (a, b); bc = the fixed end values (leave an end out of bc
# and it is free: the natural boundary condition holds there).  exact, exact_value and name are
# optional.  (A 2-D problem is a vc.PlanarProblem instead: see help(vc.PlanarProblem).)
problem = vc.Problem(
    integrand, domain=(-1.0, 1.0), bc={{"left": np.cosh(1.0), "right": np.cosh(1.0)}},
    exact=exact, exact_value=1.0 + np.sinh(2.0) / 2.0, name={name},
)

# Optional: what `varcalc solve` reads from this file besides `problem` (None = its default).
n = 101              # grid nodes (`--n` overrides)
grading = None       # nodes clustered toward an end, e.g. dict(power=2.0, end="left") (vc.graded_grid)
guess = None         # initial f: a function of x, or node values (default: the line between the bc)
mode = None          # "minimize" (default), "maximize" or "stationary" (any extremal, e.g. a saddle)
params = None        # values of parameters p, for an integrand G(f, df, x, p)
solve_options = {{}}   # more keyword arguments of vc.solve, e.g. {{"degree": 4}}
plot_options = {{}}    # keyword arguments of Solution.plot

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
'''


def _cmd_new(args) -> int:
    """Write a commented problem file (the catenary) that solves as it is."""
    if not (args.name.endswith(".py") or args.name.isidentifier()):  # not a typo'd option or a path
        raise UsageError(
            f"new: expected a Python identifier (letters, digits, _; writes NAME.py) or a "
            f"path ending in .py, got {args.name!r}"
        )
    path = Path(args.name if args.name.endswith(".py") else f"{args.name}.py")
    if path.exists() and not args.force:
        raise UsageError(f"new: {path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise UsageError(f"new: no such directory: {path.parent}")
    path.write_text(_TEMPLATE.format(stem=path.stem, name=json.dumps(path.stem), file=path))
    print(f"wrote {path}; solve it with: varcalc solve {path}")
    return 0


class _Ticker:
    """Progress of a long single solve: after ``after`` seconds, an elapsed-time line on stderr
    every ``every`` seconds (rewritten in place on a terminal) until the solve returns."""

    def __init__(self, label, after=3.0, every=2.0):
        self.label, self.after, self.every = label, after, every
        self.printed = False

    def __enter__(self):
        import threading

        self.t0 = time.perf_counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        tty = sys.stderr.isatty()
        start, end = ("\r", "") if tty else ("", "\n")
        wait = self.after
        while not self.stop.wait(wait):
            t = time.perf_counter() - self.t0
            print(
                f"{start}  ... {self.label}: {t:.0f} s (a first run at a new size includes compilation)",
                end=end,
                file=sys.stderr,
                flush=True,
            )
            self.printed, wait = True, self.every if tty else 5 * self.every

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        if self.printed and sys.stderr.isatty():
            print(file=sys.stderr)
        return False


def _parse_values(text, what):
    """``"a:b:count"`` (count evenly spaced values from a to b) or ``"v1,v2,..."`` -> float array."""
    import numpy as np

    try:
        if ":" in text:
            a, b, count = text.split(":")
            if int(count) < 1:
                raise ValueError
            return np.linspace(float(a), float(b), int(count))
        values = np.array([float(v) for v in text.split(",") if v.strip()])
        if values.size == 0:
            raise ValueError
        return values
    except ValueError:
        raise ValueError(f"{what}: expected a:b:count or a comma-separated list of numbers, got {text!r}") from None


def _cmd_sweep(args) -> int:
    """Solve a problem for many values of one parameter / boundary value in one batched call."""
    _enable_compilation_cache()
    _use_file_backend()
    import jax
    import numpy as np

    from . import Newton, graded_grid
    from .batch import solve_batch

    module = load_problem_module(args.problem)
    problem = module.problem
    swept = {}
    if args.param is not None:
        if args.values is None:
            raise ValueError("--values: required with --param (a:b:count or v1,v2,...)")
        swept[args.param] = _parse_values(args.values, "--values")
    elif args.values is not None:
        raise ValueError("--values: give --param KEY to say which parameter they are for")
    for end, text in (("left", args.bc_left), ("right", args.bc_right)):
        if text is not None:
            swept[f"bc_{end}"] = _parse_values(text, f"--bc-{end}")
    if not swept:
        raise ValueError("sweep: give --param KEY --values ..., or --bc-left / --bc-right VALUES")
    counts = {k: v.size for k, v in swept.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"sweep: the value lists have different lengths: {counts}")
    B = next(iter(counts.values()))
    kwargs = {}
    base = getattr(module, "params", None)
    base = problem.params if base is None else base
    if args.param is not None:
        if base is None:
            raise ValueError(
                f"--param: {args.problem} has no parameters; sweep a boundary value with --bc-left/--bc-right"
            )
        if isinstance(base, dict):
            if args.param not in base:
                raise ValueError(f"--param: expected one of {list(base)}, got {args.param!r}")
        elif args.param != "p":
            raise ValueError(f"--param: this problem's parameter is a single value; call it 'p', got {args.param!r}")
    if base is not None:  # every parameter gets a batch axis (the swept one its values)
        one = lambda k, v: swept[k] if k == args.param else np.broadcast_to(np.asarray(v, float), (B,) + np.shape(v))
        kwargs["params"] = (
            {k: one(k, v) for k, v in base.items()}
            if isinstance(base, dict)
            else jax.tree.map(lambda v: one("p", v), base)
        )
    bc = {end: swept[f"bc_{end}"] for end in ("left", "right") if f"bc_{end}" in swept}
    if bc:
        kwargs["bc"] = bc
    n = args.n if args.n is not None else getattr(module, "n", DEFAULT_N)
    grade = dict(getattr(module, "grading", None) or {})
    if args.grading is not None:
        grade = {} if args.grading == 1 else {**grade, "power": args.grading}
    kwargs.update({"grid": graded_grid(problem.domain, n, **grade)} if grade else {"n": n})
    options = dict(getattr(module, "solve_options", None) or {})
    if getattr(module, "mode", None) is not None:
        options.setdefault("mode", module.mode)
    options = {k: v for k, v in options.items() if k in ("quadrature", "singular_ends", "mode")}
    devices = None if args.devices is None else ("all" if args.devices == "all" else int(args.devices))
    batch = solve_batch(
        problem,
        guess=getattr(module, "guess", None),
        solver=Newton(max_iter=args.max_iter) if args.max_iter else None,
        devices=devices,
        chunk_size=args.chunk_size,
        progress=not args.quiet,
        **options,
        **kwargs,
    )
    against = args.param if args.param is not None else f"bc_{next(iter(bc))}"
    cols = batch.columns()
    ok = batch.converged
    print(
        f"{problem.name}: {B} problems over {against} in one batched solve, n = {batch.f.shape[1]} nodes: "
        f"{int(ok.sum())} converged, {batch.time:.2f} s (compile included; chunks of {batch.chunk_size})"
    )
    shown = range(B) if B <= 30 else sorted(set(np.linspace(0, B - 1, 21).astype(int)))
    print(f"  {against:>14}  {'J':>22}  {'iter':>4}  status")
    for i in shown:
        print(f"  {cols[against][i]:14.6g}  {batch.value[i]:22.15g}  {batch.iterations[i]:4d}  {cols['status'][i]}")
    for out in args.out or []:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        batch.save(out)
        print(f"  results: {out}")
    if not args.no_plot:
        path = Path(args.plot) if args.plot else Path("plots") / f"{problem.name}_sweep.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        batch.plot(path, against=against)
        print(f"  plot: {path}")
    return 0 if ok.all() else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="varcalc", description="Calculus of variations: solve and plot extremals.")
    parser.add_argument("--version", action=_Version, help="print varcalc's version and exit")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # --debug after the subcommand too; SUPPRESS: absent there, the top-level value stands.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback of an error"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add = lambda name, **kw: sub.add_parser(name, parents=[common], **kw)
    add("list", help="list the catalog of problems").set_defaults(func=_cmd_list)
    s = add("solve", help="solve a catalog problem (by name) or a problem file (path)")
    s.add_argument("problem", help="catalog name (see `varcalc list`) or path to a .py file defining `problem`")
    s.add_argument("--n", type=int, help="number of grid nodes (default: the problem's own, else 401)")
    s.add_argument("--grading", type=float, help="grading power of the grid toward --grading-end (1 = uniform)")
    s.add_argument("--grading-end", choices=["left", "right", "both"], help="where a graded grid clusters")
    s.add_argument("--max-iter", type=int, help="maximum Newton iterations")
    s.add_argument("--degree", type=int, help="polynomial degree of the elements (default: the problem's, else 1)")
    s.add_argument(
        "--tol",
        type=float,
        help="refine until the error estimate of J meets this relative "
        "tolerance (h-refinement; p-refinement from --degree > 1)",
    )
    s.add_argument("--plot", help="PNG path (default plots/<name>.png)")
    s.add_argument("--no-plot", action="store_true", help="do not plot")
    s.add_argument("--json", help="write the solution as JSON to this path")
    s.add_argument("--quiet", action="store_true", help="no Newton iteration table")
    s.add_argument(
        "--all",
        action="store_true",
        help="find all extremals by deflation (table of J and verdicts; plot default plots/<name>_all.png)",
    )
    s.add_argument(
        "--estimate",
        action="store_true",
        help="also estimate the discretization error (one more solve on the halved grid)",
    )
    s.set_defaults(func=_cmd_solve)
    p = add("plots", help="solve every catalog problem and write plots/<name>.png")
    p.add_argument("--outdir", default="plots")
    p.set_defaults(func=_cmd_plots)
    w = add("sweep", help="solve a problem for many parameter / boundary values in one batched call")
    w.add_argument("problem", help="catalog name or path to a .py file defining `problem`")
    w.add_argument("--param", help="name of the parameter to sweep (a key of the problem's params)")
    w.add_argument("--values", help="values of --param: a:b:count (evenly spaced) or v1,v2,...")
    w.add_argument("--bc-left", help="sweep the left Dirichlet value: a:b:count or v1,v2,...")
    w.add_argument("--bc-right", help="sweep the right Dirichlet value: a:b:count or v1,v2,...")
    w.add_argument("--n", type=int, help="number of grid nodes (default: the problem's own, else 401)")
    w.add_argument("--grading", type=float, help="grading power of the grid (1 = uniform)")
    w.add_argument("--max-iter", type=int, help="maximum Newton iterations")
    w.add_argument("--out", action="append", help="write results (.npz, .json or .csv; repeatable)")
    w.add_argument("--plot", help="PNG of the value against the swept input (default plots/<name>_sweep.png)")
    w.add_argument("--no-plot", action="store_true", help="do not plot")
    w.add_argument("--chunk-size", type=int, help="problems per compiled call (default: automatic)")
    w.add_argument("--devices", help="shard the batch over 'all' devices or the first k")
    w.add_argument("--quiet", action="store_true", help="no progress line")
    w.set_defaults(func=_cmd_sweep)
    c = add(
        "continue",
        help="follow a parameter by pseudo-arclength continuation: folds, branch points, "
        "the bifurcation diagram to a PNG",
    )
    c.add_argument("problem", help="catalog name or path to a .py file defining `problem` (with params)")
    c.add_argument("--param", required=True, help="the parameter to continue in (a key of the problem's params)")
    c.add_argument("--values", required=True, help="a:b:count: from a to b, count - 1 nominal steps")
    c.add_argument("--n", type=int, help="number of grid nodes (default: the problem's own, else 401)")
    c.add_argument("--out", help="PNG path of the diagram (default plots/<name>_diagram.png)")
    c.set_defaults(func=_cmd_continue)
    e = add("euler", help="print the Euler–Lagrange equation of a problem, symbolically (needs SymPy)")
    e.add_argument("problem", help="catalog name or path to a .py file defining `problem`")
    e.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    e.set_defaults(func=_cmd_euler)
    w = add("new", help="write NAME.py, a commented problem file to start from")
    w.add_argument("name", help="a Python identifier (writes NAME.py here) or a path ending in .py")
    w.add_argument("--force", action="store_true", help="overwrite an existing file")
    w.set_defaults(func=_cmd_new)
    return parser


class _Version(argparse.Action):
    """``--version``: looked up only when asked (importlib.metadata costs an import otherwise)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("varcalc")
        except PackageNotFoundError:  # a source tree on sys.path, not installed
            import varcalc

            v = getattr(varcalc, "__version__", "unknown")
        print(f"varcalc {v}")
        parser.exit()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "n", None) is not None and args.n < 2:
            raise UsageError(f"--n: expected at least 2 nodes, got {args.n}")
        return args.func(args)
    except Exception as exc:
        line = None if args.debug else _error_line(exc)
        if line is None:  # --debug, or not the user's error (a bug of varcalc's): the traceback
            raise
        print(f"varcalc: error: {line}", file=sys.stderr)
        return 2


def _error_line(exc: BaseException) -> str | None:
    """The one line that reports a user error, or None when ``exc`` is not one."""
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, SyntaxError) and exc.filename:  # the problem file (or a module it imports)
        where = _USER_FILES.get(_resolved(exc.filename), exc.filename)
        return f"{where}:{exc.lineno}: {exc.msg} ({type(exc).__name__})"
    frame = _user_frame(exc)
    if frame is not None:  # raised in a problem file (its import, or its integrand called)
        message = f"{type(exc).__name__}: {_first_line(exc)}" if str(exc).strip() else type(exc).__name__
        return f"{frame}: {message} (--debug shows the traceback)"
    if isinstance(exc, (ValueError, TypeError)):  # bad options or inputs, checked by varcalc
        # varcalc's own message about an integrand that failed: point at the failing line.
        cause = exc.__cause__ or exc.__context__
        frame = _user_frame(cause) if cause is not None else None
        return f"{frame}: {_first_line(exc)}" if frame else str(exc)
    return None


def _first_line(exc) -> str:
    """The message's first line (the rest, e.g. JAX's notes on tracing, is in --debug's traceback)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] + " ..." * (len(lines) > 1)) if lines else ""


def _user_frame(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame of ``exc``'s traceback in a problem file, if any."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _resolved(f.filename) in _USER_FILES]
    return f"{_USER_FILES[_resolved(frames[-1].filename)]}:{frames[-1].lineno}" if frames else None


def _resolved(filename: str) -> Path | None:
    try:
        return Path(filename).resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def run() -> None:
    """The ``varcalc`` command (and ``python -m varcalc``): :func:`main`, then a quick exit.

    Once the report is printed and the files are written, the interpreter's own teardown (XLA's
    thread pools and client, every module's cleanup) still takes ~0.4 s on the 2-core CI machine,
    a tenth of a cold run; the exit handlers run and the streams are flushed, then the process
    ends without it (a user error too: :func:`main` printed its line and returns 2).  Other errors
    leave the usual way (a traceback, or ``SystemExit``'s message: argparse, ``--version``).
    """
    import atexit

    try:
        code = main()
        code = code if isinstance(code, int) else int(code is not None)
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`varcalc solve ... | head`): no traceback
        code = 1
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
