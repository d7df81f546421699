"""Fast path for native JSON lines: DuckDB's typed ``read_json`` instead of one
``json_transform`` per line, with the per-line parser kept for the lines that need it.

``read_json(format='newline_delimited', records=true, columns={every canonical field: VARCHAR},
ignore_errors=true)`` yields one row per line, in file order, with the same text per field as
``json_transform`` (numbers and nested values as JSON text, keys case-sensitive, the first of
duplicate keys). A line it cannot read as an object (broken JSON, an array or scalar, two
objects, invalid UTF-8) comes back as a row of NULLs, so its ``event_id`` is missing. Those rows,
and oversize lines, are re-judged by the per-line path, which gives the exact reason; every other
row is judged by the same SQL as the per-line path (:func:`classify_sql`), in the same statement
as the read.

Line numbers: the read and the judge run as one parallel ``INSERT`` whose rows keep file order
(DuckDB preserves insertion order through scans, projections and filters), so the inserted rows
get consecutive row ids in file order and ``source_line`` is set from the row id. The plan is
checked first (``EXPLAIN``: only order-keeping operators, ``preserve_insertion_order`` on); if it
does not qualify, lines are numbered by ``WITH ORDINALITY`` instead (single-threaded read).

A file over ``max_read_bytes`` is read part by part (:mod:`signal_pipeline.ingest.parts`), each
part's line numbers offset by the lines before it. The typed reader skips empty and
whitespace-only lines and accepts form feed / vertical tab as whitespace, which would shift line
numbers or land a line the per-line parser rejects. A part with an empty line or such bytes
(found by :func:`scan_lines`), or whose row count differs from its line count, is read by the
per-line path instead, so the outcome never depends on the path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import duckdb

from signal_pipeline.ingest.formats import SourceFile, duckdb_path
from signal_pipeline.ingest.json_lines import extract_json_fields, field_ref
from signal_pipeline.ingest.line_index import LineScan, read_raw_lines, scan_lines
from signal_pipeline.ingest.lines import LINES_TABLE, read_part_lines
from signal_pipeline.ingest.parsed import ParseLimits, append_parsed, explain_parsed
from signal_pipeline.ingest.parts import FilePart, file_parts
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE
from signal_pipeline.ingest.schema import CANONICAL_FIELDS
from signal_pipeline.ingest.staging import DUPLICATE

_MIN_OBJECT_BYTES = 16 * 1024 * 1024  # read_json's default maximum_object_size
# A row the per-line parser must re-judge: the typed reader found no event_id in it.
_REJUDGE_REASON = "missing_event_id"
# Physical operators that keep the reader's row order into the inserted table (no join, no
# aggregate, no sort): with them, the rows of one INSERT get consecutive row ids in file order.
_ORDER_KEEPING_OPERATORS = frozenset({"BATCH_INSERT", "PROJECTION", "FILTER", "READ_JSON"})


def _typed_reader_sql(numbered: bool) -> str:
    """The typed reader. ``numbered``: ``n`` from ``WITH ORDINALITY`` (single-threaded read);
    else ``n`` is NULL and the caller numbers the inserted rows by row id (parallel read)."""
    columns = ", ".join(f"{name}: 'VARCHAR'" for name in CANONICAL_FIELDS)
    number = "ordinality + $first_line" if numbered else "NULL::BIGINT"
    ordinality = "WITH ORDINALITY" if numbered else ""
    return f"""
        SELECT {number} AS n, NULL::VARCHAR AS parse_reason, NULL::VARCHAR AS parse_detail,
               {", ".join(CANONICAL_FIELDS)}
        FROM read_json($path, format = 'newline_delimited', records = true,
                       columns = {{{columns}}}, ignore_errors = true,
                       maximum_object_size = $max_object_bytes) {ordinality}
    """


def load_typed_json_lines(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits
) -> bool:
    """Judge the native JSON-lines file ``source`` into ``_ingest_classified`` through the typed
    reader, part by part (:mod:`signal_pipeline.ingest.parts`); lines that are quarantined get
    their raw text in ``_ingest_lines``. A part the typed reader cannot vouch for is judged by
    the per-line parser instead. Returns True when the typed reader judged every part.
    """
    typed = [
        _load_part(con, source, limits, part)
        for part in file_parts(source.path, limits.max_read_bytes, limits.scratch_dir)
    ]
    return all(typed)


def _load_part(
    con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits, part: FilePart
) -> bool:
    """Judge one part; False when it went through the per-line parser."""
    fields = {name: f"nullif({name}, '')" for name in CANONICAL_FIELDS}
    params: dict[str, object] = {
        "path": duckdb_path(part.path),
        # Lines over the limit are re-judged anyway; this only keeps long lines readable.
        "max_object_bytes": max(_MIN_OBJECT_BYTES, 2 * limits.max_line_bytes),
    }
    numbered = not _keeps_row_order(con, source, limits, fields, params)
    if numbered:
        params["first_line"] = part.first_line
    # The byte scan runs beside DuckDB's read (which releases the GIL); its verdict decides.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(scan_lines, part.path, limits.max_line_bytes)
        try:
            append_parsed(con, source, _typed_reader_sql(numbered), fields, limits, params)
            rows = _number_rows(con, source.number, part.first_line)
        except duckdb.Error:
            rows = -1
        scan = scanning.result()
    last_line = part.first_line + scan.n_lines
    if scan.has_empty_lines or scan.has_suspect_bytes or rows != scan.n_lines:
        con.execute(
            f"""DELETE FROM {CLASSIFIED_TABLE} WHERE file_no = $file_no
                AND (source_line IS NULL OR source_line > $after AND source_line <= $last)""",
            {"file_no": source.number, "after": part.first_line, "last": last_line},
        )
        read_part_lines(con, part.path, source.number, part.first_line)
        _judge_lines(con, source, limits, (part.first_line, last_line))
        return False
    _rejudge_and_keep_raw_lines(con, source, limits, part, scan)
    return True


def _keeps_row_order(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    limits: ParseLimits,
    fields: dict[str, str],
    params: dict[str, object],
) -> bool:
    """True when inserting the typed reader's judged rows keeps file order, so row ids number the
    lines: insertion order is preserved and the physical plan has only order-keeping operators
    (DuckDB turns some list tests into joins; if a future plan holds one, lines are numbered by
    ``WITH ORDINALITY`` instead)."""
    setting = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    if not setting[0][0]:
        return False
    plan_rows = explain_parsed(con, source, _typed_reader_sql(False), fields, limits, params)
    operators: set[str] = set()
    for _, plan_json in plan_rows:
        for root in json.loads(plan_json):
            _collect_operators(root, operators)
    return bool(operators) and operators <= _ORDER_KEEPING_OPERATORS


def _collect_operators(node: dict[str, object], into: set[str]) -> None:
    into.add(str(node.get("name", "")).strip())
    for child in node.get("children", []) or []:  # type: ignore[union-attr]
        _collect_operators(child, into)  # type: ignore[arg-type]


def _number_rows(con: duckdb.DuckDBPyConnection, file_no: int, first_line: int) -> int:
    """Give the rows just inserted without a line number (``source_line`` NULL) their line
    number from their row id: they were inserted in file order, with consecutive row ids.
    Returns the number of rows of the part (-1 if the row ids are not consecutive)."""
    unnumbered = con.execute(
        f"""SELECT count(*), min(rowid), max(rowid) FROM {CLASSIFIED_TABLE}
            WHERE file_no = ? AND source_line IS NULL""",
        [file_no],
    ).fetchall()[0]
    count, first_rowid, last_rowid = unnumbered
    numbered = con.execute(
        f"""SELECT count(*) FROM {CLASSIFIED_TABLE}
            WHERE file_no = ? AND source_line > ?""",
        [file_no, first_line],
    ).fetchall()[0][0]
    if not count:
        return int(numbered)
    if last_rowid - first_rowid + 1 != count:
        return -1
    con.execute(
        f"""UPDATE {CLASSIFIED_TABLE} SET source_line = rowid - $first_rowid + 1 + $first_line
            WHERE file_no = $file_no AND source_line IS NULL""",
        {"first_rowid": first_rowid, "first_line": first_line, "file_no": file_no},
    )
    return int(count)


def _judge_lines(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    limits: ParseLimits,
    line_range: tuple[int, int],
) -> None:
    """Judge the lines ``after < n <= last`` of ``source`` held in ``_ingest_lines``."""
    json_sql, json_params = extract_json_fields(
        [(name,) for name in CANONICAL_FIELDS], limits.max_line_bytes, line_range
    )
    fields = {name: field_ref((name,)) for name in CANONICAL_FIELDS}
    append_parsed(con, source, json_sql, fields, limits, json_params)


def _rejudge_and_keep_raw_lines(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    limits: ParseLimits,
    part: FilePart,
    scan: LineScan,
) -> None:
    """Send rows without an event_id and oversize lines of ``part`` through the per-line parser,
    and store the raw text of every other quarantined line (one pass over the part for both)."""
    after, last = part.first_line, part.first_line + scan.n_lines
    flagged = con.execute(
        f"""SELECT source_line, reason = '{_REJUDGE_REASON}' FROM {CLASSIFIED_TABLE}
            WHERE file_no = ? AND reason IS NOT NULL AND source_line > ? AND source_line <= ?""",
        [source.number, after, last],
    ).fetchall()
    rejudge = {line for line, again in flagged if again}
    rejudge |= {after + line for line in scan.oversize_lines}
    if not flagged and not rejudge:
        return
    wanted = [line - after for line, _ in flagged] + [line - after for line in rejudge]
    local_numbers, texts, bad_utf8 = read_raw_lines(part.path, wanted, first_line=after)
    numbers = [after + number for number in local_numbers]
    again = [i for i, number in enumerate(numbers) if number in rejudge]
    kept = [i for i, number in enumerate(numbers) if number not in rejudge]
    if again:
        con.execute(
            f"DELETE FROM {CLASSIFIED_TABLE} WHERE file_no = $file_no "
            "AND list_contains($lines, source_line)",
            {"file_no": source.number, "lines": [numbers[i] for i in again]},
        )
        _insert_lines(con, source.number, numbers, texts, bad_utf8, again)
        _judge_lines(con, source, limits, (after, last))
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
