"""The CUSUM chart of one signal: its daily series over the baseline, and both sums against h."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from signal_pipeline.charts import figure_png, new_figure, png_markdown


def cusum_chart(
    rows: pd.DataFrame,
    signal: str,
    h: float,
    baseline_window: tuple[date, date] | None = None,
) -> str:
    """Markdown PNG: the series with the baseline mean, ±1σ band and fit window (top), and
    C+ / C− with the decision interval h and the alarming days (bottom)."""
    rows = rows.sort_values("day")
    fig, (top, bottom) = new_figure(7.0, 4.2, rows=2)
    days = pd.to_datetime(rows["day"])
    mean = float(rows["baseline_mean"].iloc[0])
    std = float(rows["baseline_std"].iloc[0])
    top.plot(days, rows["value"], marker="o", ms=3, lw=1.2, label=signal)
    if np.isfinite(mean):
        top.axhline(mean, color="grey", ls="--", lw=1, label="baseline mean")
        if np.isfinite(std):
            top.axhspan(mean - std, mean + std, color="grey", alpha=0.15, label="±1σ")
    if baseline_window is not None:
        top.axvspan(
            pd.Timestamp(baseline_window[0]),
            pd.Timestamp(baseline_window[1]),
            color="tab:green",
            alpha=0.08,
            label="fit window",
        )
    top.legend(fontsize=7, loc="upper left")
    bottom.plot(days, rows["cusum_pos"], label="C+")
    bottom.plot(days, rows["cusum_neg"], label="C−")
    bottom.axhline(h, color="crimson", ls="--", lw=1, label=f"h = {h:g}σ")
    alarms = rows["alarm"].astype(bool).to_numpy()
    if alarms.any():
        peak = np.fmax(rows["cusum_pos"].to_numpy(float), rows["cusum_neg"].to_numpy(float))
        bottom.scatter(days[alarms], peak[alarms], color="crimson", s=12, zorder=3, label="alarm")
    bottom.set_ylabel("σ")
    bottom.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    return png_markdown(figure_png(fig), f"CUSUM of {signal}")
