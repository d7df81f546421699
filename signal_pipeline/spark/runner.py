"""Run the SQL models on Spark: generic over the model catalog, in its dependency order.

Each model's Spark SQL (see :mod:`signal_pipeline.spark.transpile`) runs against temp views of
its upstream tables and the one-row ``model_params`` table, and its result is written as a
Parquet table under the warehouse (partitioned by day, :mod:`signal_pipeline.spark.tables`).
Tables produced outside the SQL folder (``raw_events``, ``session_bot_flags``) come from
``providers``: a callable per table, called once, just before the first model that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.tables import write_table
from signal_pipeline.spark.transpile import SparkModel, SparkTranspileError
from signal_pipeline.sql_models import ModelParams
from signal_pipeline.sql_models.catalog import RUNTIME_TABLES

#: A Python table's producer: builds, writes and registers the table, returns its DataFrame.
TableProvider = Callable[[], Any]


def register_model_params(spark: Any, params: ModelParams) -> None:
    """(Re)create the temp view ``model_params``: one row, one DOUBLE column per parameter.

    Values travel as DataFrame data, never as SQL text.
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    values = asdict(params)
    schema = StructType([StructField(name, DoubleType(), False) for name in values])
    row = tuple(float(v) for v in values.values())
    spark.createDataFrame([row], schema).createOrReplaceTempView(next(iter(RUNTIME_TABLES)))


def build_spark_model(spark: Any, settings: SparkSettings, model: SparkModel) -> int:
    """Run one model, write its table, register its view; return its row count."""
    from pyspark.errors import AnalysisException, ParseException

    try:
        result = spark.sql(model.spark_sql)
    except (AnalysisException, ParseException) as exc:
        raise SparkTranspileError(f"{model.path}: Spark rejects the transpiled SQL: {exc}") from exc
    stored = write_table(spark, settings, model.name, result)
    return int(stored.count())


def build_spark_models(
    spark: Any,
    settings: SparkSettings,
    models: Mapping[str, SparkModel],
    params: ModelParams | None = None,
    providers: Mapping[str, TableProvider] | None = None,
    names: Iterable[str] | None = None,
    on_built: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Build ``names`` (default: all) of ``models`` in order; row counts by model name.

    A model reading a table that is neither built in this run nor registered in the session
    triggers that table's provider first (a ``KeyError`` names a table nobody provides).
    """
    register_model_params(spark, params or ModelParams())
    wanted = set(names) if names is not None else set(models)
    pending = dict(providers or {})
    counts: dict[str, int] = {}
    for name, model in models.items():
        if name not in wanted:
            continue
        for table in model.upstream:
            if table in pending:
                pending.pop(table)()
            elif not spark.catalog.tableExists(table):
                raise KeyError(f"{model.path}: upstream table {table!r} is not available")
        counts[name] = build_spark_model(spark, settings, model)
        if on_built is not None:
            on_built(name, counts[name])
    return counts
