"""Turn judged lines into the final rows: page types, de-duplication by ``event_id``, and the
``staged_events`` / ``quarantined_events`` selections.

De-duplication runs over valid lines only: per ``event_id`` the earliest (by ts, then source
file, then line) lands; a later line whose payload (every staged column except ``source_*``)
equals the landed one is a duplicate; a different payload is quarantined as
``conflicting_duplicate`` with the fields that differ in ``detail``. Both outcomes are written
back onto the judged row (``reason`` = ``duplicate`` / ``conflicting_duplicate``), so the judged
table holds every line's one outcome and the happy path needs no anti-join.
"""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.json_lines import RAW_LINE_LIMIT_CHARS
from signal_pipeline.ingest.lines import LINES_TABLE
from signal_pipeline.ingest.page_types import derive_page_types
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE
from signal_pipeline.ingest.schema import QUARANTINED_EVENT_COLUMNS, STAGED_EVENT_COLUMNS

FILES_TABLE = "_ingest_files"
DUPLICATE = "duplicate"  # the outcome of an exact repeat: counted, neither landed nor quarantined
_PAGE_TYPES_TABLE = "_ingest_page_types"
_URLS_VIEW = "_ingest_untyped_urls"
_REPEATS_TABLE = "_ingest_repeats"

PAYLOAD_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, sql_type) for name, sql_type in STAGED_EVENT_COLUMNS if not name.startswith("source_")
)
_SOURCE_COLUMNS = {
    "source_format": "f.source_format",
    "source_file": "f.source_file",
    "source_line": "c.source_line",
}


def create_files_table(con: duckdb.DuckDBPyConnection, files: list[tuple[int, str, str]]) -> None:
    """(Re)create ``_ingest_files(file_no, source_file, source_format)`` from bound values."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {FILES_TABLE} "
        "(file_no INTEGER, source_file VARCHAR, source_format VARCHAR)"
    )
    if files:
        con.executemany(f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?)", files)


def resolve_events(
    con: duckdb.DuckDBPyConnection, page_type_rules: tuple[tuple[str, str], ...]
) -> None:
    """Derive page types for the URLs of valid lines that carry none, and mark repeated
    ``event_id`` lines as ``duplicate`` or ``conflicting_duplicate`` in ``_ingest_classified``.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_URLS_VIEW} AS
            SELECT page_url FROM {CLASSIFIED_TABLE} WHERE reason IS NULL AND page_type IS NULL"""
    )
    derive_page_types(con, _URLS_VIEW, _PAGE_TYPES_TABLE, page_type_rules)
    con.execute(f"DROP VIEW {_URLS_VIEW}")
    _mark_repeats(con)


def _mark_repeats(con: duckdb.DuckDBPyConnection) -> None:
    payload = [name for name, _ in PAYLOAD_COLUMNS if name != "page_type"]
    # page_type compares as landed (given, else derived from the URL).
    resolved_page_type = "coalesce(c.page_type, p.page_type, 'other')"
    differing = ", ".join(
        f"CASE WHEN d.{name} IS DISTINCT FROM k.{name} THEN '{name}' END"
        for name in [*payload, "page_type"]
    )
    same_payload = " AND ".join(
        f"d.{name} IS NOT DISTINCT FROM k.{name}" for name in [*payload, "page_type"]
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_REPEATS_TABLE} AS
        WITH repeated AS (
            SELECT c.* REPLACE ({resolved_page_type} AS page_type), f.source_file,
                   row_number() OVER (
                       PARTITION BY c.event_id ORDER BY c.ts, f.source_file, c.source_line
                   ) AS rank
            FROM {CLASSIFIED_TABLE} c
            JOIN {FILES_TABLE} f USING (file_no)
            LEFT JOIN {_PAGE_TYPES_TABLE} p ON c.page_url = p.page_url
            SEMI JOIN (
                SELECT event_id FROM {CLASSIFIED_TABLE} WHERE reason IS NULL
                GROUP BY event_id HAVING count(*) > 1
            ) r USING (event_id)
            WHERE c.reason IS NULL
        ),
        kept AS (SELECT * FROM repeated WHERE rank = 1)
        SELECT d.file_no, d.source_line,
               CASE WHEN {same_payload} THEN '{DUPLICATE}' ELSE 'conflicting_duplicate' END
                   AS outcome,
               CASE WHEN {same_payload}
                    THEN 'exact copy of ' || k.source_file || ':' || k.source_line
                    ELSE 'event_id=' || d.event_id || ' already landed from ' || k.source_file
                         || ':' || k.source_line || ' with different '
                         || array_to_string(
                             list_filter([{differing}], lambda f: f IS NOT NULL), ', ')
               END AS detail
        FROM repeated d JOIN kept k USING (event_id)
        WHERE d.rank > 1
        """
    )
    repeats = con.execute(f"SELECT count(*) FROM {_REPEATS_TABLE}").fetchall()[0][0]
    if repeats:
        con.execute(
            f"""UPDATE {CLASSIFIED_TABLE} c SET reason = r.outcome, detail = r.detail
                FROM {_REPEATS_TABLE} r
                WHERE c.file_no = r.file_no AND c.source_line = r.source_line"""
        )
    con.execute(f"DROP TABLE {_REPEATS_TABLE}")


def staged_events_sql() -> str:
    """SELECT of the ``staged_events`` rows (contract column order)."""
    columns = []
    for name, _ in STAGED_EVENT_COLUMNS:
        if name == "page_type":
            columns.append("coalesce(c.page_type, p.page_type, 'other') AS page_type")
        else:
            columns.append(_SOURCE_COLUMNS.get(name, f"c.{name}") + f" AS {name}")
    return f"""
        SELECT {", ".join(columns)}
        FROM {CLASSIFIED_TABLE} c
        JOIN {FILES_TABLE} f USING (file_no)
        LEFT JOIN {_PAGE_TYPES_TABLE} p ON c.page_url = p.page_url
        WHERE c.reason IS NULL
    """


def quarantined_events_sql() -> str:
    """SELECT of the ``quarantined_events`` rows (contract column order); ``raw_line`` comes
    from ``_ingest_lines`` (cut to its first characters for an oversize line)."""
    columns = {
        "source_file": "f.source_file",
        "source_line": "c.source_line",
        "source_format": "f.source_format",
        "reason": "c.reason",
        "detail": "c.detail",
        "raw_line": "CASE WHEN c.reason = 'oversize_line' "
        f"THEN left(l.line, {RAW_LINE_LIMIT_CHARS}) ELSE l.line END",
    }
    select = ", ".join(f"{columns[name]} AS {name}" for name, _ in QUARANTINED_EVENT_COLUMNS)
    return f"""
        SELECT {select}
        FROM {CLASSIFIED_TABLE} c
        JOIN {FILES_TABLE} f USING (file_no)
        JOIN {LINES_TABLE} l ON l.file_no = c.file_no AND l.n = c.source_line
        WHERE c.reason IS NOT NULL AND c.reason <> '{DUPLICATE}'
    """


def outcome_counts_sql() -> str:
    """SELECT of ``source_file, lines_read, duplicates`` per input file (every file, even empty)."""
    return f"""
        SELECT f.source_file, count(c.source_line) AS lines_read,
               count(*) FILTER (c.reason = '{DUPLICATE}') AS duplicates
        FROM {FILES_TABLE} f LEFT JOIN {CLASSIFIED_TABLE} c USING (file_no)
        GROUP BY f.source_file
    """
