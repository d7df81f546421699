"""How many sessions each bot reason flagged: a markdown table and a PNG bar chart."""

from __future__ import annotations

from collections.abc import Mapping

from signal_pipeline.charts import figure_png, new_figure, png_markdown
from signal_pipeline.metadata import markdown_table


def ordered_reasons(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``(reason, sessions)`` pairs, most frequent first, ties by name."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def reason_bars_markdown(counts: Mapping[str, int], total: int) -> str:
    """Bot reasons as a markdown table with text bars (share of all ``total`` sessions)."""
    rows = []
    for reason, n in ordered_reasons(counts):
        share = n / total if total else 0.0
        rows.append([reason, n, f"{100 * share:.1f} %", "█" * max(1, round(40 * share))])
    return markdown_table(["reason", "sessions", "share of sessions", ""], rows)


def reason_chart_png(counts: Mapping[str, int], total: int) -> bytes:
    """A horizontal bar chart (PNG) of sessions per bot reason; a session may have several."""
    pairs = ordered_reasons(counts)
    fig, ax = new_figure(width=7.0, height=1.2 + 0.4 * max(len(pairs), 1))
    if pairs:
        names = [name for name, _ in reversed(pairs)]
        values = [n for _, n in reversed(pairs)]
        bars = ax.barh(names, values, color="#c0504d")
        labels = [f"{n} ({100 * n / total:.1f} %)" if total else str(n) for n in values]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
        ax.set_xlim(0, max(values) * 1.3)
    else:
        ax.text(0.5, 0.5, "no session flagged", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel(f"sessions (of {total})")
    ax.set_title("Bot sessions by reason")
    ax.spines[["top", "right"]].set_visible(False)
    return figure_png(fig)


def reason_chart_markdown(counts: Mapping[str, int], total: int) -> str:
    """The bar chart of :func:`reason_chart_png` embedded in markdown as a data URI."""
    return png_markdown(reason_chart_png(counts, total), "bot sessions by reason")


def bot_flag_metadata(
    counts: Mapping[str, int], bots: int, total: int, thresholds: Mapping[str, object]
) -> dict[str, object]:
    """The ``session_bot_flags`` materialization's summary (either engine): bot sessions and
    share, the reasons as table and chart, and the thresholds used."""
    import dagster as dg

    return {
        "bot_sessions": dg.MetadataValue.int(bots),
        "bot_share": dg.MetadataValue.float(bots / total if total else 0.0),
        "bot_reasons": dg.MetadataValue.md(reason_bars_markdown(counts, total)),
        "bot_reasons_chart": dg.MetadataValue.md(reason_chart_markdown(counts, total)),
        "thresholds": dg.MetadataValue.json(dict(thresholds)),
    }
