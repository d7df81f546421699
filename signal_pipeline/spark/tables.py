"""Warehouse tables on Spark: Parquet folders under the warehouse path, partitioned by day.

A table is written whole (``replace``: every old file goes) or day by day (``replace_days``:
only the days present in the new rows are replaced, Spark's dynamic partition overwrite). The
day column is the table's first ``DATE`` column (``event_date``, ``session_date``); a table
without one is written unpartitioned. After writing, the table is registered as a temp view of
the same name reading the written files, so later SQL models read the stored table, not a
recomputation, and its columns keep their original order.
"""

from __future__ import annotations

from typing import Any

from signal_pipeline.spark.session import SparkSettings

REPLACE = "replace"
REPLACE_DAYS = "replace_days"


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
    return register_table(spark, settings, table, frame.schema)


def register_table(spark: Any, settings: SparkSettings, table: str, schema: Any) -> Any:
    """Register the stored table ``table`` (with ``schema``) as a temp view; return it."""
    stored = spark.read.schema(schema).parquet(settings.table_path(table))
    stored = stored.select(*[stored[f"`{name}`"] for name in schema.fieldNames()])
    stored.createOrReplaceTempView(table)
    return stored
