"""Drift monitoring: daily key signals and their two-sided CUSUM against the model baseline."""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from signal_pipeline.charts import figure_png, new_figure, png_markdown
from signal_pipeline.drift.cusum import DEFAULT_H, DEFAULT_K, tabular_cusum
from signal_pipeline.drift.signals import DEFAULT_SIGNALS, check_signals, daily_signals
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import WarehouseResource
from signal_pipeline.segments.registry import latest_model

DRIFT_COLUMNS = [
    "day",
    "signal",
    "value",
    "sessions",
    "baseline_mean",
    "baseline_std",
    "cusum_pos",
    "cusum_neg",
    "alarm",
    "model_version",
]


class DriftConfig(dg.Config):
    """CUSUM parameters, in units of the baseline standard deviation."""

    signals: list[str] = Field(default=list(DEFAULT_SIGNALS), description="Signals to watch.")
    k: float = Field(default=DEFAULT_K, description="Reference value (allowance), in σ.")
    h: float = Field(default=DEFAULT_H, description="Decision interval, in σ.")


def cusum_table(
    series: pd.DataFrame, baseline: dict[str, dict[str, float]], version: int, k: float, h: float
) -> pd.DataFrame:
    """CUSUM per signal over the days from the baseline window's start (rows of DRIFT_COLUMNS)."""
    frames = []
    for signal, group in series.groupby("signal", sort=True):
        stats = baseline.get(str(signal), {})
        mean, std = float(stats.get("mean", np.nan)), float(stats.get("std", np.nan))
        group = group.sort_values("day")
        result = tabular_cusum(group["value"].to_numpy(dtype=float), mean, std, k=k, h=h)
        frames.append(
            group.assign(
                baseline_mean=mean,
                baseline_std=std,
                cusum_pos=result.cusum_pos,
                cusum_neg=result.cusum_neg,
                alarm=result.alarms.astype(bool),
                model_version=version,
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in DRIFT_COLUMNS})
    return pd.concat(frames, ignore_index=True)[DRIFT_COLUMNS]


def cusum_chart(rows: pd.DataFrame, signal: str, h: float) -> str:
    """The signal's daily series with its baseline, and both CUSUM sums against h."""
    fig, (top, bottom) = new_figure(7.0, 4.2, rows=2)
    days = pd.to_datetime(rows["day"])
    mean, std = rows["baseline_mean"].iloc[0], rows["baseline_std"].iloc[0]
    top.plot(days, rows["value"], marker="o", ms=3, label=signal)
    top.axhline(mean, color="grey", ls="--", label="baseline mean")
    if np.isfinite(std):
        top.axhspan(mean - std, mean + std, color="grey", alpha=0.15, label="±1σ")
    top.legend(fontsize=7)
    bottom.plot(days, rows["cusum_pos"], label="C+")
    bottom.plot(days, rows["cusum_neg"], label="C−")
    bottom.axhline(h, color="crimson", ls="--", label=f"h = {h:g}σ")
    bottom.legend(fontsize=7)
    fig.autofmt_xdate()
    return png_markdown(figure_png(fig), f"CUSUM of {signal}")


@dg.asset(
    group_name="monitoring",
    deps=["session_features", "cluster_model"],
    kinds={"duckdb", "pandas"},
    owners=["team:data-science"],
    pool="duckdb",
)
def drift_statistics(
    context: dg.AssetExecutionContext, config: DriftConfig, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Daily key signals (mean dwell, scroll velocity, CTA CTR, urgency) and their two-sided
    tabular CUSUM against the baseline of the current cluster model's fit window.

    Metadata per signal: the latest sums, alarm state, first alarm day and a chart; the drift
    sensor reads only this metadata.
    """
    signals = check_signals(config.signals)
    with duckdb.get_connection() as con:
        registered = latest_model(con)
        baseline = registered.baseline if registered else {}
        version = registered.version if registered else 0
        first = registered.window_start if registered else None
        series = daily_signals(con, signals, first=first)
        table = cusum_table(series, baseline, version, config.k, config.h)
        con.register("drift_frame", table)
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "CREATE OR REPLACE TABLE drift_statistics AS SELECT CAST(day AS DATE) AS day, "
            "CAST(signal AS VARCHAR) AS signal, CAST(value AS DOUBLE) AS value, "
            "CAST(sessions AS BIGINT) AS sessions, CAST(baseline_mean AS DOUBLE) AS "
            "baseline_mean, CAST(baseline_std AS DOUBLE) AS baseline_std, CAST(cusum_pos AS "
            "DOUBLE) AS cusum_pos, CAST(cusum_neg AS DOUBLE) AS cusum_neg, CAST(alarm AS "
            "BOOLEAN) AS alarm, CAST(model_version AS INTEGER) AS model_version FROM drift_frame"
        )
        con.execute("COMMIT")
        con.unregister("drift_frame")
        metadata = table_metadata(con, "drift_statistics")
    status = []
    for signal in signals:
        rows = table[table["signal"] == signal]
        if rows.empty:
            continue
        alarms = rows[rows["alarm"]]
        status.append(
            {
                "signal": signal,
                "last_day": str(rows["day"].iloc[-1]),
                "cusum_pos": float(rows["cusum_pos"].iloc[-1]),
                "cusum_neg": float(rows["cusum_neg"].iloc[-1]),
                "alarm": bool(rows["alarm"].iloc[-1]),
                "first_alarm_day": str(alarms["day"].iloc[0]) if len(alarms) else None,
            }
        )
        metadata[f"chart_{signal}"] = dg.MetadataValue.md(cusum_chart(rows, signal, config.h))
    in_alarm = [s["signal"] for s in status if s["first_alarm_day"]]
    metadata.update(
        {
            "model_version": dg.MetadataValue.int(version),
            "baseline_window_start": dg.MetadataValue.text(str(first) if first else ""),
            "h": dg.MetadataValue.float(config.h),
            "k": dg.MetadataValue.float(config.k),
            "signal_status": dg.MetadataValue.json(status),
            "signals_in_alarm": dg.MetadataValue.json(in_alarm),
            "status_table": dg.MetadataValue.md(
                markdown_table(
                    ["signal", "last day", "C+", "C−", "alarm now", "first alarm"],
                    [
                        [
                            s["signal"],
                            s["last_day"],
                            round(s["cusum_pos"], 2),
                            round(s["cusum_neg"], 2),
                            s["alarm"],
                            s["first_alarm_day"] or "",
                        ]
                        for s in status
                    ],
                )
            ),
        }
    )
    context.log.info("drift: %s", ", ".join(in_alarm) or "no alarm")
    return dg.MaterializeResult(metadata=metadata)
