"""Ingest on Spark: the same formats, quarantine reasons and reconciliation as the DuckDB path.

How (one definition of the rules, not a copy):

1. Files are listed and read by Spark (``binaryFile``: a local path, folder or glob, or any
   Hadoop file system URI: ``s3a://``, ``hdfs://``, ``abfss://``).
2. Each file is ingested in a Spark task by :func:`signal_pipeline.ingest.ingest_files` itself,
   on an embedded DuckDB in the task's temp folder: format detection, parsing, every quarantine
   reason and the de-duplication *within the file* are exactly the DuckDB engine's.
3. Repeats *across files* are resolved in Spark with the same rule (per ``event_id`` the earliest
   by ``ts``, then ``source_file``, then ``source_line`` lands; a later row with the same payload
   is a duplicate, with a different payload a ``conflicting_duplicate`` naming the differing
   fields).

What differs from one DuckDB pass, by construction (both only when one ``event_id`` repeats in
several files): a later repeat inside one file is judged against that file's first copy, not
the earliest copy overall, so an exact in-file copy of a line that conflicts with another file
counts as a duplicate rather than a second conflict; and the ``raw_line`` of a cross-file
``conflicting_duplicate`` is the parsed row as JSON (the source text stays in its file, named
with its line). Each file is held in one task's memory (Spark's ``binaryFile`` limit is 2 GiB
per file): split larger exports.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from signal_pipeline import db
from signal_pipeline.ingest import IngestReport, IngestSettings, ingest_files
from signal_pipeline.ingest.report import quarantine_totals
from signal_pipeline.ingest.schema import QUARANTINED_EVENT_COLUMNS, STAGED_EVENT_COLUMNS
from signal_pipeline.ingest.staging import PAYLOAD_COLUMNS
from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.tables import REPLACE, write_table

STAGED = "staged"
QUARANTINED = "quarantined"
FILE = "file"
_KIND = "_kind"
#: Internal table of every file's outcome rows (underscore: not a pipeline table).
PER_FILE_TABLE = "_ingest_per_file"
_FILE_COLUMNS = (("lines_read", "BIGINT"), ("duplicates", "BIGINT"), ("file_format", "VARCHAR"))
_SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "DOUBLE": "double"}
_SPARK_TYPES |= {"TIMESTAMP": "timestamp_ntz", "DATE": "date"}
_ARROW_TYPES = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
_ARROW_TYPES |= {"TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32()}


@dataclass(frozen=True)
class SparkIngestResult:
    """The Spark DataFrames of ``staged_events`` / ``quarantined_events`` and the report."""

    staged: Any
    quarantined: Any
    report: IngestReport


#: Rows per Arrow batch handed back to the JVM (bounds the executor heap a task needs).
_TASK_BATCH_ROWS = 65_536


def task_columns() -> list[tuple[str, str]]:
    """Columns of a task's output rows: kind, every staged and quarantine column, file counts."""
    columns: dict[str, str] = {_KIND: "VARCHAR"}
    for name, sql_type in (*STAGED_EVENT_COLUMNS, *QUARANTINED_EVENT_COLUMNS, *_FILE_COLUMNS):
        columns.setdefault(name, sql_type)
    return list(columns.items())


def display_path(uri: str) -> str:
    """The path reported for a file: a local ``file:`` URI as the plain absolute path (as the
    DuckDB engine reports it), any other URI unchanged."""
    if uri.startswith("file:"):
        return "/" + uri[len("file:") :].lstrip("/")
    return uri


