"""A progress bar for long sweeps (continuation, :func:`varcalc.solve_all`), off by default.

``progress=True`` on those functions shows one: in Jupyter through ``tqdm.auto`` (its widget) when
tqdm is installed (an optional dependency: ``pip install tqdm``); in a terminal a one-line bar on
stderr, drawn only when stderr is a TTY (so logs and test runs stay clean).  Anything else
(``progress=False``, a pipe, no tqdm in a notebook) shows nothing.

>>> with bar(3, "demo", enabled=False) as b:   # disabled: a no-op with the same interface
...     b.update(1); b.note("J = 1")
"""

from __future__ import annotations

import sys
import time

__all__ = ["bar"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    try:
        ip = shell.get_ipython() if shell is not None else None
    except Exception:  # noqa: BLE001  (any IPython oddity: not a notebook)
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _Null:
    """The disabled bar."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, k=1):
        pass

    def note(self, text):
        pass


class _Terminal(_Null):
    """``label [#####.....] done/total  note`` redrawn in place on stderr (at most 10 times a second)."""

    width = 30

    def __init__(self, total, label, stream):
        self.total, self.label, self.stream = max(int(total), 1), label, stream
        self.done, self.text, self._last = 0, "", 0.0

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        filled = int(self.width * min(self.done, self.total) / self.total)
        line = f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {self.text}"
        self.stream.write(line[:160].ljust(80))
        self.stream.flush()

    def update(self, k=1):
        self.done += k
        self._draw()

    def note(self, text):
        self.text = str(text)
        self._draw()

    def __exit__(self, *exc):
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()
        return False


class _Tqdm(_Null):
    def __init__(self, total, label):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=label, leave=True)

    def update(self, k=1):
        self.bar.update(k)

    def note(self, text):
        self.bar.set_postfix_str(str(text), refresh=False)

    def __exit__(self, *exc):
        self.bar.close()
        return False


def bar(total: int, label: str, enabled=False, stream=None):
    """A progress bar of ``total`` units (``update(k)``, ``note(text)``; a context manager).

    ``enabled``: False (nothing), True (a bar where one can be shown: a notebook with tqdm, or a
    terminal).  ``stream``: where the terminal bar draws (default ``sys.stderr``; drawn only if it
    is a TTY)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"progress: expected True or False, got {enabled!r}")
    if not enabled:
        return _Null()
    if _in_notebook():
        try:
            return _Tqdm(total, label)
        except ImportError:  # tqdm is optional: no bar rather than an error
            return _Null()
    stream = sys.stderr if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        return _Terminal(total, label, stream)
    return _Null()
