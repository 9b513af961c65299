"""Shared test setup: Agg plots, a per-session persistent compilation cache, float64 (varcalc turns
it on at import), strict promotion."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# JAX's persistent compilation cache, in a fresh folder of this session only: tests re-create
# problems whose compiled code is the same (new closures, same HLO), and the cache serves them
# across tests; the user's ~/.cache/varcalc is never touched (an entry another process wrote there
# aborted a run once, inside jax's cache read).  In-process CLI calls use the same folder.
_CACHE_DIR = tempfile.mkdtemp(prefix="varcalc-tests-jax-cache-")
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
os.environ["VARCALC_CACHE_DIR"] = _CACHE_DIR

import jax  # noqa: E402

import varcalc  # noqa: E402,F401  (enables jax_enable_x64)

from varcalc.cli import _enable_compilation_cache  # noqa: E402

_enable_compilation_cache()

import gc  # noqa: E402

import pytest  # noqa: E402


_MAPS_BEFORE_RELEASE = 30_000  # Linux's default vm.max_map_count is 65530


def _memory_maps():
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:  # not Linux: no such limit to watch
        return 0


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled executables after a test module once they hold many memory maps (each
    maps its machine code): the whole suite in one process passed Linux's 65530-map limit and XLA
    segfaulted while compiling (measured ~300 maps per test).  Only past a threshold, because a
    release makes later modules recompile (the session's persistent cache makes that cheaper)."""
    yield
    if _memory_maps() > _MAPS_BEFORE_RELEASE:
        jax.clear_caches()
        gc.collect()


# Silent dtype casts in the library fail loudly in tests (optimistix/lineax habit).
jax.config.update("jax_numpy_dtype_promotion", "strict")