def ingest_one_file(uri: str, content: bytes | None, settings: IngestSettings) -> pa.Table:
    """Ingest one file's bytes with the DuckDB engine's own code: an Arrow table with the
    columns of :func:`task_columns` (its staged rows, quarantined rows and one file row).
    ``content`` None: ``uri`` is a local ``file:`` URI, copied from disk (not through Spark)."""
    source = display_path(uri)
    workdir = Path(tempfile.mkdtemp(prefix="signal_pipeline_spark_ingest_"))
    try:
        local = workdir / "input" / Path(source).name
        local.parent.mkdir()
        if content is None:
            shutil.copyfile(source, local)
        else:
            local.write_bytes(content)
        con = db.connect(workdir / "ingest.duckdb")
        try:
            report = ingest_files(con, [local], settings)
            staged = con.sql("SELECT * FROM staged_events").to_arrow_table()
            quarantined = con.sql("SELECT * FROM quarantined_events").to_arrow_table()
        finally:
            con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    local_name = str(local.resolve())
    counts = report.by_file.get(local_name, {})
    detail = pc.replace_substring(quarantined["detail"], local_name, source)
    quarantined = quarantined.set_column(
        quarantined.schema.get_field_index("detail"), "detail", detail
    )
    file_row = pa.table(
        {
            "lines_read": pa.array([counts.get("lines_read", 0)], pa.int64()),
            "duplicates": pa.array([counts.get("duplicates", 0)], pa.int64()),
            "file_format": pa.array([report.formats.get(local_name, "")], pa.string()),
        }
    )
    parts = [(STAGED, staged), (QUARANTINED, quarantined), (FILE, file_row)]
    return pa.concat_tables([_conform(kind, part, source) for kind, part in parts])


def task_arrow_schema() -> pa.Schema:
    """The Arrow schema of :func:`ingest_one_file`'s tables."""
    return pa.schema([(name, _ARROW_TYPES[sql_type]) for name, sql_type in task_columns()])


def _conform(kind: str, part: pa.Table, source: str) -> pa.Table:
    """``part`` with every task column (missing ones NULL), its kind and file, in order."""
    rows = part.num_rows
    columns = []
    for field in task_arrow_schema():
        if field.name == _KIND:
            columns.append(pa.array([kind] * rows, pa.string()))
        elif field.name == "source_file":
            columns.append(pa.array([source] * rows, pa.string()))
        elif field.name in part.column_names:
            columns.append(part[field.name].cast(field.type))
        else:
            columns.append(pa.nulls(rows, field.type))
    return pa.Table.from_arrays(columns, schema=task_arrow_schema())


