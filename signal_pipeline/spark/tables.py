"""Warehouse tables on Spark: Parquet folders under the warehouse path, partitioned by day.

A table is written whole (``replace``: every old file goes) or day by day (``replace_days``:
only the days present in the new rows are replaced, Spark's dynamic partition overwrite). The
day column is the table's first ``DATE`` column (``event_date``, ``session_date``); a table
without one is written unpartitioned. After writing, the table is registered as a temp view of
the same name reading the written files, so later SQL models read the stored table, not a
recomputation, and its columns keep their original order.

Each table's schema (column order and types; Parquet partitioning moves the day column last) is
also stored under ``<warehouse>/_schemas/<table>``, so another process (a Dagster step) can
:func:`open_table` the table exactly as it was written.
"""

from __future__ import annotations

import json
from typing import Any

from signal_pipeline.spark.session import SparkSettings

REPLACE = "replace"
REPLACE_DAYS = "replace_days"
#: Folder (under the warehouse) of every table's stored schema.
SCHEMAS = "_schemas"


def day_column(frame: Any) -> str | None:
    """The first DATE column of a Spark DataFrame (its partition column), else None."""
    from pyspark.sql.types import DateType

    for column in frame.schema.fields:
        if isinstance(column.dataType, DateType):
            return column.name
    return None


def write_table(
    spark: Any, settings: SparkSettings, table: str, frame: Any, mode: str = REPLACE
) -> Any:
    """Write ``frame`` as the Parquet table ``table`` and register (and return) its view."""
    if mode not in (REPLACE, REPLACE_DAYS):
        raise ValueError(f"mode must be {REPLACE!r} or {REPLACE_DAYS!r}, got {mode!r}")
    path = settings.table_path(table)
    day = day_column(frame)
    writer = frame.write.mode("overwrite").option(
        "partitionOverwriteMode", "dynamic" if mode == REPLACE_DAYS else "static"
    )
    if day is not None:
        writer = writer.partitionBy(day)
    writer.parquet(path)
    _save_schema(spark, settings, table, frame.schema)
    return register_table(spark, settings, table, frame.schema)


def _save_schema(spark: Any, settings: SparkSettings, table: str, schema: Any) -> None:
    from pyspark.sql.types import StringType, StructField, StructType

    text = StructType([StructField("schema", StringType())])
    stored = spark.createDataFrame([(schema.json(),)], text).coalesce(1)
    stored.write.mode("overwrite").text(settings.table_path(f"{SCHEMAS}/{table}"))


def open_table(spark: Any, settings: SparkSettings, table: str) -> Any:
    """Register the stored table ``table`` (written by :func:`write_table`, possibly in another
    process) as a temp view, with its columns in their written order; return it.

    Raises ``LookupError`` naming the table when it was never written under the warehouse.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql.types import StructType

    try:
        rows = spark.read.text(settings.table_path(f"{SCHEMAS}/{table}")).collect()
    except AnalysisException as exc:
        raise LookupError(
            f"table {table!r} is not in the Spark warehouse {settings.warehouse}: "
            "materialize it first"
        ) from exc
    return register_table(spark, settings, table, StructType.fromJson(json.loads(rows[0][0])))


def register_table(spark: Any, settings: SparkSettings, table: str, schema: Any) -> Any:
    """Register the stored table ``table`` (with ``schema``) as a temp view; return it."""
    stored = spark.read.schema(schema).parquet(settings.table_path(table))
    stored = stored.select(*[stored[f"`{name}`"] for name in schema.fieldNames()])
    stored.createOrReplaceTempView(table)
    return stored
