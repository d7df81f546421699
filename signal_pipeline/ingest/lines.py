"""Read a text file into a temp table of numbered lines, set-based, through a DuckDB connection.

The fast path is ``read_text`` + ``string_split``. A file that is not valid UTF-8 is read as a
blob instead; its bytes are decoded with each invalid byte escaped as ``\\xNN`` and the lines that
held such bytes are flagged (``invalid_utf8``). The cost of that fallback grows with the number of
invalid bytes, not of lines.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb
import numpy as np

from signal_pipeline.ingest.formats import duckdb_path

LINES_TABLE = "_ingest_lines"
_ERROR_HANDLER = "signal_pipeline_ingest_escape"
_bad_offsets: list[int] = []


def _escape_and_record(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _bad_offsets.append(exc.start)
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{b:02x}" for b in bad), exc.end


codecs.register_error(_ERROR_HANDLER, _escape_and_record)


def read_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """(Re)create temp table ``_ingest_lines(n BIGINT, line VARCHAR, bad_utf8 BOOLEAN)``.

    ``n`` is the 1-based line number; a trailing newline does not start a line; ``\\r\\n`` endings
    and a leading byte-order mark are stripped.
    """
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS
            SELECT generate_subscripts(parts, 1)::BIGINT AS n, unnest(parts) AS line,
                   false AS bad_utf8
            FROM (SELECT string_split(content, chr(10)) AS parts FROM read_text(?))
            """,
            [duckdb_path(path)],
        )
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise
        _read_lines_with_invalid_utf8(con, path)
    _tidy_lines(con)


def _read_lines_with_invalid_utf8(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    rows = con.execute("SELECT content FROM read_blob(?)", [duckdb_path(path)]).fetchall()
    data: bytes = rows[0][0] if rows else b""
    _bad_offsets.clear()
    text = data.decode("utf-8", errors=_ERROR_HANDLER)
    newline_offsets = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    bad_lines = sorted({int(i) + 1 for i in np.searchsorted(newline_offsets, _bad_offsets)})
    _bad_offsets.clear()
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS
        SELECT generate_subscripts(parts, 1)::BIGINT AS n, unnest(parts) AS line, false AS bad_utf8
        FROM (SELECT string_split(?, chr(10)) AS parts)
        """,
        [text],
    )
    if bad_lines:
        con.execute(
            f"UPDATE {LINES_TABLE} SET bad_utf8 = true WHERE list_contains(?, n)", [bad_lines]
        )


def _tidy_lines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"DELETE FROM {LINES_TABLE} WHERE line = '' AND n = (SELECT max(n) FROM {LINES_TABLE})"
    )
    con.execute(
        f"""UPDATE {LINES_TABLE} SET line = rtrim(line, chr(13))
            WHERE suffix(line, chr(13))"""
    )
    con.execute(
        f"UPDATE {LINES_TABLE} SET line = ltrim(line, chr(65279)) "
        f"WHERE n = 1 AND prefix(line, chr(65279))"
    )


def read_json_array_elements(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """(Re)create ``_ingest_lines`` with one row per element of a JSON array document.

    Accepts a top-level array or a ``{"batch": [...]}`` object (Segment's batch API); ``n`` is the
    1-based element index. A document that is not valid JSON (or not UTF-8) becomes one line.
    """
    try:
        row = con.execute(
            "SELECT json_valid(content), content FROM read_text(?)", [duckdb_path(path)]
        ).fetchall()[0]
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise
        blob = con.execute("SELECT content FROM read_blob(?)", [duckdb_path(path)]).fetchall()
        text = (blob[0][0] if blob else b"").decode("utf-8", errors="backslashreplace")
        _single_line(con, text, bad_utf8=True)
        return
    valid, content = row
    if not content or not content.strip():
        _single_line(con, "", bad_utf8=False)
        con.execute(f"DELETE FROM {LINES_TABLE}")
        return
    if not valid:
        _single_line(con, content, bad_utf8=False)
        return
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS
        SELECT generate_subscripts(elements, 1)::BIGINT AS n,
               unnest(elements)::VARCHAR AS line, false AS bad_utf8
        FROM (
            SELECT CASE WHEN json_type(doc) = 'ARRAY' THEN json_extract(doc, '$[*]')
                        ELSE coalesce(json_extract(doc, '$.batch[*]'), [doc]) END AS elements
            FROM (SELECT ?::JSON AS doc)
        )
        """,
        [content],
    )


def _single_line(con: duckdb.DuckDBPyConnection, text: str, *, bad_utf8: bool) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} AS "
        "SELECT 1::BIGINT AS n, ?::VARCHAR AS line, ?::BOOLEAN AS bad_utf8",
        [text, bad_utf8],
    )