def _spark_schema(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {_SPARK_TYPES[sql_type]}" for name, sql_type in columns)


def is_local_path(path: str) -> bool:
    """True for a plain path or a ``file:`` URI (not s3a://, hdfs://, ...)."""
    scheme, sep, _ = path.partition("://")
    return not sep or scheme == "file" or len(scheme) == 1  # "C://" is a drive, not a scheme


def read_source_files(spark: Any, paths: Sequence[str]) -> Any:
    """Spark DataFrame ``path[, content]`` of every file under ``paths`` (files, folders, globs).

    Local files are listed only (each task copies its file from disk): shipping a file's bytes
    through the JVM costs heap of the order of the file's size per task. Remote files (a
    cluster's storage) come with their ``content``.
    """
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(list(paths))
    if all(is_local_path(str(path)) for path in paths):
        return files.select("path")
    return files.select("path", "content")


def spark_ingest(
    spark: Any,
    spark_settings: SparkSettings,
    paths: Sequence[str],
    settings: IngestSettings = IngestSettings(),  # noqa: B008 (frozen)
) -> SparkIngestResult:
    """Ingest ``paths`` on Spark, write ``staged_events`` (by day) and ``quarantined_events``
    under the warehouse, and return their (registered) DataFrames with the reconciliation report
    counted from the written tables.

    The run's clock (``settings.now``) is fixed once on the driver so every task applies the
    same ``timestamp_in_future`` bound.
    """
    from pyspark.sql import functions as F

    fixed = replace(settings, now=settings.now or datetime.now(UTC))
    columns = task_columns()

    def ingest_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            contents = batch.column("content") if "content" in batch.schema.names else None
            for index, uri in enumerate(batch.column("path").to_pylist()):
                content = None if contents is None else contents[index].as_py()
                rows = ingest_one_file(uri, content, fixed)
                yield from rows.to_batches(max_chunksize=_TASK_BATCH_ROWS)

    # Materialised once under the warehouse (not cached in executor memory: it holds every
    # landed row), then read by the de-duplication, the two tables and the report.
    per_file = write_table(
        spark,
        spark_settings,
        PER_FILE_TABLE,
        read_source_files(spark, paths).mapInArrow(ingest_batches, _spark_schema(columns)),
    )
    staged_in_files = per_file.filter(F.col(_KIND) == STAGED)
    ranked = _rank_across_files(staged_in_files)
    staged = ranked.filter(F.col("_rank") == 1).select(*[n for n, _ in STAGED_EVENT_COLUMNS])
    repeats = _judge_repeats(ranked)
    quarantine_names = [n for n, _ in QUARANTINED_EVENT_COLUMNS]
    quarantined = (
        per_file.filter(F.col(_KIND) == QUARANTINED)
        .select(*quarantine_names)
        .unionByName(repeats.filter(F.col("reason").isNotNull()).select(*quarantine_names))
    )
    staged = write_table(spark, spark_settings, "staged_events", staged, REPLACE)
    quarantined = write_table(spark, spark_settings, "quarantined_events", quarantined, REPLACE)
    report = _report(per_file, staged, quarantined, repeats)
    return SparkIngestResult(staged=staged, quarantined=quarantined, report=report)


def _rank_across_files(staged: Any) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("event_id").orderBy("ts", "source_file", "source_line")
    return staged.withColumn("_rank", F.row_number().over(order))


def _judge_repeats(ranked: Any) -> Any:
    """One row per cross-file repeat: ``source_file, source_line, source_format, reason``
    (NULL for an exact duplicate, else ``conflicting_duplicate``), ``detail`` and ``raw_line``."""
    from pyspark.sql import functions as F

    payload = [name for name, _ in PAYLOAD_COLUMNS]
    later = ranked.filter(F.col("_rank") > 1).alias("d")
    kept = ranked.filter(F.col("_rank") == 1).alias("k")
    pairs = later.join(kept, F.col("d.event_id") == F.col("k.event_id"))
    differing = [
        F.when(~F.col(f"d.{name}").eqNullSafe(F.col(f"k.{name}")), F.lit(name)) for name in payload
    ]
    same = F.lit(True)
    for name in payload:
        same = same & F.col(f"d.{name}").eqNullSafe(F.col(f"k.{name}"))
    detail = F.concat(
        F.lit("event_id="),
        F.col("d.event_id"),
        F.lit(" already landed from "),
        F.col("k.source_file"),
        F.lit(":"),
        F.col("k.source_line").cast("string"),
        F.lit(" with different "),
        F.concat_ws(", ", *differing),
    )
    return pairs.select(
        F.col("d.source_file").alias("source_file"),
        F.col("d.source_line").alias("source_line"),
        F.col("d.source_format").alias("source_format"),
        F.when(~same, F.lit("conflicting_duplicate")).alias("reason"),
        F.when(~same, detail).alias("detail"),
        F.to_json(F.struct(*[F.col(f"d.{name}") for name in payload])).alias("raw_line"),
    )


def _report(per_file: Any, staged: Any, quarantined: Any, repeats: Any) -> IngestReport:
    """The reconciliation report, counted from the final DataFrames (as the DuckDB engine does)."""
    from pyspark.sql import functions as F

    files = per_file.filter(F.col(_KIND) == FILE).select(
        "source_file", "lines_read", "duplicates", "file_format"
    )
    file_rows = files.collect()
    landed = dict(staged.groupBy("source_file").count().collect())
    cross_duplicates = dict(
        repeats.filter(F.col("reason").isNull()).groupBy("source_file").count().collect()
    )
    quarantined_by_file, by_reason = quarantine_totals(
        (row["source_file"], row["reason"], row["count"])
        for row in quarantined.groupBy("source_file", "reason").count().collect()
    )
    by_file = {
        row["source_file"]: {
            "lines_read": int(row["lines_read"]),
            "landed": int(landed.get(row["source_file"], 0)),
            "duplicates": int(row["duplicates"]) + int(cross_duplicates.get(row["source_file"], 0)),
            "quarantined": int(quarantined_by_file.get(row["source_file"], 0)),
        }
        for row in sorted(file_rows, key=lambda r: r["source_file"])
    }
    span = staged.agg(F.min("ts"), F.max("ts")).collect()[0]
    dates = [r[0] for r in staged.select("event_date").distinct().orderBy("event_date").collect()]
    return IngestReport.from_files(
        by_file,
        by_reason,
        formats={row["source_file"]: row["file_format"] for row in file_rows},
        min_ts=span[0],
        max_ts=span[1],
        event_dates=dates,
    )
