"""``ingest_files``: parse, validate and de-duplicate source files into ``staged_events`` and
``quarantined_events`` (see docs/data_contract.md), set-based in DuckDB.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from signal_pipeline import db
from signal_pipeline.ingest.formats import SourceFile, detect_format, duckdb_path, expand_paths
from signal_pipeline.ingest.landing import drop_handed_over_view
from signal_pipeline.ingest.lines import LINES_TABLE, create_lines_table
from signal_pipeline.ingest.native import load_native
from signal_pipeline.ingest.parsed import ParseLimits, create_classified_table
from signal_pipeline.ingest.parts import needs_parts
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE
from signal_pipeline.ingest.report import IngestReport, quarantine_totals
from signal_pipeline.ingest.schema import (
    QUARANTINED_EVENT_COLUMNS,
    STAGED_EVENT_COLUMNS,
    UNCOMPRESSED_STAGED_COLUMNS,
    column_ddl,
)
from signal_pipeline.ingest.segment import load_segment
from signal_pipeline.ingest.settings import IngestSettings
from signal_pipeline.ingest.snowplow import load_snowplow
from signal_pipeline.ingest.staging import (
    FILES_TABLE,
    create_files_table,
    outcome_counts_sql,
    quarantined_events_sql,
    resolve_events,
    staged_events_sql,
)
from signal_pipeline.ingest.typed_json_lines import add_missing_raw_lines

STAGED_TABLE = "staged_events"
QUARANTINED_TABLE = "quarantined_events"

Loader = Callable[[duckdb.DuckDBPyConnection, SourceFile, ParseLimits], None]
LOADERS: dict[str, Loader] = {
    "native": load_native,
    "snowplow": load_snowplow,
    "segment": load_segment,
}
_TEMP_TABLES = (LINES_TABLE, "_ingest_rows", CLASSIFIED_TABLE, "_ingest_page_types", FILES_TABLE)


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    settings: IngestSettings = IngestSettings(),  # noqa: B008 (frozen, immutable default)
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` (files, directories, globs) and (re)write ``staged_events`` and
    ``quarantined_events`` on ``con`` in one transaction; return the reconciliation report.

    ``progress(bytes_read, bytes_total)`` is called before the first file and after each one.

    Files are read by a connection restricted to their directories: ``con`` itself when it is
    already restricted to cover them (no copy), else a private restricted connection whose
    results are handed to ``con`` as Arrow. Raises ``FileNotFoundError`` for a path that matches
    nothing and ``PermissionError`` when ``con`` is restricted to other directories.
    """
    files = expand_paths(paths)
    sources = [detect_format(path, settings.format) for path in files]
    now = settings.now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    split = any(needs_parts(path, settings.max_read_bytes) for path in files)
    with _reading_connection(con, files, needs_scratch=split) as (reader, scratch_dir):
        limits = ParseLimits(
            max_line_bytes=settings.max_line_bytes,
            future_limit=now + settings.future_tolerance,
            earliest=settings.earliest,
            max_read_bytes=settings.max_read_bytes,
            scratch_dir=scratch_dir,
        )
        create_classified_table(reader, limits)
        create_lines_table(reader)
        resolved = []
        sizes = [path.stat().st_size for path in files]
        done_bytes = 0
        if progress is not None:
            progress(0, sum(sizes))
        for number, (source, size) in enumerate(zip(sources, sizes, strict=True), start=1):
            source = dataclasses.replace(source, number=number)
            if source.container == "parquet" and settings.format == "auto":
                source = _parquet_family(reader, source)
            if source.family == "native":
                load_native(reader, source, limits, typed=settings.typed_json_lines)
            else:
                LOADERS[source.family](reader, source, limits)
            resolved.append(source)
            done_bytes += size
            if progress is not None:
                progress(done_bytes, sum(sizes))
        create_files_table(reader, [(s.number, str(s.path), s.family) for s in resolved])
        resolve_events(reader, settings.page_type_rules)
        add_missing_raw_lines(reader, resolved)
        counts = reader.execute(outcome_counts_sql()).fetchall()
        lines_by_file = {file: lines for file, lines, _ in counts}
        duplicates_by_file = {file: duplicates for file, _, duplicates in counts}
        _write_tables(con, reader)
        for table in _TEMP_TABLES:
            reader.execute(f"DROP TABLE IF EXISTS temp.{table}")
    return _report(con, resolved, lines_by_file, duplicates_by_file)


