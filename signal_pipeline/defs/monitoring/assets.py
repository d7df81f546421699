"""Drift monitoring: daily key signals and their two-sided CUSUM against the model baseline."""

from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from signal_pipeline.defs.ingest.assets import daily_partitions
from signal_pipeline.drift.chart import cusum_chart
from signal_pipeline.drift.cusum import DEFAULT_H, DEFAULT_K
from signal_pipeline.drift.signals import DEFAULT_SIGNALS, check_signals, daily_signals
from signal_pipeline.drift.statistics import (
    DEFAULT_SIGMA_CONFIDENCE,
    DRIFT_COLUMNS,
    SignalStatus,
    cusum_table,
    earliest_alarm,
    signal_status,
)
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import WarehouseResource
from signal_pipeline.segments.registry import latest_model

DRIFT_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS drift_statistics (day DATE NOT NULL, signal VARCHAR NOT NULL, "
    "value DOUBLE, sessions BIGINT, baseline_mean DOUBLE, baseline_std DOUBLE, "
    "baseline_days INTEGER, cusum_sigma DOUBLE, cusum_k DOUBLE, z DOUBLE, "
    "cusum_pos DOUBLE, cusum_neg DOUBLE, alarm BOOLEAN, model_version INTEGER)"
)


class DriftConfig(dg.Config):
    """Which signals to watch and the CUSUM parameters, in units of the baseline σ."""

    signals: list[str] = Field(
        default=list(DEFAULT_SIGNALS),
        description=f"Signals to watch, from: {', '.join(DEFAULT_SIGNALS)}.",
    )
    k: float = Field(default=DEFAULT_K, description="Reference value (allowance), in σ.")
    h: float = Field(default=DEFAULT_H, description="Decision interval, in σ.")
    sigma_confidence: float = Field(
        default=DEFAULT_SIGMA_CONFIDENCE,
        description=(
            "Guard against a short baseline: the CUSUM's σ is widened to this upper confidence "
            "bound for the number of baseline days, and k grows by this quantile of the baseline "
            "mean's error (z_c/√n σ); 0 = plain sample σ and k."
        ),
    )


def ensure_drift_table(con: duckdb.DuckDBPyConnection) -> bool:
    """Create ``drift_statistics`` (replacing a table of an older layout); True if replaced."""
    columns = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() ORDER BY ordinal_position",
            ["drift_statistics"],
        ).fetchall()
    ]
    replaced = bool(columns) and columns != list(DRIFT_COLUMNS)
    if replaced:
        con.execute("DROP TABLE drift_statistics")
    con.execute(DRIFT_TABLE_DDL)
    return replaced


