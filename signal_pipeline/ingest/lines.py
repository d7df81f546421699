"""Read source files into one temp table of numbered raw lines, set-based, through DuckDB.

``_ingest_lines(file_no, n, line, bad_utf8)`` holds the raw text of every line (or, for CSV and
Parquet, every data row as a JSON object) of one ingest pass. Parsers read it file by file; the
quarantine joins back to it for the ``raw_line`` of the few lines that do not land, so the text
is held once and never copied into the judged table.

The fast path is ``read_text`` + ``string_split``. A file that is not valid UTF-8 is read as a
blob instead; its bytes are decoded with each invalid byte escaped as ``\\xNN`` and the lines that
held such bytes are flagged (``invalid_utf8``). The cost of that fallback grows with the number of
invalid bytes, not of lines.

A text file over ``max_read_bytes`` (DuckDB reads at most ~4 GiB per file) is read in parts cut
at line ends (:mod:`signal_pipeline.ingest.parts`), each numbered from the lines before it.

Line rule: ``n`` is the 1-based line number; a trailing newline does not start a line; ``\\r\\n``
endings and a leading byte-order mark are stripped; any other line, blank or not, is a line
(a blank line is quarantined as ``invalid_json``, never skipped).
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb
import numpy as np

from signal_pipeline.ingest.formats import duckdb_path
from signal_pipeline.ingest.parts import DEFAULT_MAX_READ_BYTES, file_parts

LINES_TABLE = "_ingest_lines"
_ERROR_HANDLER = "signal_pipeline_ingest_escape"
_bad_offsets: list[int] = []

# Numbered lines of the text bound as $text or read by read_text (one part of a file, whose line k
# is line $first_line + k): trailing newline dropped, CR endings and a leading BOM stripped.
_TIDY_LINES = """
    SELECT $file_no::INTEGER AS file_no, n,
           CASE WHEN n = 1 AND prefix(line, chr(65279)) THEN ltrim(rtrim(line, chr(13)), chr(65279))
                WHEN suffix(line, chr(13)) THEN rtrim(line, chr(13))
                ELSE line END AS line,
           false AS bad_utf8
    FROM (
        SELECT k + $first_line AS n, line
        FROM (
            SELECT generate_subscripts(parts, 1)::BIGINT AS k, unnest(parts) AS line,
                   len(parts) AS n_parts
            FROM (SELECT string_split(content, chr(10)) AS parts FROM {source})
        )
        WHERE NOT (k = n_parts AND line = '')
    )
"""


def _escape_and_record(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _bad_offsets.append(exc.start)
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{b:02x}" for b in bad), exc.end


codecs.register_error(_ERROR_HANDLER, _escape_and_record)


def create_lines_table(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the empty ``_ingest_lines(file_no, n, line, bad_utf8)`` temp table."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {LINES_TABLE} "
        "(file_no INTEGER, n BIGINT, line VARCHAR, bad_utf8 BOOLEAN)"
    )


def read_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_no: int,
    *,
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES,
    scratch_dir: Path | None = None,
) -> None:
    """Append the lines of the text file ``path`` to ``_ingest_lines`` as file ``file_no``; a file
    over ``max_read_bytes`` is read in parts copied to ``scratch_dir``
    (:mod:`signal_pipeline.ingest.parts`), with the same line numbers."""
    for part in file_parts(path, max_read_bytes, scratch_dir):
        read_part_lines(con, part.path, file_no, part.first_line)


def read_part_lines(
    con: duckdb.DuckDBPyConnection, path: Path, file_no: int, first_line: int = 0
) -> None:
    """Append the lines of ``path`` (one part of file ``file_no``, its line k being line
    ``first_line + k`` of the file) to ``_ingest_lines``."""
    params = {"path": duckdb_path(path), "file_no": file_no, "first_line": first_line}
    try:
        con.execute(
            f"INSERT INTO {LINES_TABLE} " + _TIDY_LINES.format(source="read_text($path)"), params
        )
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise
        _read_lines_with_invalid_utf8(con, path, file_no, first_line)


def _read_lines_with_invalid_utf8(
    con: duckdb.DuckDBPyConnection, path: Path, file_no: int, first_line: int
) -> None:
    rows = con.execute("SELECT content FROM read_blob(?)", [duckdb_path(path)]).fetchall()
    data: bytes = rows[0][0] if rows else b""
    _bad_offsets.clear()
    text = data.decode("utf-8", errors=_ERROR_HANDLER)
    newline_offsets = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    bad_lines = sorted(
        {first_line + int(i) + 1 for i in np.searchsorted(newline_offsets, _bad_offsets)}
    )
    _bad_offsets.clear()
    con.execute(
        f"INSERT INTO {LINES_TABLE} SELECT * REPLACE (list_contains($bad, n) AS bad_utf8) FROM ("
        + _TIDY_LINES.format(source="(SELECT $text AS content)")
        + ")",
        {"text": text, "file_no": file_no, "bad": bad_lines, "first_line": first_line},
    )


def read_json_array_elements(con: duckdb.DuckDBPyConnection, path: Path, file_no: int) -> None:
    """Append one line per element of a JSON array document to ``_ingest_lines``.

    Accepts a top-level array or a ``{"batch": [...]}`` object (Segment's batch API); ``n`` is the
    1-based element index. A document that is not valid JSON (or not UTF-8) was detected from its
    first bytes only: it is read as JSON lines instead, so each of its lines is judged.
    """
    try:
        row = con.execute(
            "SELECT json_valid(content), content FROM read_text(?)", [duckdb_path(path)]
        ).fetchall()[0]
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise
        read_part_lines(con, path, file_no)
        return
    valid, content = row
    if not content or not content.strip():
        return  # an empty document is an empty input
    if not valid:
        read_part_lines(con, path, file_no)
        return
    con.execute(
        f"""
        INSERT INTO {LINES_TABLE}
        SELECT $file_no::INTEGER, generate_subscripts(elements, 1)::BIGINT,
               unnest(elements)::VARCHAR, false
        FROM (
            SELECT CASE WHEN json_type(doc) = 'ARRAY' THEN json_extract(doc, '$[*]')
                        ELSE coalesce(json_extract(doc, '$.batch[*]'), [doc]) END AS elements
            FROM (SELECT $content::JSON AS doc)
        )
        """,
        {"content": content, "file_no": file_no},
    )
