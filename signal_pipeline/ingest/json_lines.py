"""Extract fields from numbered JSON lines in one parse per line, and judge unreadable lines."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from signal_pipeline.ingest.lines import LINES_TABLE

JSON_TABLE = "_ingest_json"
RAW_LINE_LIMIT_CHARS = 10_000  # raw_line of an oversize line keeps only its start


def extract_json_fields(
    con: duckdb.DuckDBPyConnection, json_paths: Sequence[str], max_line_bytes: int
) -> None:
    """Create ``_ingest_json(n, raw_line, parse_reason, parse_detail, f VARCHAR[])`` from lines.

    ``f[i]`` is the text of ``json_paths[i-1]`` (numbers and nested values as JSON text,
    ``null`` as NULL). ``parse_reason`` is ``oversize_line``, ``invalid_utf8``, ``invalid_json``
    or ``not_an_object`` for lines that cannot be events, else NULL.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {JSON_TABLE} AS
        WITH extracted AS (
            SELECT n, line, bad_utf8, octet_length(line) AS n_bytes,
                   CASE WHEN octet_length(line) <= $max_bytes AND NOT bad_utf8
                        THEN TRY(json_extract_string(line, $paths)) END AS f
            FROM {LINES_TABLE}
        )
        SELECT n,
               CASE WHEN n_bytes > $max_bytes THEN left(line, $raw_limit) ELSE line END
                   AS raw_line,
               CASE WHEN n_bytes > $max_bytes THEN 'oversize_line'
                    WHEN bad_utf8 THEN 'invalid_utf8'
                    WHEN f IS NULL THEN 'invalid_json'
                    WHEN NOT prefix(ltrim(line), '{{') THEN 'not_an_object'
               END AS parse_reason,
               CASE WHEN n_bytes > $max_bytes
                        THEN printf('line is %d bytes, limit %d (raw_line truncated to %d chars)',
                                    n_bytes, $max_bytes, $raw_limit)
                    WHEN bad_utf8 THEN 'invalid UTF-8 bytes (escaped as \\xNN in raw_line)'
                    WHEN f IS NULL AND trim(line) = '' THEN 'empty line'
                    WHEN f IS NULL THEN 'not valid JSON'
                    WHEN NOT prefix(ltrim(line), '{{')
                        THEN 'JSON ' || lower(json_type(line)) || ', expected an object'
               END AS parse_detail,
               f
        FROM extracted
        """,
        {"max_bytes": max_line_bytes, "paths": list(json_paths), "raw_limit": RAW_LINE_LIMIT_CHARS},
    )


def field_refs(json_paths: Sequence[str]) -> dict[str, str]:
    """Map each JSON path to its SQL reference ``nullif(f[i], '')`` in ``_ingest_json``."""
    return {path: f"nullif(f[{i}], '')" for i, path in enumerate(json_paths, start=1)}
