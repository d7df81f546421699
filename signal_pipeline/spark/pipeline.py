"""The whole pipeline on Spark, in-process: ingest → raw_events → SQL models (with bot flags
provided when a model first reads them) → cluster model fit on a driver sample → segments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from signal_pipeline.bots import BotThresholds
from signal_pipeline.ingest import IngestReport, IngestSettings
from signal_pipeline.segments import ClusterConfig, ClusterModel
from signal_pipeline.spark.bots import spark_bot_flags
from signal_pipeline.spark.ingest import spark_ingest
from signal_pipeline.spark.runner import build_spark_models
from signal_pipeline.spark.segments import fit_on_driver_sample, spark_session_segments
from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.tables import REPLACE_DAYS, write_table
from signal_pipeline.spark.transpile import transpile_models
from signal_pipeline.sql_models import ModelParams, load_models

#: Tables Python code produces for the SQL models (as in the Dagster definitions).
PYTHON_TABLES = ("raw_events", "session_bot_flags")


@dataclass
class SparkRunSummary:
    """What one Spark run did: the ingest report, row counts per table, the model used."""

    ingest: IngestReport | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    model: ClusterModel | None = None


def run_spark_pipeline(
    spark: Any,
    settings: SparkSettings,
    events: Sequence[str],
    *,
    ingest_settings: IngestSettings | None = None,
    params: ModelParams | None = None,
    thresholds: BotThresholds | None = None,
    cluster_config: ClusterConfig | None = None,
    model: ClusterModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> SparkRunSummary:
    """Run every stage on ``spark``, writing each table under ``settings.warehouse``.

    With ``model`` the sessions are assigned with that cluster model (no fit), which is how the
    same model gives the same segments on either engine; otherwise one is fitted on a driver
    sample of ``session_features``.
    """
    say = progress or (lambda _message: None)
    summary = SparkRunSummary()
    say("ingesting")
    ingested = spark_ingest(spark, settings, events, ingest_settings or IngestSettings())
    summary.ingest = ingested.report

    def land_raw_events() -> Any:
        say("landing raw_events")
        return write_table(spark, settings, "raw_events", ingested.staged, REPLACE_DAYS)

    def flag_bots() -> Any:
        say("flagging bots")
        return spark_bot_flags(spark, settings, thresholds)

    models = transpile_models(load_models(external_tables=PYTHON_TABLES))
    summary.table_rows = build_spark_models(
        spark,
        settings,
        models,
        params,
        providers={"raw_events": land_raw_events, "session_bot_flags": flag_bots},
        on_built=lambda name, rows: say(f"built {name}: {rows} rows"),
    )
    if model is None:
        say("fitting the cluster model on a driver sample")
        model = fit_on_driver_sample(spark, cluster_config).model
    summary.model = model
    segments = spark_session_segments(spark, settings, model)
    summary.table_rows["session_segments"] = int(segments.count())
    return summary
