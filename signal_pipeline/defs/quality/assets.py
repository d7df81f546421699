"""Bot detection: every session flagged with reasons; nothing is deleted."""

from typing import Any

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from signal_pipeline.bots import BotThresholds, flag_bot_sessions
from signal_pipeline.bots.ground_truth import bot_detection_quality, read_bot_labels
from signal_pipeline.bots.reason_report import bot_flag_metadata
from signal_pipeline.metadata import table_metadata
from signal_pipeline.resources import WarehouseResource


class BotDetectionConfig(dg.Config):
    """Thresholds of the bot rules (defaults: the reference method, see BotThresholds)."""

    min_session_s: float = Field(
        default=BotThresholds.min_session_s, description="short_session: shorter than this (s)."
    )
    short_session_min_page_views: int = Field(
        default=BotThresholds.short_session_min_page_views,
        description="short_session: ...with this many page views (1 = plain duration rule)...",
    )
    short_session_min_interactions: int = Field(
        default=BotThresholds.short_session_min_interactions,
        description="short_session: ...or this many distinct interactions (quiet bounces kept).",
    )
    max_clicks_per_second: float = Field(
        default=BotThresholds.max_clicks_per_second,
        description="click_rate: more clicks than this within one second.",
    )
    rapid_click_gap_s: float = Field(
        default=BotThresholds.rapid_click_gap_s,
        description="rapid_clicks: clicks closer than this (s) count as a rapid pair.",
    )
    rapid_click_min_pairs: int = Field(
        default=BotThresholds.rapid_click_min_pairs,
        description="rapid_clicks: this many rapid pairs (one double-click is one pair).",
    )
    min_distinct_interactions: int = Field(
        default=BotThresholds.min_distinct_interactions,
        description="few_interactions: fewer distinct content interactions than this...",
    )
    few_interactions_min_events: int = Field(
        default=BotThresholds.few_interactions_min_events,
        description="...despite at least this many active events (1 = plain rule).",
    )
    crawler_user_agent: bool = Field(
        default=BotThresholds.crawler_user_agent,
        description="crawler_user_agent: flag user agents on the crawler list (crawlerdetect).",
    )
    pointer_checks: bool = Field(
        default=BotThresholds.pointer_checks,
        description="unnatural_pointer: constant positions or metronomic timing.",
    )
    pointer_min_events: int = Field(
        default=BotThresholds.pointer_min_events,
        description="Pointer events needed before the pointer rule judges a session.",
    )
    pointer_max_variance: float = Field(
        default=BotThresholds.pointer_max_variance,
        description="x and y variance at or below this = the pointer never moved.",
    )
    pointer_max_interval_cv: float = Field(
        default=BotThresholds.pointer_max_interval_cv,
        description="Coefficient of variation of pointer intervals below this = a timer.",
    )
    anomaly_rule: bool = Field(
        default=BotThresholds.anomaly_rule,
        description="behavioural_anomaly: also flag IsolationForest outliers (score always kept).",
    )
    anomaly_contamination: float = Field(
        default=BotThresholds.anomaly_contamination,
        description="IsolationForest contamination (expected share of anomalous sessions).",
    )
    random_state: int = Field(default=BotThresholds.random_state, description="Seed.")
    labels_path: str | None = Field(
        default=None,
        description=(
            "Optional ground-truth labels CSV (session_id, is_bot, bot_kind; e.g. the "
            "simulator's labels.csv): when given, precision, recall, false-positive rate and "
            "recall per bot kind are recorded in the metadata. Not used for flagging."
        ),
    )

    def to_thresholds(self) -> BotThresholds:
        """The plain thresholds object the detector takes."""
        return BotThresholds.from_mapping(self.model_dump())


def ground_truth_metadata(
    con: duckdb.DuckDBPyConnection, flags: pd.DataFrame, labels_path: str
) -> dict[str, Any]:
    """Quality of ``flags`` against the labels at ``labels_path``, as materialization metadata."""
    identity = con.execute(
        "SELECT session_id, anonymous_id, session_start FROM session_metrics"
    ).df()
    quality = bot_detection_quality(
        flags.merge(identity, on="session_id", how="left"), read_bot_labels(labels_path)
    )
    return {
        "bot_precision": dg.MetadataValue.float(quality.precision),
        "bot_recall": dg.MetadataValue.float(quality.recall),
        "human_false_positive_rate": dg.MetadataValue.float(quality.false_positive_rate),
        "bot_recall_by_kind": dg.MetadataValue.json(quality.recall_by_kind),
        "ground_truth": dg.MetadataValue.json(quality.to_dict()),
        "ground_truth_summary": dg.MetadataValue.md(quality.to_markdown()),
        "labels_path": dg.MetadataValue.path(labels_path),
    }


@dg.asset(
    group_name="quality",
    deps=["session_metrics", "sessionized_events"],
    kinds={"duckdb", "sklearn"},
    owners=["team:data-engineering"],
    pool="duckdb",
)
def session_bot_flags(
    context: dg.AssetExecutionContext, config: BotDetectionConfig, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Per session: `is_bot`, the list of `bot_reasons` (rule names) and an `anomaly_score`.

    Rules: too short, click rate, rapid-click pattern, too few distinct interactions, crawler user
    agent, unnatural pointer path; an IsolationForest scores every session's behaviour.
    Metadata: sessions per reason (table and bar chart) and the thresholds used; with
    `labels_path`, precision / recall / false-positive rate against those labels.
    """
    thresholds = config.to_thresholds()
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import bot_flags_step

        return bot_flags_step(context, duckdb.engine, thresholds, config.labels_path)
    with duckdb.get_connection() as con:
        flags = flag_bot_sessions(con, thresholds)
        con.register("bot_flags_frame", flags)
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "CREATE OR REPLACE TABLE session_bot_flags AS "
            "SELECT session_id, CAST(is_bot AS BOOLEAN) AS is_bot, "
            "CAST(bot_reasons AS VARCHAR[]) AS bot_reasons, "
            "CAST(anomaly_score AS DOUBLE) AS anomaly_score FROM bot_flags_frame"
        )
        con.execute("COMMIT")
        con.unregister("bot_flags_frame")
        reasons = dict(
            con.execute(
                "SELECT reason, count(*) FROM (SELECT unnest(bot_reasons) AS reason "
                "FROM session_bot_flags) GROUP BY reason"
            ).fetchall()
        )
        metadata = table_metadata(con, "session_bot_flags")
        if config.labels_path:
            metadata.update(ground_truth_metadata(con, flags, config.labels_path))
    total = len(flags)
    bots = int(flags["is_bot"].sum()) if total else 0
    context.log.info("%d of %d sessions flagged as bots", bots, total)
    metadata.update(bot_flag_metadata(reasons, bots, total, thresholds.to_dict()))
    return dg.MaterializeResult(metadata=metadata)
