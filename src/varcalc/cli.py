"""The ``varcalc`` command: list the catalog, solve a catalog problem or a problem file, plot.

    varcalc list
    varcalc solve brachistochrone [--n 401] [--grading 2] [--plot out.png] [--json out.json]
    varcalc solve path/to/my_problem.py
    varcalc plots                     # regenerate plots/ for the whole catalog

A problem file is a Python module defining ``problem`` (a :class:`varcalc.Problem`) and optionally
``n`` (default node count), ``grading`` (kwargs of :func:`varcalc.graded_grid`), ``guess``,
``mode``, ``params``, ``solve_options`` (more keyword arguments of :func:`varcalc.solve`)
and ``plot_options`` (kwargs of :meth:`varcalc.Solution.plot`).  See ``problems/`` for examples.
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
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def catalog() -> dict[str, str]:
    """Catalog problem names -> first docstring line."""
    import varcalc.problems as pkg

    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        path = Path(pkg.__path__[0]) / f"{info.name}.py"
        out[info.name] = _first_docstring_line(path)
    return out


def _first_docstring_line(path: Path) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (OSError, SyntaxError):
        doc = None
    return (doc or "").strip().splitlines()[0] if doc else ""


def load_problem_module(spec: str):
    """Import a catalog problem by name, or a problem file by path."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise SystemExit(f"varcalc: no such problem file: {spec}")
        mspec = importlib.util.spec_from_file_location(f"varcalc_user_problem_{path.stem}", path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[mspec.name] = module
        mspec.loader.exec_module(module)
    else:
        names = catalog()
        if spec not in names:
            raise SystemExit(f"varcalc: unknown problem {spec!r}; catalog: {', '.join(names)} "
                             "(or give a path to a .py file defining `problem`)")
        module = importlib.import_module(f"varcalc.problems.{spec}")
    from .problem import Problem

    if not isinstance(getattr(module, "problem", None), Problem):
        raise SystemExit(f"varcalc: {spec} must define `problem = vc.Problem(...)`")
    return module


def solve_module(module, *, n=None, grading=None, grading_end=None, max_iter=None, verbose=False):
    """Solve a problem module with its own defaults, overridden by the arguments."""
    from . import Newton, graded_grid, solve

    problem = module.problem
    n = n if n is not None else getattr(module, "n", DEFAULT_N)
    grade = dict(getattr(module, "grading", None) or {})
    if grading is not None:
        grade = {} if grading == 1 else {**grade, "power": grading}
    if grading_end is not None and grade:
        grade["end"] = grading_end
    kwargs = {"grid": graded_grid(problem.domain, n, **grade)} if grade else {"n": n}
    solver = Newton(max_iter=max_iter) if max_iter else None
    options = dict(getattr(module, "solve_options", None) or {})
    for name in ("mode", "params"):  # module-level shorthands
        if getattr(module, name, None) is not None:
            options.setdefault(name, getattr(module, name))
    return solve(problem, guess=getattr(module, "guess", None), solver=solver, verbose=verbose,
                 **options, **kwargs)


def _report(sol, elapsed) -> str:
    import numpy as np

    p = sol.problem
    lines = [f"{p.name}: {'converged' if sol.converged else 'NOT converged'} in {sol.iterations} "
             f"Newton iteration{'s' * (sol.iterations != 1)}, n = {sol.x.size} nodes, {elapsed:.2f} s (compile included)",
             f"  J = {sol.value:.15g}"]
    if p.exact_value is not None:
        rel = sol.value_error() / max(abs(p.exact_value), 1e-300)
        lines.append(f"  exact J = {p.exact_value:.15g}, error {sol.value_error():.3e} (relative {rel:.3e})")
    if p.exact is not None:
        lines.append(f"  max nodal error vs exact extremal: {sol.error():.3e}")
    lines.append(f"  quadrature: {sol.quadrature}" + (f", singular ends: {', '.join(sol.singular_ends)}"
                                                      if sol.singular_ends else ""))
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
    return "\n".join(lines)


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
    t0 = time.perf_counter()
    sol = solve_module(module, n=args.n, grading=args.grading, grading_end=args.grading_end,
                       max_iter=args.max_iter, verbose=not args.quiet)
    elapsed = time.perf_counter() - t0
    print(_report(sol, elapsed))
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
        sol.plot(path, **dict(getattr(module, "plot_options", {}) or {}))
        print(f"{name:<22} converged={sol.converged}  plot: {path}")
        failed += not sol.converged
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="varcalc", description="Calculus of variations: solve and plot extremals.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the catalog of problems").set_defaults(func=_cmd_list)
    s = sub.add_parser("solve", help="solve a catalog problem (by name) or a problem file (path)")
    s.add_argument("problem", help="catalog name (see `varcalc list`) or path to a .py file defining `problem`")
    s.add_argument("--n", type=int, help="number of grid nodes (default: the problem's own, else 401)")
    s.add_argument("--grading", type=float, help="grading power of the grid toward --grading-end (1 = uniform)")
    s.add_argument("--grading-end", choices=["left", "right", "both"], help="where a graded grid clusters")
    s.add_argument("--max-iter", type=int, help="maximum Newton iterations")
    s.add_argument("--plot", help="PNG path (default plots/<name>.png)")
    s.add_argument("--no-plot", action="store_true", help="do not plot")
    s.add_argument("--json", help="write the solution as JSON to this path")
    s.add_argument("--quiet", action="store_true", help="no Newton iteration table")
    s.set_defaults(func=_cmd_solve)
    p = sub.add_parser("plots", help="solve every catalog problem and write plots/<name>.png")
    p.add_argument("--outdir", default="plots")
    p.set_defaults(func=_cmd_plots)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "n", None) is not None and args.n < 2:
        print(f"varcalc: --n: expected at least 2 nodes, got {args.n}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"varcalc: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
