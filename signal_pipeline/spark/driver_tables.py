"""Run a DuckDB asset body unchanged under the Spark engine, on a scratch copy of its inputs.

The assets downstream of ``session_segments`` (profiles, experiment lift, drift statistics,
the report, memberships) and the registry of cluster model versions work on session-level
tables: a few hundred thousand rows even for ten million events, a driver's worth. Under the
Spark engine they run the *same* Python and SQL as on DuckDB, on a copy of the session-level
tables they read:

1. each input table is opened from the Spark warehouse
   (:func:`signal_pipeline.spark.tables.open_table`, so ``s3a://`` or ``hdfs://`` warehouses
   work too) and collected to the driver as Arrow;
2. it is loaded under the same name into a scratch DuckDB file in a temporary folder;
3. the asset's DuckDB code runs on that connection as it would on the project's DuckDB file;
4. the asset's output tables are written back to the warehouse as Parquet
   (:func:`signal_pipeline.spark.tables.write_table`, with their stored schema); the scratch
   folder is deleted.

Only step 4 decides what is stored: an asset that fails leaves the warehouse as it was. Column
types survive the round trip (DuckDB ``TIMESTAMP`` is Spark ``TIMESTAMP_NTZ``, ``JSON`` is text).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from signal_pipeline.db import table_exists
from signal_pipeline.engine import EngineConfig
from signal_pipeline.sql_models.runner import quote_identifier

SCRATCH_FILE = "scratch.duckdb"


def collect_table(spark: Any, settings: Any, table: str) -> Any:
    """The stored warehouse table ``table`` on the driver as a ``pyarrow.Table`` (columns in
    their written order). ``LookupError`` when the table was never written."""
    from signal_pipeline.spark.tables import open_table

    return open_table(spark, settings, table).toArrow()


def load_into(con: duckdb.DuckDBPyConnection, table: str, rows: Any) -> None:
    """Create the DuckDB table ``table`` holding the Arrow table ``rows`` (same column types)."""
    con.register("driver_rows", rows)
    try:
        name = quote_identifier(table)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM driver_rows")
    finally:
        con.unregister("driver_rows")


def spark_frame(spark: Any, rows: Any) -> Any:
    """A Spark DataFrame of the Arrow table ``rows``; naive timestamps stay ``TIMESTAMP_NTZ``
    (Spark would otherwise read them as session-time-zone ``TIMESTAMP``)."""
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    frame = spark.createDataFrame(rows)
    for field in rows.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            frame = frame.withColumn(field.name, F.col(field.name).cast(TimestampNTZType()))
    return frame


def store_table(engine: EngineConfig, con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Write the scratch DuckDB table ``table`` to the warehouse (replacing it); its path."""
    from signal_pipeline.spark.tables import write_table

    spark, settings = engine.spark_session(), engine.spark_settings()
    rows = con.table(quote_identifier(table)).to_arrow_table()
    write_table(spark, settings, table, spark_frame(spark, rows))
    return settings.table_path(table)


@contextmanager
def driver_copy(
    engine: EngineConfig,
    inputs: Sequence[str],
    outputs: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection on a scratch copy of the warehouse tables ``inputs`` (each must
    exist: a missing one fails the step naming it) and ``optional`` (copied when stored, else
    absent, as on a DuckDB file before their first run). When the block ends without an error,
    every table of ``outputs`` is written back to the warehouse. The copy is always deleted."""
    spark, settings = engine.spark_session(), engine.spark_settings()
    with tempfile.TemporaryDirectory(prefix="signal-pipeline-driver-") as folder:
        con = duckdb.connect(str(Path(folder) / SCRATCH_FILE))
        try:
            for table in (*inputs, *optional):
                try:
                    rows = collect_table(spark, settings, table)
                except LookupError as exc:
                    if table in optional:
                        continue
                    raise dg.Failure(description=f"spark engine: {exc}") from exc
                load_into(con, table, rows)
            yield con
            for table in outputs:
                if not table_exists(con, table):
                    raise dg.Failure(description=f"spark engine: {table} was not produced")
                store_table(engine, con, table)
        finally:
            con.close()


def engine_metadata(engine: EngineConfig, table: str | None = None) -> dict[str, Any]:
    """``engine`` (and, for a stored table, its warehouse ``path``): added to the metadata of an
    asset run through :func:`driver_copy`, like the other Spark steps'. Empty on DuckDB."""
    if not engine.is_spark:
        return {}
    metadata: dict[str, Any] = {"engine": dg.MetadataValue.text("spark")}
    if table is not None:
        metadata["path"] = dg.MetadataValue.path(engine.spark_settings().table_path(table))
    return metadata


def spark_query(engine: EngineConfig, sql: str, tables: Sequence[str], source: str) -> Any:
    """Run the DuckDB-dialect query ``sql`` (code-supplied text, no parameters; ``source`` names
    where it is defined, for a transpile error) on Spark over the stored ``tables`` (transpiled
    with sqlglot, as the SQL models are) and return the
    result on the driver as a pandas DataFrame: for small aggregates of per-event tables that
    are too large to copy to the driver. ``None`` when one of ``tables`` was never stored."""
    from signal_pipeline.spark.dagster_steps import open_tables
    from signal_pipeline.spark.transpile import transpile_sql

    try:
        open_tables(engine, tables)
    except dg.Failure:
        return None
    return engine.spark_session().sql(transpile_sql(sql, Path(source))).toArrow().to_pandas()
