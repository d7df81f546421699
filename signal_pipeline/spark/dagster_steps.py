"""What the Dagster assets do when the engine resource is ``spark``.

Each function is one asset's (or check's) work on Spark, called by that asset in
``signal_pipeline/defs/`` as its first step when ``engine.is_spark``. Steps may run in separate
processes (Dagster's multiprocess executor): every step opens its upstream tables from the
warehouse (:func:`signal_pipeline.spark.tables.open_table`), never from session state, and
writes its own table there. Metadata has the same keys as the DuckDB assets' (row count, column
schema, preview, reconciliation, bot shares, cluster figures), plus ``engine`` and the table's
``path``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from signal_pipeline.bots import BotThresholds
from signal_pipeline.bots.reason_report import bot_flag_metadata
from signal_pipeline.bots.session_rules import SIGNAL_COLUMNS
from signal_pipeline.engine import EngineConfig
from signal_pipeline.ingest import IngestReport, IngestSettings
from signal_pipeline.metadata import PREVIEW_ROWS, markdown_table, with_lineage
from signal_pipeline.segments import ClusterConfig, ClusterModel
from signal_pipeline.segments.fit import FitResult
from signal_pipeline.sql_models import ModelParams, SqlModel
from signal_pipeline.sql_models.lineage import column_lineage

#: Spark-engine cluster models live apart from the DuckDB registry's: ``<artifacts>/spark/``.
SPARK_ARTIFACTS = "spark"


def _spark(engine: EngineConfig) -> tuple[Any, Any]:
    return engine.spark_session(), engine.spark_settings()


def open_tables(engine: EngineConfig, tables: Sequence[str]) -> None:
    """Register each stored table as a view; a table never written fails the step clearly."""
    from signal_pipeline.spark.tables import open_table

    spark, settings = _spark(engine)
    for table in tables:
        try:
            open_table(spark, settings, table)
        except LookupError as exc:
            raise dg.Failure(description=f"spark engine: {exc}") from exc


def spark_table_metadata(
    engine: EngineConfig,
    table: str,
    *,
    row_count: int | None = None,
    lineage: dict[str, list[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """Row count, column schema (Spark types), a preview, table name, engine and path."""
    spark, settings = _spark(engine)
    frame = spark.table(table)
    rows = int(frame.count()) if row_count is None else row_count
    columns = frame.schema.fieldNames()
    preview = [tuple(row) for row in frame.limit(PREVIEW_ROWS).collect()]
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=f.name, type=f.dataType.simpleString())
                for f in frame.schema.fields
            ]
        ),
        "preview": dg.MetadataValue.md(markdown_table(columns, preview)),
        "dagster/table_name": dg.MetadataValue.text(table),
        "engine": dg.MetadataValue.text("spark"),
        "path": dg.MetadataValue.path(settings.table_path(table)),
    }
    return with_lineage(metadata, lineage)


# --- ingest -----------------------------------------------------------------------------------


def ingest_step(
    context: dg.AssetExecutionContext,
    engine: EngineConfig,
    paths: Sequence[str],
    settings: IngestSettings,
) -> Iterator[dg.MaterializeResult]:
    """``staged_events`` and ``quarantined_events`` on Spark, with the reconciliation metadata."""
    from signal_pipeline.spark.ingest import spark_ingest

    spark, spark_settings = _spark(engine)
    result = spark_ingest(spark, spark_settings, list(paths), settings)
    report = result.report
    context.log.info(
        "spark: read %d lines: %d landed, %d duplicates, %d quarantined",
        report.lines_read,
        report.landed,
        report.duplicates,
        report.quarantined,
    )
    staged = spark_table_metadata(engine, "staged_events", row_count=report.landed)
    yield dg.MaterializeResult(
        asset_key="staged_events", metadata={**staged, **ingest_counts(report)}
    )
    yield dg.MaterializeResult(
        asset_key="quarantined_events",
        metadata={
            **spark_table_metadata(engine, "quarantined_events"),
            "quarantined_by_reason": dg.MetadataValue.json(report.quarantined_by_reason),
        },
    )


def ingest_counts(report: IngestReport) -> dict[str, Any]:
    """The reconciliation metadata of an ingest pass (the DuckDB asset's keys)."""
    from signal_pipeline.defs.ingest.assets import reconciliation_markdown

    return {
        "lines_read": dg.MetadataValue.int(report.lines_read),
        "landed": dg.MetadataValue.int(report.landed),
        "duplicates": dg.MetadataValue.int(report.duplicates),
        "quarantined": dg.MetadataValue.int(report.quarantined),
        "reconciles": dg.MetadataValue.bool(report.reconciles),
        "reconciliation": dg.MetadataValue.md(reconciliation_markdown(report)),
        "formats": dg.MetadataValue.json(report.formats),
        "quarantined_by_reason": dg.MetadataValue.json(report.quarantined_by_reason),
    }


def raw_events_step(
    context: dg.AssetExecutionContext,
    engine: EngineConfig,
    first: date,
    end: date,
    lookback_days: int,
) -> dg.MaterializeResult:
    """Replace the ``raw_events`` days of ``[first, end)`` that have staged rows with those rows
    (Spark's dynamic partition overwrite; other days are untouched)."""
    from pyspark.sql import functions as F

    from signal_pipeline.spark.tables import REPLACE_DAYS, open_table, write_table

    if lookback_days:
        raise dg.Failure(description="raw_events: lookback_days > 0 is not supported on spark")
    spark, settings = _spark(engine)
    open_tables(engine, ["staged_events"])
    in_window = (F.col("event_date") >= F.lit(first)) & (F.col("event_date") < F.lit(end))
    try:
        replaced = int(open_table(spark, settings, "raw_events").filter(in_window).count())
    except LookupError:
        replaced = 0
    window = spark.table("staged_events").filter(in_window)
    stored = write_table(spark, settings, "raw_events", window, REPLACE_DAYS)
    landed = int(stored.filter(in_window).count())
    context.log.info("spark: landed %d events of %s .. %s", landed, first, end)
    metadata = spark_table_metadata(engine, "raw_events")
    metadata["partition_days"] = dg.MetadataValue.int((end - first).days)
    metadata["lookback_days"] = dg.MetadataValue.int(0)
    metadata["replaced_rows"] = dg.MetadataValue.int(replaced)
    metadata["landed_rows"] = dg.MetadataValue.int(landed)
    metadata["late_events_landed"] = dg.MetadataValue.int(0)
    return dg.MaterializeResult(metadata=metadata)


# --- SQL models and bot flags -----------------------------------------------------------------


def transpile_for_spark(models: dict[str, SqlModel]) -> None:
    """At definition load with the Spark engine: transpile every model now, so a construct
    Spark cannot run fails the load naming the file (``SparkTranspileError``)."""
    from signal_pipeline.spark.transpile import transpile_models

    transpile_models(models)


def sql_model_step(
    context: dg.AssetExecutionContext,
    engine: EngineConfig,
    model: SqlModel,
    params: ModelParams,
) -> dg.MaterializeResult:
    """Build one SQL model's table on Spark (its SQL transpiled from the DuckDB model)."""
    from signal_pipeline.spark.runner import build_spark_model, register_model_params
    from signal_pipeline.spark.transpile import transpile_model

    spark, settings = _spark(engine)
    spark_model = transpile_model(model)
    open_tables(engine, model.upstream)
    register_model_params(spark, params)
    rows = build_spark_model(spark, settings, spark_model)
    context.log.info("spark: built %s: %d rows", model.name, rows)
    return dg.MaterializeResult(
        metadata=spark_table_metadata(
            engine, model.name, row_count=rows, lineage=_lineage(spark, model)
        )
    )


def _lineage(spark: Any, model: SqlModel) -> dict[str, list[tuple[str, str]]] | None:
    schema = {
        table: {f.name: f.dataType.simpleString().upper() for f in spark.table(table).schema}
        for table in model.upstream
    }
    try:
        return column_lineage(model, spark.table(model.name).schema.fieldNames(), schema)
    except Exception:  # lineage is a nicety: an unresolvable query keeps the table
        return None


def bot_flags_step(
    context: dg.AssetExecutionContext,
    engine: EngineConfig,
    thresholds: BotThresholds,
    labels_path: str | None = None,
) -> dg.MaterializeResult:
    """``session_bot_flags`` on Spark: signals per bucket of sessions, the anomaly model fitted
    on a driver sample and broadcast, rules applied in parallel."""
    from pyspark.sql import functions as F

    from signal_pipeline.spark.bots import spark_bot_flags

    spark, settings = _spark(engine)
    open_tables(engine, ["sessionized_events", "session_metrics"])
    flags = spark_bot_flags(spark, settings, thresholds)
    total = int(flags.count())
    bots = int(flags.filter(F.col("is_bot")).count())
    reasons = {
        row[0]: int(row[1])
        for row in flags.select(F.explode("bot_reasons").alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    }
    context.log.info("spark: %d of %d sessions flagged as bots", bots, total)
    metadata = spark_table_metadata(engine, "session_bot_flags", row_count=total)
    metadata.update(bot_flag_metadata(reasons, bots, total, thresholds.to_dict()))
    if labels_path:
        metadata.update(_ground_truth(spark, flags, labels_path))
    return dg.MaterializeResult(metadata=metadata)


def _ground_truth(spark: Any, flags: Any, labels_path: str) -> dict[str, Any]:
    """The DuckDB asset's ground-truth metadata, from the flags and session identities collected
    to the driver (labels files are per-session, so driver-sized) and an in-memory DuckDB."""
    import duckdb

    from signal_pipeline.defs.quality.assets import ground_truth_metadata

    identity = spark.table("session_metrics").select("session_id", "anonymous_id", "session_start")
    con = duckdb.connect()
    try:
        con.register("session_metrics", identity.toPandas())
        return ground_truth_metadata(con, flags.toPandas(), labels_path)
    finally:
        con.close()


# --- segments ---------------------------------------------------------------------------------


#: Spark-engine model registry: the DuckDB engine's ``cluster_model_versions`` layout (one row
#: per version: artifact path, fit window, baseline, ...), stored in the warehouse.
REGISTRY_TABLE = "cluster_model_versions"


def spark_model_path(artifacts: Path, version: int) -> Path:
    """Where the Spark engine saves cluster model ``version`` (apart from the DuckDB engine's)."""
    return artifacts / SPARK_ARTIFACTS / f"cluster_model_v{version:04d}.npz"


def registered_spark_models(engine: EngineConfig) -> list[tuple[int, str]]:
    """``(version, artifact path)`` of every Spark-engine model version, oldest first."""
    from signal_pipeline.spark.tables import open_table

    spark, settings = _spark(engine)
    try:
        rows = open_table(spark, settings, REGISTRY_TABLE).collect()
    except LookupError:
        return []
    return sorted((int(row["version"]), str(row["artifact_path"])) for row in rows)


#: The registry's fingerprint on Spark: the Spark engine refits on every run (no input hash).
SPARK_FINGERPRINT = "spark-engine"


def _save_and_register(
    engine: EngineConfig, result: FitResult, path: Path, previous_version: int | None
) -> ClusterModel:
    """Give the fitted model the drift baseline of its fit window (the DuckDB engine's
    ``daily_signals`` / ``baseline_statistics``), save it to ``path`` and add its row to the
    warehouse registry, all through a driver copy of the session-level tables."""
    from signal_pipeline.drift.signals import baseline_statistics, daily_signals
    from signal_pipeline.segments.registry import VersionChanges, register_model
    from signal_pipeline.spark.driver_tables import driver_copy

    assignments = result.assignments
    noise = float(assignments["is_noise"].mean()) if len(assignments) else 0.0
    changes = VersionChanges(
        previous_version=previous_version,
        new_segment_ids=tuple(result.match.new_segment_ids),
        vanished_segment_ids=tuple(result.match.vanished_segment_ids),
    )
    with driver_copy(
        engine, ["session_features"], [REGISTRY_TABLE], optional=[REGISTRY_TABLE]
    ) as con:
        window = result.model.window
        baseline = (
            baseline_statistics(daily_signals(con, first=window[0], last=window[1]))
            if window
            else {}
        )
        model = dataclasses.replace(result.model, baseline=baseline)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        register_model(
            con,
            model,
            fingerprint=SPARK_FINGERPRINT,
            artifact_path=path,
            noise_share=noise,
            changes=changes,
        )
    return model


def cluster_model_step(
    context: dg.AssetExecutionContext,
    engine: EngineConfig,
    artifacts: Path,
    config: ClusterConfig,
    window_days: int | None = None,
) -> dg.MaterializeResult:
    """Fit a new cluster model version on a driver sample of ``session_features`` (the last
    ``window_days`` days when set); segment ids are matched to the previous Spark-engine
    version's. The artifact, with the drift baseline of its fit window, is saved under
    ``<artifacts>/spark/`` and registered in the warehouse table ``cluster_model_versions``."""
    from signal_pipeline.spark.segments import fit_on_driver_sample

    open_tables(engine, ["session_features"])
    registered = registered_spark_models(engine)
    previous = ClusterModel.load(registered[-1][1]) if registered else None
    version = registered[-1][0] + 1 if registered else 1
    result = fit_on_driver_sample(
        engine.spark_session(),
        config,
        version=version,
        previous=previous,
        window_days=window_days,
    )
    path = spark_model_path(artifacts, version)
    _save_and_register(engine, result, path, registered[-1][0] if registered else None)
    for message in result.messages:
        context.log.info(message)
    assignments = result.assignments
    noise = float(assignments["is_noise"].mean()) if len(assignments) else 0.0
    return dg.MaterializeResult(
        metadata={
            "version": dg.MetadataValue.int(version),
            "refit": dg.MetadataValue.bool(True),
            "clusters": dg.MetadataValue.int(result.model.n_clusters),
            "noise_share": dg.MetadataValue.float(noise),
            "noise_reasons": dg.MetadataValue.json(result.noise_reasons()),
            "eps": dg.MetadataValue.float(float(result.model.eps)),
            "fit_sessions": dg.MetadataValue.int(result.fit_rows),
            "sessions": dg.MetadataValue.int(len(assignments)),
            "artifact": dg.MetadataValue.path(str(path)),
            "new_segment_ids": dg.MetadataValue.json(list(result.match.new_segment_ids)),
            "vanished_segment_ids": dg.MetadataValue.json(list(result.match.vanished_segment_ids)),
            "engine": dg.MetadataValue.text("spark"),
        }
    )


def session_segments_step(
    context: dg.AssetExecutionContext, engine: EngineConfig
) -> dg.MaterializeResult:
    """Assign every session with the newest Spark-engine model (broadcast, ``mapInPandas``)."""
    from pyspark.sql import functions as F

    from signal_pipeline.spark.segments import spark_session_segments

    registered = registered_spark_models(engine)
    if not registered:
        raise dg.Failure(description="no cluster model yet: materialize cluster_model first")
    model = ClusterModel.load(registered[-1][1])
    open_tables(engine, ["session_features"])
    spark, settings = _spark(engine)
    segments = spark_session_segments(spark, settings, model)
    sizes = (
        segments.groupBy("segment_id")
        .agg(F.first("segment_name"), F.count(F.lit(1)).alias("sessions"))
        .orderBy(F.desc("sessions"))
        .collect()
    )
    total = sum(int(row[2]) for row in sizes)
    context.log.info("spark: assigned %d sessions with model v%d", total, model.version)
    metadata = spark_table_metadata(engine, "session_segments", row_count=total)
    metadata["cluster_version"] = dg.MetadataValue.int(model.version)
    metadata["segment_sizes"] = dg.MetadataValue.md(
        markdown_table(["segment_id", "segment_name", "sessions"], [tuple(r) for r in sizes])
    )
    return dg.MaterializeResult(metadata=metadata)


# --- frames for the asset checks --------------------------------------------------------------


def table_frame(engine: EngineConfig, table: str, max_rows: int | None = None) -> pd.DataFrame:
    """``table`` on the driver ordered by its first column: all rows, or a seeded sample of
    about ``max_rows`` rows when it is larger (what the checks validate)."""
    from signal_pipeline.spark.driver import driver_sample, plain_columns

    open_tables(engine, [table])
    frame = engine.spark_session().table(table)
    rows = max_rows if max_rows is not None else 2**62
    return plain_columns(driver_sample(frame, rows, 7, frame.columns[0]))


def table_rows(engine: EngineConfig, table: str) -> int:
    """Row count of a stored table."""
    open_tables(engine, [table])
    return int(engine.spark_session().table(table).count())


def validated_session_signals(engine: EngineConfig) -> pd.DataFrame:
    """``session_id``, ``is_bot`` and every bot-rule input of each ``validated_sessions`` row:
    its own columns where it has them, the rest from the bot signals the flags were computed
    from (the Spark engine's stored ``_bot_signals``)."""
    from signal_pipeline.spark.bots import SIGNALS_TABLE

    open_tables(engine, ["validated_sessions", SIGNALS_TABLE])
    spark = engine.spark_session()
    validated = spark.table("validated_sessions")
    present = set(validated.columns)
    own = [c for c in ("session_id", "is_bot", *SIGNAL_COLUMNS) if c in present]
    derived = [c for c in SIGNAL_COLUMNS if c not in present]
    signals = spark.table(SIGNALS_TABLE).select("session_id", *derived)
    joined = validated.select(*own).join(signals, "session_id", "left")
    return joined.orderBy("session_id").toPandas()
