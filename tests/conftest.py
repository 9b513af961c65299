"""Shared test setup: Agg plots, float64 (varcalc turns it on at import), strict promotion."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

import varcalc  # noqa: E402,F401  (enables jax_enable_x64)

# Silent dtype casts in the library fail loudly in tests (optimistix/lineax habit).
jax.config.update("jax_numpy_dtype_promotion", "strict")
