"""Read a CSV/TSV or Parquet file into a temp table of numbered rows, every column as text."""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.formats import SourceFile, duckdb_path
from signal_pipeline.ingest.lines import LINES_TABLE

ROWS_TABLE = "_ingest_rows"
_READ_TABLE = "_ingest_read"


def read_rows(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    max_line_bytes: int,
    headerless_names: list[str] | None = None,
) -> set[str]:
    """Create ``_ingest_rows(n, parse_reason, parse_detail, <columns as VARCHAR>)`` and append
    each row, as a JSON object, to ``_ingest_lines`` (its raw line for the quarantine).

    ``n`` is the 1-based data row (header excluded).
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
            SELECT rowid + 1 AS n, t.*, strlen(to_json(t)::VARCHAR) AS _n_bytes
            FROM {_READ_TABLE} t
        )
        SELECT * EXCLUDE (_n_bytes),
               CASE WHEN _n_bytes > $max_bytes THEN 'oversize_line' END AS parse_reason,
               CASE WHEN _n_bytes > $max_bytes
                    THEN printf('row is %d bytes as JSON, limit %d', _n_bytes, $max_bytes)
               END AS parse_detail
        FROM framed
        """,
        {"max_bytes": max_line_bytes},
    )
    con.execute(
        f"""INSERT INTO {LINES_TABLE}
            SELECT $file_no::INTEGER, rowid + 1, to_json(t)::VARCHAR, false FROM {_READ_TABLE} t""",
        {"file_no": source.number},
    )
    con.execute(f"DROP TABLE {_READ_TABLE}")
    description = con.execute(f"SELECT * FROM {ROWS_TABLE} LIMIT 0").description or []
    return {column[0].lower() for column in description}
