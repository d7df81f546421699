"""Turn judged lines into the final rows: page types, de-duplication by ``event_id``, and the
``staged_events`` / ``quarantined_events`` selections.

De-duplication runs over valid lines only: per ``event_id`` the earliest (by ts, then source
file, then line) lands; a later line whose payload (every staged column except ``source_*``)
equals the landed one is a duplicate; a different payload is quarantined as
``conflicting_duplicate`` with the fields that differ in ``detail``.
"""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.page_types import derive_page_types
from signal_pipeline.ingest.quarantine import CLASSIFIED_TABLE
from signal_pipeline.ingest.schema import (
    PAGE_TYPES,
    QUARANTINED_EVENT_COLUMNS,
    STAGED_EVENT_COLUMNS,
)

EVENTS_TABLE = "_ingest_events"
DUPLICATES_TABLE = "_ingest_duplicates"
_PAGE_TYPES_TABLE = "_ingest_page_types"
_VALID_URLS = "_ingest_valid_urls"

PAYLOAD_COLUMNS: tuple[str, ...] = tuple(
    name for name, _ in STAGED_EVENT_COLUMNS if not name.startswith("source_")
)
_PAGE_TYPES_LIST = "[" + ", ".join(f"'{t}'" for t in PAGE_TYPES) + "]"  # code constants
_STAGED_NAMES = ", ".join(name for name, _ in STAGED_EVENT_COLUMNS)


def build_events(
    con: duckdb.DuckDBPyConnection, page_type_rules: tuple[tuple[str, str], ...]
) -> None:
    """Create view ``_ingest_events`` (valid lines as typed staged rows) and table
    ``_ingest_duplicates``
    (``source_file, source_line, outcome, detail`` for every valid line of a repeated event_id
    that does not land).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_VALID_URLS} AS
            SELECT page_url FROM {CLASSIFIED_TABLE} WHERE reason IS NULL"""
    )
    derive_page_types(con, _VALID_URLS, _PAGE_TYPES_TABLE, page_type_rules)
    con.execute(f"DROP VIEW {_VALID_URLS}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {EVENTS_TABLE} AS
        SELECT c.event_id,
               c.ts_utc AS ts,
               CAST(c.ts_utc AS DATE) AS event_date,
               c.event_type_norm AS event_type,
               CASE WHEN c.event_type_norm = 'other' THEN coalesce(c.event_name, 'other')
                    ELSE c.event_name END AS event_name,
               CASE WHEN trim(c.anonymous_id) <> '' THEN c.anonymous_id END AS anonymous_id,
               CASE WHEN trim(c.user_id) <> '' THEN c.user_id END AS user_id,
               CASE WHEN trim(c.session_id) <> '' THEN c.session_id END AS session_id,
               c.page_url,
               CASE WHEN list_contains({_PAGE_TYPES_LIST}, lower(trim(c.page_type)))
                    THEN lower(trim(c.page_type))
                    ELSE coalesce(p.page_type, 'other') END AS page_type,
               c.page_view_id,
               c.element,
               c.scroll_depth_pct_num AS scroll_depth_pct,
               c.hover_ms_num AS hover_ms,
               c.x_num AS x,
               c.y_num AS y,
               c.user_agent,
               lower(trim(c.device_type)) AS device_type,
               c.campaign,
               c.experiment,
               c.variant,
               c.revenue_num AS revenue,
               c.source_format,
               c.source_file,
               c.source_line
        FROM {CLASSIFIED_TABLE} c
        LEFT JOIN {_PAGE_TYPES_TABLE} p ON c.page_url = p.page_url
        WHERE c.reason IS NULL
        """
    )
    differing = ", ".join(
        f"CASE WHEN d.{name} IS DISTINCT FROM k.{name} THEN '{name}' END"
        for name in PAYLOAD_COLUMNS
    )
    same_payload = " AND ".join(
        f"d.{name} IS NOT DISTINCT FROM k.{name}" for name in PAYLOAD_COLUMNS
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {DUPLICATES_TABLE} AS
        WITH repeated AS (
            SELECT e.*, row_number() OVER (
                       PARTITION BY e.event_id ORDER BY e.ts, e.source_file, e.source_line) AS rank
            FROM {EVENTS_TABLE} e
            SEMI JOIN (SELECT event_id FROM {EVENTS_TABLE} GROUP BY event_id HAVING count(*) > 1)
                r USING (event_id)
        ),
        kept AS (SELECT * FROM repeated WHERE rank = 1)
        SELECT d.source_file, d.source_line, d.source_format,
               CASE WHEN {same_payload} THEN 'duplicate' ELSE 'conflicting_duplicate' END
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


def staged_events_sql() -> str:
    """SELECT of the ``staged_events`` rows (contract column order)."""
    return f"""
        SELECT {_STAGED_NAMES} FROM {EVENTS_TABLE} e
        ANTI JOIN {DUPLICATES_TABLE} d USING (source_file, source_line)
    """


def quarantined_events_sql() -> str:
    """SELECT of the ``quarantined_events`` rows (contract column order)."""
    names = ", ".join(name for name, _ in QUARANTINED_EVENT_COLUMNS)
    return f"""
        SELECT {names} FROM {CLASSIFIED_TABLE} WHERE reason IS NOT NULL
        UNION ALL
        SELECT d.source_file, d.source_line, d.source_format, 'conflicting_duplicate' AS reason,
               d.detail, c.raw_line
        FROM {DUPLICATES_TABLE} d
        JOIN {CLASSIFIED_TABLE} c USING (source_file, source_line)
        WHERE d.outcome = 'conflicting_duplicate'
    """
