"""Charts for Dagster metadata and reports: matplotlib figures embedded as base64 PNG markdown.

matplotlib is imported on first use (not when Dagster loads the definitions).
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display: render to memory only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(width: float = 7.0, height: float = 3.2, rows: int = 1) -> tuple[Figure, Any]:
    """A figure and its axes (an array of ``rows`` axes sharing x when rows > 1)."""
    fig, axes = _pyplot().subplots(rows, 1, figsize=(width, height), dpi=90, sharex=rows > 1)
    return fig, axes


def figure_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes and release it."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    _pyplot().close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown embedding ``png`` as a data URI (renders in the Dagster UI, no network)."""
    encoded = base64.b64encode(png).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"
