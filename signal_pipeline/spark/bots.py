"""Bot detection on Spark: the same signals, rules and anomaly model as the DuckDB path.

1. **Signals**, in parallel: sessions are hashed into buckets; each bucket's
   ``sessionized_events`` and ``session_metrics`` rows meet in one task (``cogroup`` +
   ``applyInPandas``), which runs :func:`signal_pipeline.bots.session_signals` (the project's own
   per-session SQL) on an embedded DuckDB over just that bucket. A session's events never span
   buckets, so every signal is exactly the DuckDB one.
2. **Anomaly model**, on the driver: the IsolationForest of :mod:`signal_pipeline.bots.anomaly`
   is fitted on a sample of the signals (all of them up to ``fit_sample_rows``, ordered by
   session, which reproduces the DuckDB fit exactly; above it a seeded random sample: the forest
   draws 256 rows per tree either way) and broadcast.
3. **Flags**, in parallel (``mapInPandas``): every rule of :mod:`signal_pipeline.bots` and the
   broadcast model's score give ``session_id, is_bot, bot_reasons, anomaly_score``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from signal_pipeline.bots import BotThresholds, session_signals
from signal_pipeline.bots.anomaly import anomaly_features, fit_anomaly_model, model_scores
from signal_pipeline.bots.detect import flags_from_scores
from signal_pipeline.bots.signals import SESSION_SIGNALS_SQL
from signal_pipeline.spark.driver import (
    broadcast_payload,
    broadcast_value,
    driver_sample,
    plain_columns,
)
from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.tables import write_table

DEFAULT_FIT_SAMPLE_ROWS = 200_000
_BUCKET = "_signal_bucket"
#: Internal table of every session's signals (underscore: not a pipeline table).
SIGNALS_TABLE = "_bot_signals"


def signal_event_columns(event_columns: list[str]) -> list[str]:
    """The ``sessionized_events`` columns the signals SQL reads (parsed from it, not listed)."""
    tree = sqlglot.parse_one(SESSION_SIGNALS_SQL.replace("$rapid_click_gap_s", "0"), "duckdb")
    used = {column.name for column in tree.find_all(exp.Column)}
    return [name for name in event_columns if name in used or name == "session_id"]


def _signals_in_duckdb(
    events: pa.Table, metrics: pa.Table, thresholds: BotThresholds
) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.register("sessionized_events", events)
        con.register("session_metrics", metrics)
        return session_signals(con, thresholds)
    finally:
        con.close()


def _signal_schema(events_schema: pa.Schema, metrics_schema: pa.Schema) -> pa.Schema:
    """The Arrow schema of the signals frame, from running the signals SQL on empty inputs."""
    con = duckdb.connect()
    try:
        con.register("sessionized_events", events_schema.empty_table())
        con.register("session_metrics", metrics_schema.empty_table())
        signals = con.sql(SESSION_SIGNALS_SQL, params={"rapid_click_gap_s": 0.0})
        return signals.to_arrow_table().schema
    finally:
        con.close()


def session_signal_frame(spark: Any, thresholds: BotThresholds, buckets: int | None = None) -> Any:
    """A Spark DataFrame of every ``session_metrics`` row with its bot signals (see module doc)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    events_all = spark.table("sessionized_events")
    events = events_all.select(*signal_event_columns(events_all.columns))
    metrics = spark.table("session_metrics")
    events_arrow = to_arrow_schema(events.schema)
    metrics_arrow = to_arrow_schema(metrics.schema)
    out_arrow = _signal_schema(events_arrow, metrics_arrow)
    n_buckets = buckets or int(spark.conf.get("spark.sql.shuffle.partitions"))
    bucket = F.pmod(F.xxhash64("session_id"), F.lit(n_buckets))

    def bucket_signals(event_rows: pd.DataFrame, metric_rows: pd.DataFrame) -> pd.DataFrame:
        event_table = pa.Table.from_pandas(
            event_rows.drop(columns=[_BUCKET]), schema=events_arrow, preserve_index=False
        )
        metric_table = pa.Table.from_pandas(
            metric_rows.drop(columns=[_BUCKET]), schema=metrics_arrow, preserve_index=False
        )
        return plain_columns(_signals_in_duckdb(event_table, metric_table, thresholds))

    return (
        events.withColumn(_BUCKET, bucket)
        .groupBy(_BUCKET)
        .cogroup(metrics.withColumn(_BUCKET, bucket).groupBy(_BUCKET))
        .applyInPandas(bucket_signals, from_arrow_schema(out_arrow))
    )


def flags_for_batch(signals: pd.DataFrame, thresholds: BotThresholds, model: Any | None):
    """``session_id, is_bot, bot_reasons, anomaly_score`` of one batch of signals."""
    scores, outliers = model_scores(model, anomaly_features(signals))
    return flags_from_scores(signals, thresholds, scores, outliers, arrow_reasons=False)


def spark_bot_flags(
    spark: Any,
    settings: SparkSettings,
    thresholds: BotThresholds | None = None,
    fit_sample_rows: int = DEFAULT_FIT_SAMPLE_ROWS,
) -> Any:
    """Compute, write (table ``session_bot_flags``) and register every session's bot verdict."""
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        DoubleType,
        StringType,
        StructField,
        StructType,
    )

    thresholds = thresholds or BotThresholds()
    # Materialised once under the warehouse: read by the sample and by the flagging pass.
    signals = write_table(spark, settings, SIGNALS_TABLE, session_signal_frame(spark, thresholds))
    sample = driver_sample(signals, fit_sample_rows, thresholds.random_state, "session_id")
    model = fit_anomaly_model(sample, thresholds)
    shared = broadcast_value(spark, model)

    def flag_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = broadcast_payload(shared)
        for batch in batches:
            yield plain_columns(flags_for_batch(batch, thresholds, fitted))

    schema = StructType(
        [
            StructField("session_id", StringType()),
            StructField("is_bot", BooleanType()),
            StructField("bot_reasons", ArrayType(StringType())),
            StructField("anomaly_score", DoubleType()),
        ]
    )
    flags = signals.mapInPandas(flag_batches, schema)
    return write_table(spark, settings, "session_bot_flags", flags)
