"""Great Expectations 1.x suites as Dagster asset checks (not dagster-ge, which pins GX < 1)."""

from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from signal_pipeline.bots import BotThresholds
from signal_pipeline.bots.signals import session_signals
from signal_pipeline.quality import QualityReport, validate_frame
from signal_pipeline.resources import WarehouseResource

#: raw_events rows validated by GX (a repeatable sample above this; exact counts stay exact).
RAW_EVENTS_SAMPLE_ROWS = 300_000


def check_result(report: QualityReport, extra: dict[str, Any] | None = None) -> dg.AssetCheckResult:
    """An AssetCheckResult whose metadata explains each failure (counts, %, sample ids, rule)."""
    meta = report.to_metadata()
    metadata: dict[str, Any] = {
        "results": dg.MetadataValue.md(meta.pop("results_markdown")),
        "failed_rules": dg.MetadataValue.json(meta.pop("failed_rules")),
        "failures": dg.MetadataValue.json(meta.pop("failures")),
        "notes": dg.MetadataValue.json(meta.pop("notes")),
    }
    metadata.update({k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool))})
    metadata.update(extra or {})
    failed = report.failed_rules()
    description = (
        f"{report.suite_name}: all {len(report.outcomes)} expectations met"
        if report.success
        else f"{report.suite_name}: failed {', '.join(failed)}"
    )
    return dg.AssetCheckResult(passed=report.success, description=description, metadata=metadata)


def bot_thresholds_in_force(context: dg.AssetCheckExecutionContext) -> BotThresholds:
    """The thresholds the latest session_bot_flags run used (defaults before any run)."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey("session_bot_flags"))
    if event is None or event.asset_materialization is None:
        return BotThresholds()
    value = event.asset_materialization.metadata.get("thresholds")
    data = getattr(value, "data", None) or getattr(value, "value", None)
    return BotThresholds.from_mapping(dict(data)) if isinstance(data, dict) else BotThresholds()


def raw_events_sample(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, int]:
    """raw_events, or a repeatable reservoir sample of it when large; plus the total row count."""
    total_row = con.execute("SELECT count(*) FROM raw_events").fetchone()
    total = int(total_row[0]) if total_row else 0
    if total <= RAW_EVENTS_SAMPLE_ROWS:
        return con.execute("SELECT * FROM raw_events").df(), total
    sample = con.execute(
        "SELECT * FROM raw_events USING SAMPLE reservoir(? ROWS) REPEATABLE (7)",
        [RAW_EVENTS_SAMPLE_ROWS],
    ).df()
    return sample, total


@dg.asset_check(asset="raw_events", description="GX suite on raw_events.")
def raw_events_meet_contract(duckdb: WarehouseResource) -> dg.AssetCheckResult:
    """Schema, non-null ids and timestamps, known event types, value ranges, unique event_id and
    at least one row (an empty table passes column expectations otherwise).

    Above 300k rows the column expectations run on a repeatable reservoir sample.
    """
    with duckdb.get_connection() as con:
        frame, total = raw_events_sample(con)
    report = validate_frame(frame, "raw_events")
    return check_result(
        report,
        {"rows_total": dg.MetadataValue.int(total), "rows_validated": len(frame)},
    )


@dg.asset_check(asset="validated_sessions", blocking=True, description="No bot survives.")
def no_bot_sessions_survive(
    context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource
) -> dg.AssetCheckResult:
    """Blocking: no validated session breaks any bot rule (duration, click rate, rapid clicks,
    distinct interactions, crawler UA, pointer path) under the thresholds that flagged them, and
    `is_bot` is false everywhere. On failure downstream features and clustering do not run."""
    thresholds = bot_thresholds_in_force(context)
    with duckdb.get_connection() as con:
        sessions = con.execute("SELECT * FROM validated_sessions ORDER BY session_id").df()
        signals = session_signals(con, thresholds)
    extra_columns = [c for c in signals.columns if c not in sessions.columns] + ["session_id"]
    frame = sessions.merge(signals[extra_columns], on="session_id", how="left")
    report = validate_frame(frame, "validated_sessions", thresholds=thresholds)
    return check_result(report, {"thresholds": dg.MetadataValue.json(thresholds.to_dict())})


@dg.asset_check(asset="session_features", blocking=True, description="Features are sane.")
def session_features_are_plausible(duckdb: WarehouseResource) -> dg.AssetCheckResult:
    """Blocking: no NaN/inf in numeric features, urgency_score and engagement_depth_index within
    [0, 1], durations non-negative, percentages within 0–100, rates non-negative."""
    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM session_features ORDER BY session_id").df()
    report = validate_frame(
        frame, "session_features", nullable_columns=("min_click_gap_s",), min_rows=0
    )
    return check_result(report)


@dg.definitions
def quality_check_defs() -> dg.Definitions:
    """The Great Expectations asset checks."""
    return dg.Definitions(
        asset_checks=[
            raw_events_meet_contract,
            no_bot_sessions_survive,
            session_features_are_plausible,
        ]
    )
