"""Append one file's lines, parsed and judged, to the internal ``_ingest_classified`` table.

``_ingest_classified`` has one row per source line: ``file_no, source_line, reason, detail`` and
the typed staged columns (see :func:`signal_pipeline.ingest.quarantine.classify_sql`); the raw
text stays in ``_ingest_lines``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from signal_pipeline.ingest.formats import SourceFile
from signal_pipeline.ingest.lines import read_json_array_elements, read_lines
from signal_pipeline.ingest.parts import DEFAULT_MAX_READ_BYTES
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE, classify_params, classify_sql
from signal_pipeline.ingest.schema import CANONICAL_FIELDS, PARSED_COLUMNS


@dataclass(frozen=True)
class ParseLimits:
    """The per-line limits every parser applies (line size, the accepted time window), and how
    large a file may be before it is read in parts copied to ``scratch_dir``
    (:mod:`signal_pipeline.ingest.parts`)."""

    max_line_bytes: int
    future_limit: datetime  # naive UTC
    earliest: date
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES
    scratch_dir: Path | None = None


def create_classified_table(con: duckdb.DuckDBPyConnection, limits: ParseLimits) -> None:
    """(Re)create the empty ``_ingest_classified`` temp table."""
    empty = ", ".join(f"NULL::{sql_type} AS {name}" for name, sql_type in PARSED_COLUMNS)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CLASSIFIED_TABLE} AS "
        f"{classify_sql(f'SELECT {empty} WHERE false')}",
        classify_params(future_limit=limits.future_limit, earliest=limits.earliest),
    )


def read_json_records(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits
) -> None:
    """One numbered row per JSON record of ``source`` in ``_ingest_lines``: the elements of a
    JSON array file, else its lines (a file over ``limits.max_read_bytes`` read in parts)."""
    if source.container == "json_array":
        read_json_array_elements(con, source.path, source.number)
    else:
        read_lines(
            con,
            source.path,
            source.number,
            max_read_bytes=limits.max_read_bytes,
            scratch_dir=limits.scratch_dir,
        )


def append_parsed(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    from_sql: str,
    field_sql: Mapping[str, str],
    limits: ParseLimits,
    from_params: Mapping[str, object] | None = None,
) -> None:
    """Insert one judged row per row of ``from_sql`` (a table name or a SELECT built in code,
    with columns ``n, parse_reason, parse_detail`` and its bound ``from_params``; it may use the
    bound ``$file_no``); ``field_sql`` gives the SQL (built in code) of each canonical field, a
    missing field is NULL. The file number and bounds are bound parameters.
    """
    sql, params = _insert_statement(source, from_sql, field_sql, limits, from_params)
    con.execute(sql, params)


def explain_parsed(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    from_sql: str,
    field_sql: Mapping[str, str],
    limits: ParseLimits,
    from_params: Mapping[str, object] | None = None,
) -> list[tuple[str, str]]:
    """The physical plan (``EXPLAIN (FORMAT json)`` rows) of :func:`append_parsed` with the same
    arguments, without running it."""
    sql, params = _insert_statement(source, from_sql, field_sql, limits, from_params)
    return con.execute(f"EXPLAIN (FORMAT json) {sql}", params).fetchall()


def _insert_statement(
    source: SourceFile,
    from_sql: str,
    field_sql: Mapping[str, str],
    limits: ParseLimits,
    from_params: Mapping[str, object] | None,
) -> tuple[str, dict[str, object]]:
    unknown = set(field_sql) - set(CANONICAL_FIELDS)
    if unknown:
        raise ValueError(f"not canonical fields: {sorted(unknown)}")
    fields = ", ".join(
        f"CAST({field_sql.get(name, 'NULL')} AS VARCHAR) AS {name}" for name in CANONICAL_FIELDS
    )
    base = f"""
        SELECT $file_no::INTEGER AS file_no, n::BIGINT AS source_line, parse_reason,
               parse_detail, {fields}
        FROM ({from_sql})
    """
    params = classify_params(future_limit=limits.future_limit, earliest=limits.earliest)
    params |= {"file_no": source.number}
    params |= dict(from_params or {})
    return f"INSERT INTO {CLASSIFIED_TABLE} BY NAME {classify_sql(base)}", params
