"""Bot detection: every session flagged with reasons; nothing is deleted."""

import dagster as dg
from pydantic import Field

from signal_pipeline.bots import BotThresholds, flag_bot_sessions
from signal_pipeline.metadata import markdown_table, table_metadata
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

    def to_thresholds(self) -> BotThresholds:
        """The plain thresholds object the detector takes."""
        return BotThresholds.from_mapping(self.model_dump())


def reason_bars_markdown(counts: dict[str, int], total: int) -> str:
    """Bot reasons as a markdown table with text bars."""
    rows = []
    for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        share = n / total if total else 0.0
        rows.append([reason, n, f"{100 * share:.1f} %", "█" * max(1, round(40 * share))])
    return markdown_table(["reason", "sessions", "share of sessions", ""], rows)


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
    """
    thresholds = config.to_thresholds()
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
    total = len(flags)
    bots = int(flags["is_bot"].sum()) if total else 0
    context.log.info("%d of %d sessions flagged as bots", bots, total)
    metadata.update(
        {
            "bot_sessions": dg.MetadataValue.int(bots),
            "bot_share": dg.MetadataValue.float(bots / total if total else 0.0),
            "bot_reasons": dg.MetadataValue.md(reason_bars_markdown(reasons, total)),
            "thresholds": dg.MetadataValue.json(thresholds.to_dict()),
        }
    )
    return dg.MaterializeResult(metadata=metadata)
