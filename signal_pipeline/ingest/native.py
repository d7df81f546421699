"""The native canonical format: JSON lines, CSV or Parquet with the contract's field names."""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.formats import SourceFile
from signal_pipeline.ingest.json_lines import extract_json_fields, field_ref
from signal_pipeline.ingest.parsed import ParseLimits, append_parsed, read_json_records
from signal_pipeline.ingest.rows import ROWS_TABLE, read_rows
from signal_pipeline.ingest.schema import CANONICAL_FIELDS
from signal_pipeline.ingest.typed_json_lines import load_typed_json_lines

_KEY_PATHS = [(name,) for name in CANONICAL_FIELDS]


def load_native(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits, typed: bool = True
) -> None:
    """Parse one native file into ``_ingest_classified`` (one row per line / data row).

    JSON lines go through the typed ``read_json`` fast path when ``typed`` (it hands a part of
    the file to the per-line parser when it cannot give the identical result).
    """
    if source.container in ("csv", "tsv", "parquet"):
        columns = read_rows(con, source, limits.max_line_bytes)
        fields = {
            name: f"nullif({_quote(name)}, '')" for name in CANONICAL_FIELDS if name in columns
        }
        append_parsed(con, source, f"SELECT * FROM {ROWS_TABLE}", fields, limits)
        return
    if typed and source.container != "json_array":
        load_typed_json_lines(con, source, limits)
        return
    read_json_records(con, source, limits)
    json_sql, json_params = extract_json_fields(_KEY_PATHS, limits.max_line_bytes)
    fields = {name: field_ref((name,)) for name in CANONICAL_FIELDS}
    append_parsed(con, source, json_sql, fields, limits, json_params)


def _quote(identifier: str) -> str:
    """Quote an identifier that comes from code (a canonical field name)."""
    return '"' + identifier.replace('"', '""') + '"'