def replace_days(
    con: duckdb.DuckDBPyConnection, table: pd.DataFrame, first: date, last: date
) -> None:
    """Delete the days ``first``..``last`` of drift_statistics and insert ``table``'s rows of
    those days, in one transaction (the same input gives the same table)."""
    rows = table[(table["day"] >= first) & (table["day"] <= last)]
    con.register("drift_frame", rows)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM drift_statistics WHERE day >= ? AND day <= ?", [first, last])
        con.execute(
            "INSERT INTO drift_statistics SELECT CAST(day AS DATE), CAST(signal AS VARCHAR), "
            "CAST(value AS DOUBLE), CAST(sessions AS BIGINT), CAST(baseline_mean AS DOUBLE), "
            "CAST(baseline_std AS DOUBLE), CAST(baseline_days AS INTEGER), "
            "CAST(cusum_sigma AS DOUBLE), CAST(cusum_k AS DOUBLE), CAST(z AS DOUBLE), "
            " CAST(cusum_pos AS DOUBLE), "
            "CAST(cusum_neg AS DOUBLE), CAST(alarm AS BOOLEAN), CAST(model_version AS INTEGER) "
            "FROM drift_frame"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("drift_frame")


def status_markdown(statuses: list[SignalStatus]) -> str:
    """The per-signal state as a markdown table."""

    def num(value: float | None) -> str:
        return "" if value is None else f"{value:.3g}"

    return markdown_table(
        [
            "signal",
            "as of",
            "value",
            "baseline",
            "σ",
            "z",
            "C+",
            "C−",
            "alarm now",
            "alarm start",
            "change point",
        ],
        [
            [
                s.signal,
                s.as_of or "",
                num(s.value),
                num(s.baseline_mean),
                num(s.baseline_std),
                num(s.cusum_sigma),
                num(s.cusum_k),
                num(s.z),
                num(s.cusum_pos),
                num(s.cusum_neg),
                s.alarm_now,
                s.alarm_start or "",
                s.change_point or "",
            ]
            for s in statuses
        ],
    )


@dg.asset(
    group_name="monitoring",
    deps=["session_features", "cluster_model"],
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"duckdb", "pandas"},
    owners=["team:data-science"],
    pool="duckdb",
)
def drift_statistics(
    context: dg.AssetExecutionContext, config: DriftConfig, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Daily key signals of validated sessions (default: mean dwell, scroll velocity, CTA CTR,
    urgency) and their two-sided tabular CUSUM against the baseline (mean, σ of the daily values)
    of the window the current cluster model was fitted on.

    One row per (day, signal); the chart runs from the baseline window's first day without
    resets, so a day's row is the same whenever it is recomputed. A partition (or a range, in one
    run) replaces exactly its days. Metadata, as of the range's last day: each signal's value,
    z, C+ and C−, alarm state, alarm start and estimated change point, a chart per signal, and
    the earliest alarm (`drift_alarm`): the drift sensor reads only this metadata.
    """
    signals = check_signals(config.signals)
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date() - timedelta(days=1)
    stored = duckdb.stored_metadata("drift_statistics")
    tables = duckdb.session_tables(
        ["session_features"],
        ["drift_statistics"],
        optional=["cluster_model_versions", "drift_statistics"],
    )
    with tables as con:
        registered = latest_model(con)
        baselines = registered.baseline if registered else {}
        version = registered.version if registered else 0
        monitored_from = registered.window_start if registered else None
        fit_window = (
            (registered.window_start, registered.window_end)
            if registered and registered.window_start and registered.window_end
            else None
        )
        series_from = min(first, monitored_from) if monitored_from else first
        series = daily_signals(con, signals, first=series_from, last=last)
        data_last = con.execute("SELECT max(session_date) FROM session_features").fetchone()
        table = cusum_table(
            series,
            baselines,
            version,
            monitored_from,
            k=config.k,
            h=config.h,
            confidence=config.sigma_confidence,
        )
        if ensure_drift_table(con):
            context.log.warning("drift_statistics had an older layout: recreated it")
        replace_days(con, table, first, last)
        metadata = table_metadata(
            con, "drift_statistics", where="day >= ? AND day <= ?", params=[first, last]
        )
    statuses = [
        signal_status(
            series[series["signal"] == signal],
            signal,
            baselines.get(signal, {}),
            monitored_from,
            last,
            k=config.k,
            h=config.h,
            confidence=config.sigma_confidence,
        )
        for signal in signals
    ]
    alarm = earliest_alarm(statuses)
    metadata.update(stored)
    for signal in signals:
        rows = table[table["signal"] == signal]
        if not rows.empty:
            metadata[f"chart_{signal}"] = dg.MetadataValue.md(
                cusum_chart(rows, signal, config.h, fit_window)
            )
    metadata.update(
        {
            "model_version": dg.MetadataValue.int(version),
            "baseline_window_start": dg.MetadataValue.text(
                str(fit_window[0]) if fit_window else ""
            ),
            "baseline_window_end": dg.MetadataValue.text(str(fit_window[1]) if fit_window else ""),
            "as_of_day": dg.MetadataValue.text(str(last)),
            "data_last_day": dg.MetadataValue.text(
                str(data_last[0]) if data_last and data_last[0] else ""
            ),
            "k": dg.MetadataValue.float(config.k),
            "h": dg.MetadataValue.float(config.h),
            "sigma_confidence": dg.MetadataValue.float(config.sigma_confidence),
            "signals": dg.MetadataValue.json(list(signals)),
            "signal_status": dg.MetadataValue.json([s.as_json() for s in statuses]),
            "signals_in_alarm": dg.MetadataValue.json(alarm.signals if alarm else []),
            "drift_alarm": dg.MetadataValue.json(alarm.as_json() if alarm else {}),
            "status_table": dg.MetadataValue.md(status_markdown(statuses)),
        }
    )
    if alarm:
        context.log.warning(
            "drift in %s: alarm since %s, estimated change %s (model v%d)",
            ", ".join(alarm.signals),
            alarm.alarm_start,
            alarm.change_point,
            version,
        )
    else:
        context.log.info("no drift alarm as of %s against model v%d", last, version)
    return dg.MaterializeResult(metadata=metadata)
