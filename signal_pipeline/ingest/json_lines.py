"""Extract fields from numbered JSON lines in one parse per line, and judge unreadable lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from signal_pipeline.ingest.lines import LINES_TABLE

RAW_LINE_LIMIT_CHARS = 10_000  # raw_line of an oversize line keeps only its start


KeyPath = tuple[str, ...]


def json_structure(key_paths: Sequence[KeyPath]) -> str:
    """The ``json_transform`` structure (every leaf ``VARCHAR``) holding ``key_paths``."""
    tree: dict[str, Any] = {}
    for path in key_paths:
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = "VARCHAR"
    return json.dumps(tree)


def extract_json_fields(
    key_paths: Sequence[KeyPath], max_line_bytes: int, line_range: tuple[int, int] | None = None
) -> tuple[str, dict[str, object]]:
    """SELECT (and its parameters) of ``n, parse_reason, parse_detail, f STRUCT`` over the
    lines of file ``$file_no`` in ``_ingest_lines``: one JSON parse per line into a struct of
    text leaves.

    Each leaf of ``f`` is the text at that key path (numbers and nested values as JSON text,
    ``null`` as NULL; keys are case-sensitive). ``parse_reason`` is ``oversize_line``,
    ``invalid_utf8``, ``invalid_json`` or ``not_an_object`` for lines that cannot be events, else
    NULL. ``line_range`` ``(after, last)`` keeps lines ``after < n <= last`` only (default: all).
    The caller binds ``$file_no``.
    """
    sql = f"""
        WITH extracted AS (
            SELECT n, line, bad_utf8, strlen(line) AS n_bytes,
                   CASE WHEN strlen(line) <= $max_bytes AND NOT bad_utf8
                        THEN TRY(json_transform(line, $structure)) END AS f
            FROM {LINES_TABLE}
            WHERE file_no = $file_no AND n > $after_line AND n <= $last_line
        )
        SELECT n,
               CASE WHEN n_bytes > $max_bytes THEN 'oversize_line'
                    WHEN bad_utf8 THEN 'invalid_utf8'
                    WHEN f IS NULL THEN 'invalid_json'
                    WHEN NOT prefix(ltrim(line, $json_space), '{{') THEN 'not_an_object'
               END AS parse_reason,
               CASE WHEN n_bytes > $max_bytes
                        THEN printf('line is %d bytes, limit %d (raw_line truncated to %d chars)',
                                    n_bytes, $max_bytes, $raw_limit)
                    WHEN bad_utf8 THEN 'invalid UTF-8 bytes (escaped as \\xNN in raw_line)'
                    WHEN f IS NULL AND trim(line) = '' THEN 'empty line'
                    WHEN f IS NULL THEN 'not valid JSON'
                    WHEN NOT prefix(ltrim(line, $json_space), '{{')
                        THEN 'JSON ' || lower(json_type(line)) || ', expected an object'
               END AS parse_detail,
               f
        FROM extracted
    """
    params = {
        "max_bytes": max_line_bytes,
        "structure": json_structure(key_paths),
        "raw_limit": RAW_LINE_LIMIT_CHARS,
        "json_space": " \t\r\n",  # JSON's insignificant whitespace
        "after_line": line_range[0] if line_range else 0,
        "last_line": line_range[1] if line_range else 2**62,
    }
    return sql, params


def field_ref(path: KeyPath) -> str:
    """SQL reference to the text at ``path`` (code constant) in :func:`extract_json_fields`."""
    keys = ".".join('"' + key.replace('"', '""') + '"' for key in path)
    return f"nullif(f.{keys}, '')"
