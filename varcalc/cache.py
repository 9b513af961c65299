"""The one cache of compiled pieces: bounded, least recently used first out.

Compiled programs are kept per structure (the integrand, the layout, the step options), so a
second solve of the same functional compiles nothing.  Each compiled program holds machine code
(memory maps, ~10–240 each): an unbounded cache of a process that defines many functionals grows
until Linux's 65,530-map limit crashes XLA.  Entries past :data:`MAX_ENTRIES` are dropped oldest
first; once nothing else refers to a dropped ``jax.jit`` function, JAX frees its executables.

:func:`clear_cache` (``vc.clear_cache()``) drops everything, JAX's own caches included.

>>> from varcalc import cache
>>> cache.get(("doc-example",), lambda: 42)
42
>>> cache.clear_cache()
>>> cache.size()
0
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["get", "clear_cache", "size", "MAX_ENTRIES"]

MAX_ENTRIES = 96  # compiled kernels and steps kept: about 30 functionals (a few pieces each)

_entries: OrderedDict = OrderedDict()


def get(key: Hashable, make: Callable):
    """The entry for ``key``, made by ``make()`` on a miss (and the oldest dropped past the bound)."""
    try:
        _entries.move_to_end(key)
        return _entries[key]
    except KeyError:
        pass
    value = make()
    _entries[key] = value
    while len(_entries) > MAX_ENTRIES:
        _entries.popitem(last=False)
    return value


def size() -> int:
    """Number of entries held."""
    return len(_entries)


def clear_cache() -> None:
    """Drop every compiled piece varcalc holds, and JAX's compilation caches.

    The next solve of any functional compiles again.  Use it in long-running processes that define
    many functionals, or to measure first-solve latency.
    """
    import jax

    _entries.clear()
    jax.clear_caches()
    gc.collect()
