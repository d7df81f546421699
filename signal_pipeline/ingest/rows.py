"""Read a CSV/TSV or Parquet file into a temp table of numbered rows, every column as text."""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.formats import SourceFile, duckdb_path
from signal_pipeline.ingest.json_lines import RAW_LINE_LIMIT_CHARS

ROWS_TABLE = "_ingest_rows"
_READ_TABLE = "_ingest_read"


def read_rows(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    max_line_bytes: int,
    headerless_names: list[str] | None = None,
) -> set[str]:
    """Create ``_ingest_rows(n, raw_line, parse_reason, parse_detail, <columns as VARCHAR>)``.

    ``n`` is the 1-based data row (header excluded), ``raw_line`` the row as a JSON object.
    ``headerless_names`` reads a header-less tab-separated file with those column names.
    Returns the lower-cased column names.
    """
    path = duckdb_path(source.path)
    if source.container == "parquet":
        relation, params = "read_parquet(?)", [path]
    elif headerless_names is not None:
        relation = (
            "read_csv(?, all_varchar = true, header = false, delim = '\t', quote = '', "
            "escape = '', names = ?, null_padding = true, max_line_size = ?)"
        )
        params = [path, headerless_names, max(max_line_bytes, 2_097_152)]
    else:
        relation = "read_csv(?, all_varchar = true, header = true, max_line_size = ?)"
        params = [path, max(max_line_bytes, 2_097_152)]
    # A CTAS keeps the file's row order, so rowid + 1 is the data row number.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_READ_TABLE} AS SELECT COLUMNS(*)::VARCHAR FROM {relation}",
        params,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS
        WITH framed AS (
            SELECT rowid + 1 AS n, t.*, to_json(t)::VARCHAR AS _raw FROM {_READ_TABLE} t
        )
        SELECT * EXCLUDE (_raw),
               CASE WHEN strlen(_raw) > $max_bytes THEN left(_raw, $raw_limit) ELSE _raw END
                   AS raw_line,
               CASE WHEN strlen(_raw) > $max_bytes THEN 'oversize_line' END AS parse_reason,
               CASE WHEN strlen(_raw) > $max_bytes
                    THEN printf('row is %d bytes as JSON, limit %d', strlen(_raw), $max_bytes)
               END AS parse_detail
        FROM framed
        """,
        {"max_bytes": max_line_bytes, "raw_limit": RAW_LINE_LIMIT_CHARS},
    )
    con.execute(f"DROP TABLE {_READ_TABLE}")
    description = con.execute(f"SELECT * FROM {ROWS_TABLE} LIMIT 0").description or []
    return {column[0].lower() for column in description}
