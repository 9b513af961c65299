"""Rich display in Jupyter (``_repr_html_``): a summary table and the plot, for solutions, batches
and certificates.  Only what is already computed is shown, except the figure (drawn with the Agg
canvas, so no window opens and nothing is left in pyplot's figure list)."""

from __future__ import annotations

import base64
import html
import io


def figure_html(fig) -> str:
    """``fig`` (a matplotlib Figure) as an ``<img>`` with its PNG inline; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%"/>'


def summary_html(title: str, rows, ok: bool | None = None) -> str:
    """A two-column table ``rows`` (label, value) under ``title``; ``ok`` colours the title."""
    colour = {True: "#2e7d32", False: "#c62828", None: "inherit"}[ok]
    cells = "".join(
        f"<tr><td style='text-align:left'>{html.escape(str(k))}</td>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return (
        f"<div><b style='color:{colour}'>{html.escape(title)}</b>"
        f"<table style='border-collapse:collapse'>{cells}</table></div>"
    )


def with_figure(summary: str, draw) -> str:
    """``summary`` and, below it, the figure ``draw()`` returns (or the error that drawing raised:
    a display must not fail)."""
    try:
        return summary + figure_html(draw())
    except Exception as exc:  # noqa: BLE001 - show the summary whatever the plot does
        return summary + f"<pre>plot unavailable: {html.escape(f'{type(exc).__name__}: {exc}')}</pre>"
