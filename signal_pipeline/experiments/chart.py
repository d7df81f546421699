"""Forest plot of the lift per segment: raw and stratified estimates with 95 % intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signal_pipeline.charts import figure_png, new_figure, png_markdown
from signal_pipeline.experiments.summary import is_true

METRIC_LABELS = {
    "cta_click_through": "sessions with a CTA click",
    "conversion": "conversion",
}


def forest_plot_png(table: pd.DataFrame) -> bytes | None:
    """One panel per metric (first treatment variant of each experiment); None if no estimate."""
    rows = table[table["abs_lift"].notna()]
    if rows.empty:
        return None
    metrics = [m for m in METRIC_LABELS if m in set(rows["metric"])]
    height = 1.0 + 0.35 * rows.groupby("metric").size().max() * len(metrics)
    fig, axes = new_figure(width=7.5, height=max(2.5, height), rows=len(metrics))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics, strict=True):
        part = rows[rows["metric"] == metric].reset_index(drop=True)
        labels = [
            f"{r.segment_name} ({r.treatment_variant})" if part["treatment_variant"].nunique() > 1
            else str(r.segment_name)
            for r in part.itertuples()
        ]  # fmt: skip
        y = np.arange(len(part))[::-1]
        ax.errorbar(
            part["abs_lift"], y + 0.15,
            xerr=[part["abs_lift"] - part["abs_lift_ci_low"],
                  part["abs_lift_ci_high"] - part["abs_lift"]],
            fmt="o", color="#9ca3af", label="raw",
        )  # fmt: skip
        adjusted = part["adjusted_abs_lift"].notna()
        ax.errorbar(
            part.loc[adjusted, "adjusted_abs_lift"], y[adjusted.to_numpy()] - 0.15,
            xerr=[part.loc[adjusted, "adjusted_abs_lift"] - part.loc[adjusted, "adjusted_ci_low"],
                  part.loc[adjusted, "adjusted_ci_high"] - part.loc[adjusted, "adjusted_abs_lift"]],
            fmt="s", color="#1d4ed8", label="stratified (MH)",
        )  # fmt: skip
        for yi, significant in zip(y, part["significant"], strict=True):
            if is_true(significant):
                ax.annotate("*", (1.0, yi), xycoords=("axes fraction", "data"), color="crimson")
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, labels)
        ax.set_title(f"lift in {METRIC_LABELS[metric]} (treatment − control)", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    axes[-1].set_xlabel("absolute lift (95 % interval); * significant after Benjamini–Hochberg")
    return figure_png(fig)


def forest_plot_markdown(table: pd.DataFrame) -> str | None:
    """The forest plot as markdown (a data-URI PNG), or None when nothing was estimated."""
    png = forest_plot_png(table)
    return None if png is None else png_markdown(png, "lift forest plot")
