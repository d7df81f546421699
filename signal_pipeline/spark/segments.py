"""Segmentation at cluster scale: fit on a driver sample, broadcast the model, assign everywhere.

The model is the project's own (:func:`signal_pipeline.segments.fit_cluster_model`), fitted on
the driver on a sample of ``session_features`` (every session up to ``max_driver_rows``, which
then equals the DuckDB fit; the fit itself samples further above ``max_fit_sessions``). The fitted
:class:`~signal_pipeline.segments.ClusterModel` is broadcast and every session is assigned in
parallel with :func:`signal_pipeline.segments.assign_sessions` inside ``mapInPandas``: the same
nearest-core rule, so the same model gives the same segment ids on either engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd

from signal_pipeline.segments import ClusterConfig, ClusterModel, assign_sessions
from signal_pipeline.segments.assign import SEGMENT_COLUMNS
from signal_pipeline.segments.fit import FitResult, fit_cluster_model
from signal_pipeline.spark.driver import (
    broadcast_payload,
    broadcast_value,
    driver_sample,
    plain_columns,
)
from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.tables import write_table

DEFAULT_MAX_DRIVER_ROWS = 200_000


def fit_on_driver_sample(
    spark: Any,
    config: ClusterConfig | None = None,
    *,
    version: int = 1,
    previous: ClusterModel | None = None,
    max_driver_rows: int = DEFAULT_MAX_DRIVER_ROWS,
    window_days: int | None = None,
) -> FitResult:
    """Fit the cluster model on (a sample of) ``session_features`` collected to the driver:
    every day, or the last ``window_days`` days up to the newest ``session_date`` (as the
    DuckDB asset's ``window_days``)."""
    from pyspark.sql import functions as F

    config = config or ClusterConfig()
    features = spark.table("session_features")
    if window_days:
        last = features.agg(F.max("session_date")).collect()[0][0]
        if last is not None:
            features = features.filter(
                F.col("session_date") >= F.lit(last - timedelta(days=window_days - 1))
            )
    frame = driver_sample(features, max_driver_rows, config.random_state, "session_id")
    window: tuple[date, date] | None = None
    if not frame.empty:
        days = pd.to_datetime(frame["session_date"]).dt.date
        window = (min(days), max(days))
    return fit_cluster_model(frame, config, version=version, window=window, previous=previous)


def assignments_for_batch(model: ClusterModel, features: pd.DataFrame) -> pd.DataFrame:
    """The ``session_segments`` rows of one batch of ``session_features`` rows."""
    assigned = assign_sessions(model, features)
    assigned["cluster_version"] = model.version
    return assigned[SEGMENT_COLUMNS]


def spark_session_segments(spark: Any, settings: SparkSettings, model: ClusterModel) -> Any:
    """Assign every session of ``session_features`` with ``model`` (broadcast) and write, register
    and return the table ``session_segments``."""
    from pyspark.sql.types import BooleanType, IntegerType, StringType, StructField, StructType

    shared = broadcast_value(spark, model)

    def assign_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = broadcast_payload(shared)
        for batch in batches:
            yield plain_columns(assignments_for_batch(fitted, batch))

    schema = StructType(
        [
            StructField("session_id", StringType()),
            StructField("segment_id", StringType()),
            StructField("segment_name", StringType()),
            StructField("cluster_version", IntegerType()),
            StructField("is_noise", BooleanType()),
            StructField("noise_reason", StringType()),
        ]
    )
    segments = spark.table("session_features").mapInPandas(assign_batches, schema)
    return write_table(spark, settings, "session_segments", segments)
