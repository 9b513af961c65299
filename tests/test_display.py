"""Notebook display (issue 19 item 3): solutions, batches and certificates render as a summary and
the plot (``_repr_html_``), without leaving figures open or drawing for traced solutions."""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import varcalc as vc  # noqa: E402

G = lambda f, df, x, p: 0.5 * df**2 + p["q"] * f  # noqa: E731
PROBLEM = vc.Problem(G, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, params={"q": 1.0}, name="loaded_string")


def test_a_solution_shows_its_summary_and_plot():
    open_before = set(plt.get_fignums())  # (other tests in this worker may have left figures open)
    sol = vc.solve(PROBLEM, n=41)
    page = sol._repr_html_()
    assert "loaded_string: converged" in page and "Newton iterations" in page
    assert f"{sol.value:.15g}" in page
    assert '<img src="data:image/png;base64,' in page
    assert "certificate" not in page  # not computed yet: a display computes nothing but the plot
    sol.certificate
    assert "strict local minimum" in sol._repr_html_()
    assert set(plt.get_fignums()) <= open_before  # the display's figures were closed


def test_a_failed_solve_says_so_with_its_message():
    osc = vc.Problem(lambda f, df, x: 0.5 * (df**2 - f**2), (0.0, 4.0), bc={"left": 0.0, "right": 1.0})
    sol = vc.solve(osc, n=41)  # past the conjugate point: no minimum
    assert not sol.converged
    page = sol._repr_html_()
    assert "NOT converged" in page and "message" in page and "#c62828" in page


def test_traced_solutions_fall_back_to_the_plain_repr():
    sol = jax.jit(lambda q: vc.solve(PROBLEM, n=21, params={"q": q}))(1.0)
    assert sol._repr_html_() is None


def test_batches_and_certificates_render():
    open_before = set(plt.get_fignums())
    batch = vc.solve_batch(PROBLEM, n=21, params={"q": jnp.array([1.0, 2.0, 3.0])})
    page = batch._repr_html_()
    assert "3 / 3" in page and "3 problems" in page and "data:image/png;base64," in page
    cert = vc.solve(PROBLEM, n=21).certificate
    page = cert._repr_html_()
    assert cert.verdict in page and "<pre>" in page and "#2e7d32" in page
    assert set(plt.get_fignums()) <= open_before
    assert np.isfinite(batch.value).all()
