"""The same stages on DuckDB, without Dagster: the baseline of parity tests and benchmarks.

Calls exactly what the DuckDB assets call (``ingest_files``, landing every staged day in
``raw_events``, ``build_model`` per SQL model, ``flag_bot_sessions`` when a model first reads
``session_bot_flags``, ``fit_cluster_model`` and ``assign_sessions``), in the catalog's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from signal_pipeline import db
from signal_pipeline.bots import BotThresholds, flag_bot_sessions
from signal_pipeline.ingest import IngestReport, IngestSettings, ingest_files
from signal_pipeline.ingest.landing import land_staged_days
from signal_pipeline.segments import ClusterConfig, ClusterModel, assign_sessions
from signal_pipeline.segments.assign import SEGMENT_COLUMNS
from signal_pipeline.segments.fit import fit_cluster_model
from signal_pipeline.spark.pipeline import PYTHON_TABLES
from signal_pipeline.sql_models import ModelParams, build_model, load_models


@dataclass
class DuckDBRunSummary:
    """What one reference run did."""

    ingest: IngestReport
    table_rows: dict[str, int] = field(default_factory=dict)
    model: ClusterModel | None = None


def _write_bot_flags(con: duckdb.DuckDBPyConnection, thresholds: BotThresholds) -> None:
    flags = flag_bot_sessions(con, thresholds)
    con.register("bot_flags_frame", flags)
    con.execute(
        "CREATE OR REPLACE TABLE session_bot_flags AS "
        "SELECT session_id, CAST(is_bot AS BOOLEAN) AS is_bot, "
        "CAST(bot_reasons AS VARCHAR[]) AS bot_reasons, "
        "CAST(anomaly_score AS DOUBLE) AS anomaly_score FROM bot_flags_frame"
    )
    con.unregister("bot_flags_frame")


def segment_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``session_features`` ordered by session (the frame the cluster assets fit and assign)."""
    return con.execute("SELECT * FROM session_features ORDER BY session_id").df()


def run_duckdb_reference(
    database: Path,
    events: Sequence[str],
    *,
    ingest_settings: IngestSettings | None = None,
    params: ModelParams | None = None,
    thresholds: BotThresholds | None = None,
    cluster_config: ClusterConfig | None = None,
    model: ClusterModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> DuckDBRunSummary:
    """Run every stage into the DuckDB file ``database``; fit a model unless one is given."""
    say = progress or (lambda _message: None)
    with db.connect(database) as con:
        say("ingesting")
        report = ingest_files(con, events, ingest_settings or IngestSettings())
        summary = DuckDBRunSummary(ingest=report)
        land_staged_days(con)
        for name, sql_model in load_models(external_tables=PYTHON_TABLES).items():
            if "session_bot_flags" in sql_model.upstream and not db.table_exists(
                con, "session_bot_flags"
            ):
                say("flagging bots")
                _write_bot_flags(con, thresholds or BotThresholds())
            summary.table_rows[name] = build_model(con, sql_model, params)
            say(f"built {name}: {summary.table_rows[name]} rows")
        features = segment_features(con)
        if model is None:
            days = pd.to_datetime(features["session_date"]).dt.date
            window = (min(days), max(days)) if len(features) else None
            model = fit_cluster_model(
                features, cluster_config or ClusterConfig(), version=1, window=window, previous=None
            ).model
        summary.model = model
        assigned = assign_sessions(model, features)
        assigned["cluster_version"] = model.version
        con.register("segments_frame", assigned[SEGMENT_COLUMNS])
        con.execute("CREATE OR REPLACE TABLE session_segments AS SELECT * FROM segments_frame")
        con.unregister("segments_frame")
        summary.table_rows["session_segments"] = len(assigned)
    return summary
