"""Great Expectations 1.x suites as Dagster asset checks (not dagster-ge, which pins GX < 1)."""

from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from signal_pipeline.bots import BotThresholds, bot_rule_violations
from signal_pipeline.bots.session_rules import SIGNAL_COLUMNS
from signal_pipeline.bots.signals import SESSION_SIGNALS_SQL
from signal_pipeline.metadata import markdown_table
from signal_pipeline.quality import QualityReport, validate_frame
from signal_pipeline.resources import WarehouseResource
from signal_pipeline.sql_models.runner import quote_identifier

#: raw_events rows validated by GX (a repeatable sample above this; exact counts stay exact).
RAW_EVENTS_SAMPLE_ROWS = 300_000
#: Offending sessions listed in the metadata of a failed no_bot_sessions_survive.
SAMPLE_VIOLATIONS = 20


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
    # DuckDB takes only constants in a SAMPLE clause: the size is a code constant, never data.
    # Sampling row ids, then fetching those rows, is ~4x faster than a reservoir of whole rows.
    rows = int(RAW_EVENTS_SAMPLE_ROWS)
    sample = con.execute(
        "SELECT * FROM raw_events WHERE rowid IN ("
        f"SELECT rowid FROM raw_events USING SAMPLE reservoir({rows} ROWS) REPEATABLE (7))"
    ).df()
    return sample, total


@dg.asset_check(asset="raw_events", description="GX suite on raw_events.")
def raw_events_meet_contract(duckdb: WarehouseResource) -> dg.AssetCheckResult:
    """Schema, non-null ids and timestamps, known event types, value ranges, unique event_id and
    at least one row (an empty table passes column expectations otherwise).

    Above 300k rows the column expectations run on a repeatable reservoir sample.
    """
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import table_frame, table_rows

        frame = table_frame(duckdb.engine, "raw_events", RAW_EVENTS_SAMPLE_ROWS)
        total = table_rows(duckdb.engine, "raw_events")
    else:
        with duckdb.get_connection() as con:
            frame, total = raw_events_sample(con)
    report = validate_frame(frame, "raw_events")
    return check_result(
        report,
        {"rows_total": dg.MetadataValue.int(total), "rows_validated": len(frame)},
    )


def validated_session_signals(
    con: duckdb.DuckDBPyConnection, thresholds: BotThresholds
) -> pd.DataFrame:
    """``session_id``, ``is_bot`` and every bot-rule input of each ``validated_sessions`` row.

    Rule inputs come from ``validated_sessions`` itself where it has them (a planted row is judged
    on its own values), the rest from the event-derived signals of ``bots.signals``; only the
    needed columns are read.
    """
    present = {d[0] for d in con.execute("SELECT * FROM validated_sessions LIMIT 0").description}
    own = [c for c in ("session_id", "is_bot", *SIGNAL_COLUMNS) if c in present]
    derived = [c for c in SIGNAL_COLUMNS if c not in present]
    columns = [f"v.{quote_identifier(c)}" for c in own]
    columns += [f"s.{quote_identifier(c)}" for c in derived]
    sql = (
        f"SELECT {', '.join(columns)} FROM validated_sessions AS v "
        f"LEFT JOIN ({SESSION_SIGNALS_SQL}) AS s ON v.session_id = s.session_id "
        "ORDER BY v.session_id"
    )
    return con.execute(sql, {"rapid_click_gap_s": float(thresholds.rapid_click_gap_s)}).df()


def violations_markdown(frame: pd.DataFrame, thresholds: BotThresholds) -> str:
    """Up to 20 offending sessions with the rule they break and the signal values that break it."""
    violations = bot_rule_violations(frame, thresholds).head(SAMPLE_VIOLATIONS)
    return markdown_table(["session_id", "rule", "detail"], violations.to_numpy().tolist())


@dg.asset_check(asset="validated_sessions", blocking=True, description="No bot survives.")
def no_bot_sessions_survive(
    context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource
) -> dg.AssetCheckResult:
    """Blocking: no validated session breaks any bot rule (duration, click rate, rapid clicks,
    distinct interactions, crawler UA, pointer path) under the thresholds that flagged them, and
    `is_bot` is false everywhere. On failure downstream features and clustering do not run.

    Metadata: per failed rule the unexpected count and percentage and sample session ids; on
    failure a table of offending sessions with the signal values that break the rule."""
    thresholds = bot_thresholds_in_force(context)
    if duckdb.engine.is_spark:
        from signal_pipeline.spark import dagster_steps

        frame = dagster_steps.validated_session_signals(duckdb.engine)
    else:
        with duckdb.get_connection() as con:
            frame = validated_session_signals(con, thresholds)
    report = validate_frame(frame, "validated_sessions", thresholds=thresholds)
    extra: dict[str, Any] = {"thresholds": dg.MetadataValue.json(thresholds.to_dict())}
    if not report.success:
        extra["offending_sessions"] = dg.MetadataValue.md(violations_markdown(frame, thresholds))
    return check_result(report, extra)


@dg.asset_check(asset="session_features", blocking=True, description="Features are sane.")
def session_features_are_plausible(duckdb: WarehouseResource) -> dg.AssetCheckResult:
    """Blocking: no NaN/inf in numeric features, urgency_score and engagement_depth_index within
    [0, 1], durations non-negative, percentages within 0–100, rates non-negative."""
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import table_frame

        frame = table_frame(duckdb.engine, "session_features")
    else:
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