@contextmanager
def _reading_connection(
    con: duckdb.DuckDBPyConnection, files: list[Path], needs_scratch: bool
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path | None]]:
    """The connection that reads ``files``, and a folder it may read where files too large for
    one read are cut into parts (None when none is needed or available)."""
    directories = sorted({str(path.parent) for path in files})
    external = con.execute("SELECT current_setting('enable_external_access')").fetchall()
    if not external[0][0]:
        allowed_rows = con.execute("SELECT current_setting('allowed_directories')").fetchall()
        allowed = [str(d).rstrip("/") + "/" for d in allowed_rows[0][0] or []]
        outside = [d for d in directories if not any((d + "/").startswith(a) for a in allowed)]
        if outside:
            raise PermissionError(
                f"the connection may only read below {allowed}; inputs are in {outside}"
            )
        scratch = _scratch_dir(con, allowed) if needs_scratch else None
        if scratch is not None or not needs_scratch:
            yield con, scratch  # parts live in their own temp folder below it, removed after
            return
    workdir = Path(tempfile.mkdtemp(prefix="signal_pipeline_ingest_"))
    reader = db.connect(workdir / "reader.duckdb", allowed_directories=directories or [workdir])
    try:
        yield reader, (workdir / "reader.duckdb.tmp" / "ingest_parts") if needs_scratch else None
    finally:
        reader.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _scratch_dir(con: duckdb.DuckDBPyConnection, allowed: list[str]) -> Path | None:
    """A folder below the restricted ``con``'s allowed directories for file parts: its database's
    temp folder ``<database>.tmp`` (allowed by :func:`signal_pipeline.db.connect`), if allowed."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not rows or not rows[0][0]:
        return None
    temp_dir = Path(f"{rows[0][0]}.tmp")
    if not any((str(temp_dir) + "/").startswith(a) for a in allowed):
        return None
    return temp_dir / "ingest_parts"


def _parquet_family(con: duckdb.DuckDBPyConnection, source: SourceFile) -> SourceFile:
    rows = con.execute(
        "SELECT lower(column_name) FROM (DESCRIBE SELECT * FROM read_parquet(?))",
        [duckdb_path(source.path)],
    ).fetchall()
    columns = {name for (name,) in rows}
    snowplow = "collector_tstamp" in columns or {"event_id", "domain_userid"} <= columns
    family = "snowplow" if snowplow else "native"
    return dataclasses.replace(source, family=family)


def _write_tables(con: duckdb.DuckDBPyConnection, reader: duckdb.DuckDBPyConnection) -> None:
    """Replace both output tables on ``con`` in one transaction (the ``staged_events`` view a
    landing run left behind, :mod:`signal_pipeline.ingest.landing`, becomes a table again)."""
    staged_ddl = column_ddl(STAGED_EVENT_COLUMNS, UNCOMPRESSED_STAGED_COLUMNS)
    quarantined_ddl = column_ddl(QUARANTINED_EVENT_COLUMNS)
    if reader is con:
        sources = {STAGED_TABLE: staged_events_sql(), QUARANTINED_TABLE: quarantined_events_sql()}
    else:
        staged = reader.sql(staged_events_sql()).to_arrow_table()
        quarantined = reader.sql(quarantined_events_sql()).to_arrow_table()
        con.register("_ingest_staged_arrow", staged)
        con.register("_ingest_quarantined_arrow", quarantined)
        sources = {
            STAGED_TABLE: "SELECT * FROM _ingest_staged_arrow",
            QUARANTINED_TABLE: "SELECT * FROM _ingest_quarantined_arrow",
        }
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            drop_handed_over_view(con)
            con.execute(f"CREATE OR REPLACE TABLE {STAGED_TABLE} ({staged_ddl})")
            con.execute(f"INSERT INTO {STAGED_TABLE} {sources[STAGED_TABLE]}")
            con.execute(f"CREATE OR REPLACE TABLE {QUARANTINED_TABLE} ({quarantined_ddl})")
            con.execute(f"INSERT INTO {QUARANTINED_TABLE} {sources[QUARANTINED_TABLE]}")
        except Exception:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        if reader is not con:
            con.unregister("_ingest_staged_arrow")
            con.unregister("_ingest_quarantined_arrow")


def _report(
    con: duckdb.DuckDBPyConnection,
    sources: list[SourceFile],
    lines_by_file: dict[str, int],
    duplicates_by_file: dict[str, int],
) -> IngestReport:
    """Count outcomes from the written tables, so the reconciliation is a real check."""
    landed_by_file = dict(
        con.execute(f"SELECT source_file, count(*) FROM {STAGED_TABLE} GROUP BY ALL").fetchall()
    )
    quarantined_by_file, by_reason = quarantine_totals(
        con.execute(
            f"SELECT source_file, reason, count(*) FROM {QUARANTINED_TABLE} GROUP BY ALL"
        ).fetchall()
    )
    by_file = {}
    for source in sources:
        key = str(source.path)
        by_file[key] = {
            "lines_read": lines_by_file.get(key, 0),
            "landed": landed_by_file.get(key, 0),
            "duplicates": duplicates_by_file.get(key, 0),
            "quarantined": quarantined_by_file.get(key, 0),
        }
    span = con.execute(f"SELECT min(ts), max(ts) FROM {STAGED_TABLE}").fetchall()[0]
    dates = con.execute(
        f"SELECT DISTINCT event_date FROM {STAGED_TABLE} ORDER BY event_date"
    ).fetchall()
    return IngestReport.from_files(
        by_file,
        by_reason,
        formats={str(s.path): s.label for s in sources},
        min_ts=span[0],
        max_ts=span[1],
        event_dates=[d for (d,) in dates],
    )
