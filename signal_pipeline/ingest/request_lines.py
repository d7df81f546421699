"""The ingest rules as composable SQL, for callers that judge a few lines many times (live scoring).

:func:`signal_pipeline.ingest.ingest_files` runs a pass of statements over files. A caller that
judges one small request body at a time (the real-time service) wants the same rules as one
``SELECT`` it can embed in a prepared statement, fed from parameters instead of files:

- :func:`split_body_lines` cuts text into lines by the line rule of
  :mod:`signal_pipeline.ingest.lines` (``\\n`` ends a line, a trailing newline starts none,
  ``\\r`` endings and a leading byte-order mark are stripped, a blank line is a line);
- :func:`body_format` is the format :func:`signal_pipeline.ingest.formats.detect_format` gives a
  request body;
- :func:`judged_lines_sql` is the per-line parser and judge of native JSON lines (the path the
  typed fast path falls back to: :func:`extract_json_fields` + :func:`classify_sql`) over a
  relation named ``_ingest_lines``: the same quarantine reasons, details and typed columns;
- :func:`page_types_sql` is the page-type table of :func:`derive_page_types` as one SELECT.

Nothing here de-duplicates by ``event_id`` (``duplicate`` / ``conflicting_duplicate`` are decided
across lines by :mod:`signal_pipeline.ingest.staging`): a caller must send input with repeated
event ids through :func:`ingest_files`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from signal_pipeline.ingest.formats import _PEEK_BYTES, _sniff
from signal_pipeline.ingest.json_lines import extract_json_fields, field_ref
from signal_pipeline.ingest.page_types import URL_PATH_REGEX, validate_rules
from signal_pipeline.ingest.quarantine import classify_params, classify_sql
from signal_pipeline.ingest.schema import CANONICAL_FIELDS

_BOM = "\ufeff"


def split_body_lines(text: str) -> list[str]:
    """The lines of ``text`` by the ingest line rule (see the module docstring)."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    lines = [part.rstrip("\r") for part in parts]
    if lines and parts[0].startswith(_BOM):
        lines[0] = lines[0].lstrip(_BOM)
    return lines


def body_format(body: bytes) -> tuple[str, str]:
    """``(container, family)`` that ingest detects for ``body`` written as a request file
    (``.json`` when it starts with ``[``, else ``.jsonl``)."""
    suffix = ".json" if body.lstrip()[:1] == b"[" else ".jsonl"
    return _sniff(Path(f"request{suffix}"), body[:_PEEK_BYTES])


def judged_lines_sql(
    *, max_line_bytes: int, future_limit: datetime, earliest: date
) -> tuple[str, dict[str, object]]:
    """SELECT (and its parameters) judging the native JSON lines of file ``$file_no`` in the
    relation ``_ingest_lines(file_no, n, line, bad_utf8)``: one row per line with
    ``file_no, source_line, reason, detail`` and the typed staged columns, exactly as the per-line
    path of :func:`ingest_files` judges them (``page_type`` only when the event gives a known one;
    ``reason`` NULL for a valid line). ``future_limit`` is naive UTC."""
    json_sql, json_params = extract_json_fields(
        [(name,) for name in CANONICAL_FIELDS], max_line_bytes
    )
    fields = ", ".join(
        f"CAST({field_ref((name,))} AS VARCHAR) AS {name}" for name in CANONICAL_FIELDS
    )
    base = f"""
        SELECT $file_no::INTEGER AS file_no, n::BIGINT AS source_line, parse_reason,
               parse_detail, {fields}
        FROM ({json_sql})
    """
    params = classify_params(future_limit=future_limit, earliest=earliest) | json_params
    return classify_sql(base), params


def page_types_sql(
    urls_relation: str, rules: tuple[tuple[str, str], ...], prefix: str = "page_rule_"
) -> tuple[str, dict[str, object]]:
    """SELECT ``page_url, page_type`` (and its parameters, named ``<prefix>...``) for the
    distinct non-NULL ``page_url`` of the relation ``urls_relation`` (a name from code), exactly
    as :func:`derive_page_types` builds its table: the first rule whose regex matches the
    lower-cased URL path wins, else ``other``."""
    validate_rules(rules)
    params: dict[str, object] = {f"{prefix}path_regex": URL_PATH_REGEX}
    branches = []
    for i, (pattern, page_type) in enumerate(rules):
        params[f"{prefix}p{i}"] = pattern
        params[f"{prefix}t{i}"] = page_type
        branches.append(f"WHEN regexp_matches(path, ${prefix}p{i}) THEN ${prefix}t{i}")
    case = f"CASE {' '.join(branches)} ELSE 'other' END" if branches else "'other'"
    sql = f"""
        SELECT page_url, {case} AS page_type
        FROM (
            SELECT page_url,
                   coalesce(nullif(lower(regexp_extract(trim(page_url), ${prefix}path_regex, 1)),
                                   ''), '/') AS path
            FROM (SELECT DISTINCT page_url FROM {urls_relation} WHERE page_url IS NOT NULL)
        )
    """
    return sql, params
