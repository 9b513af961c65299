"""Shared test setup: Agg plots, no persistent compilation cache, float64 (varcalc turns it on at
import), strict promotion."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# In-process CLI calls (`main([...])`) would switch on JAX's persistent compilation cache in the
# user's home for the rest of the session: tests leave it alone (an entry that another process
# wrote aborted a run here once, inside jax's cache read).
os.environ["VARCALC_NO_CACHE"] = "1"

import jax  # noqa: E402

import varcalc  # noqa: E402,F401  (enables jax_enable_x64)

# Silent dtype casts in the library fail loudly in tests (optimistix/lineax habit).
jax.config.update("jax_numpy_dtype_promotion", "strict")
