"""Fast path for native JSON lines: DuckDB's typed ``read_json`` instead of one
``json_transform`` per line, with the per-line parser kept for the lines that need it.

``read_json(format='newline_delimited', records=true, columns={every canonical field: VARCHAR},
ignore_errors=true) WITH ORDINALITY`` yields one row per line, in file order, with the same text
per field as ``json_transform`` (numbers and nested values as JSON text, keys case-sensitive, the
first of duplicate keys). A line it cannot read as an object (broken JSON, an array or scalar,
two objects, invalid UTF-8) comes back as a row of NULLs, so its ``event_id`` is missing. Those
rows, and oversize lines, are re-judged by the per-line path, which gives the exact reason; every
other row is judged by the same SQL as the per-line path (:func:`classify_sql`).

The typed reader skips empty and whitespace-only lines and accepts form feed / vertical tab as
whitespace, which would shift line numbers or land a line the per-line parser rejects. A file
with an empty line or such bytes (found by :func:`scan_lines`), or whose row count differs from
its line count, is read by the per-line path instead, so the outcome never depends on the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import duckdb

from signal_pipeline.ingest.formats import SourceFile, duckdb_path
from signal_pipeline.ingest.json_lines import extract_json_fields, field_ref
from signal_pipeline.ingest.line_index import LineScan, read_raw_lines, scan_lines
from signal_pipeline.ingest.lines import LINES_TABLE
from signal_pipeline.ingest.parsed import ParseLimits, append_parsed
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE
from signal_pipeline.ingest.schema import CANONICAL_FIELDS
from signal_pipeline.ingest.staging import DUPLICATE

_MIN_OBJECT_BYTES = 16 * 1024 * 1024  # read_json's default maximum_object_size
# A row the per-line parser must re-judge: the typed reader found no event_id in it.
_REJUDGE_REASON = "missing_event_id"


def _typed_reader_sql() -> str:
    """The typed reader, ``n`` the line number. WITH ORDINALITY numbers rows by construction;
    row ids of an INSERT do not: DuckDB 2.0.1 reorders rows between read_json and the table once
    the SELECT holds a list expression (``IN (...)``, ``list_contains``), as the judge does."""
    columns = ", ".join(f"{name}: 'VARCHAR'" for name in CANONICAL_FIELDS)
    return f"""
        SELECT ordinality AS n, NULL::VARCHAR AS parse_reason, NULL::VARCHAR AS parse_detail,
               {", ".join(CANONICAL_FIELDS)}
        FROM read_json($path, format = 'newline_delimited', records = true,
                       columns = {{{columns}}}, ignore_errors = true,
                       maximum_object_size = $max_object_bytes) WITH ORDINALITY
    """


def load_typed_json_lines(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits
) -> bool:
    """Judge the native JSON-lines file ``source`` into ``_ingest_classified`` through the typed
    reader; lines that are quarantined get their raw text in ``_ingest_lines``.

    Returns False, having added nothing, when the file must go through the per-line path.
    """
    fields = {name: f"nullif({name}, '')" for name in CANONICAL_FIELDS}
    params = {
        "path": duckdb_path(source.path),
        # Lines over the limit are re-judged anyway; this only keeps long lines readable.
        "max_object_bytes": max(_MIN_OBJECT_BYTES, 2 * limits.max_line_bytes),
    }
    # The byte scan runs beside DuckDB's read (which releases the GIL); its verdict decides.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(scan_lines, source.path, limits.max_line_bytes)
        try:
            append_parsed(con, source, _typed_reader_sql(), fields, limits, params)
            rows = _count_rows(con, source.number)
        except duckdb.Error:
            rows = -1
        scan = scanning.result()
    if scan.has_empty_lines or scan.has_suspect_bytes or rows != scan.n_lines:
        con.execute(f"DELETE FROM {CLASSIFIED_TABLE} WHERE file_no = ?", [source.number])
        return False
    _rejudge_and_keep_raw_lines(con, source, limits, scan)
    return True


def _count_rows(con: duckdb.DuckDBPyConnection, file_no: int) -> int:
    sql = f"SELECT count(*) FROM {CLASSIFIED_TABLE} WHERE file_no = ?"
    return int(con.execute(sql, [file_no]).fetchall()[0][0])


def _rejudge_and_keep_raw_lines(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits, scan: LineScan
) -> None:
    """Send rows without an event_id and oversize lines through the per-line parser, and store
    the raw text of every other quarantined line (one pass over the file for both)."""
    flagged = con.execute(
        f"""SELECT source_line, reason = '{_REJUDGE_REASON}' FROM {CLASSIFIED_TABLE}
            WHERE file_no = ? AND reason IS NOT NULL""",
        [source.number],
    ).fetchall()
    rejudge = {line for line, again in flagged if again} | set(scan.oversize_lines)
    if not flagged and not rejudge:
        return
    wanted = [line for line, _ in flagged] + list(rejudge)
    numbers, texts, bad_utf8 = read_raw_lines(source.path, wanted)
    again = [i for i, number in enumerate(numbers) if number in rejudge]
    kept = [i for i, number in enumerate(numbers) if number not in rejudge]
    if again:
        con.execute(
            f"DELETE FROM {CLASSIFIED_TABLE} WHERE file_no = $file_no "
            "AND list_contains($lines, source_line)",
            {"file_no": source.number, "lines": [numbers[i] for i in again]},
        )
        _insert_lines(con, source.number, numbers, texts, bad_utf8, again)
        json_sql, json_params = extract_json_fields(
            [(name,) for name in CANONICAL_FIELDS], limits.max_line_bytes
        )
        fields = {name: field_ref((name,)) for name in CANONICAL_FIELDS}
        append_parsed(con, source, json_sql, fields, limits, json_params)
    _insert_lines(con, source.number, numbers, texts, bad_utf8, kept)


def add_missing_raw_lines(con: duckdb.DuckDBPyConnection, sources: list[SourceFile]) -> None:
    """Store the raw text of quarantined lines that have none in ``_ingest_lines`` yet (lines of
    typed-path files quarantined later, as ``conflicting_duplicate``)."""
    missing = con.execute(
        f"""SELECT c.file_no, list(c.source_line) FROM {CLASSIFIED_TABLE} c
            ANTI JOIN {LINES_TABLE} l ON l.file_no = c.file_no AND l.n = c.source_line
            WHERE c.reason IS NOT NULL AND c.reason <> '{DUPLICATE}'
            GROUP BY c.file_no"""
    ).fetchall()
    by_number = {source.number: source for source in sources}
    for file_no, lines in missing:
        numbers, texts, bad_utf8 = read_raw_lines(by_number[file_no].path, lines)
        _insert_lines(con, file_no, numbers, texts, bad_utf8, range(len(numbers)))


def _insert_lines(
    con: duckdb.DuckDBPyConnection,
    file_no: int,
    numbers: list[int],
    texts: list[str],
    bad_utf8: list[bool],
    chosen: Iterable[int],
) -> None:
    chosen = list(chosen)
    if not chosen:
        return
    con.execute(
        f"""INSERT INTO {LINES_TABLE}
            SELECT $file_no::INTEGER, unnest($numbers)::BIGINT, unnest($texts), unnest($bad)""",
        {
            "file_no": file_no,
            "numbers": [numbers[i] for i in chosen],
            "texts": [texts[i] for i in chosen],
            "bad": [bad_utf8[i] for i in chosen],
        },
    )
