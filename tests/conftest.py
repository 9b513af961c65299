"""Shared test setup: Agg plots, float64 (varcalc turns it on at import), strict promotion, and no
persistent compilation cache.

Every test compiles what it needs itself: the engine compiles a small kernel per functional and a
generic Newton step per size bucket (issue 14), so the suite needs no cache shared between tests.
In-process CLI calls would switch JAX's persistent cache on in the user's ~/.cache; they don't here.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["VARCALC_NO_CACHE"] = "1"

import jax  # noqa: E402

import varcalc  # noqa: E402,F401  (enables jax_enable_x64)

# Silent dtype casts in the library fail loudly in tests (optimistix/lineax habit).
jax.config.update("jax_numpy_dtype_promotion", "strict")
