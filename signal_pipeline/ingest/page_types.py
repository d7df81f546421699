"""Derive ``page_type`` from a page URL with ordered regex rules (first match wins)."""

from __future__ import annotations

import re

import duckdb

from signal_pipeline.ingest.schema import PAGE_TYPES

# (regex on the lower-cased URL path, page_type). Order matters: /products/x/specs is ``specs``.
DEFAULT_PAGE_TYPE_RULES: tuple[tuple[str, str], ...] = (
    (r"(^|/)(specs?|specifications?|tech-specs)([/._-]|$)", "specs"),
    (r"(^|/)(pricing|prices?|plans)([/._-]|$)", "pricing"),
    (r"(^|/)(compare|comparisons?)([/._-]|$)", "comparison"),
    (r"(^|/)(checkout|cart|basket)([/._-]|$)", "checkout"),
    (r"(^|/)products?([/._-]|$)", "product"),
    (r"^/?(index\.[a-z]+)?$", "home"),
)

# The path of a full URL (scheme://host stripped) or of a bare path; query and fragment dropped.
URL_PATH_REGEX = r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]*://[^/?#]*)?([^?#]*)"


def validate_rules(rules: tuple[tuple[str, str], ...]) -> None:
    """Raise ``ValueError`` when a rule's regex does not compile or its page_type is unknown."""
    for pattern, page_type in rules:
        if page_type not in PAGE_TYPES:
            raise ValueError(f"page_type rule {pattern!r}: {page_type!r} is not in {PAGE_TYPES}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"page_type rule {pattern!r} is not a valid regex: {exc}") from exc


def derive_page_types(
    con: duckdb.DuckDBPyConnection,
    urls_table: str,
    out_table: str,
    rules: tuple[tuple[str, str], ...],
) -> None:
    """Create ``out_table(page_url, page_type)`` for the distinct ``page_url`` of ``urls_table``.

    Rules run once per distinct URL, not per event; patterns and page types are bound parameters.
    A missing URL gets ``other``.
    """
    validate_rules(rules)
    params: dict[str, object] = {"path_regex": URL_PATH_REGEX}
    branches = []
    for i, (pattern, page_type) in enumerate(rules):
        params[f"p{i}"] = pattern
        params[f"t{i}"] = page_type
        branches.append(f"WHEN regexp_matches(path, $p{i}) THEN $t{i}")
    case = f"CASE {' '.join(branches)} ELSE 'other' END" if branches else "'other'"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {out_table} AS
        SELECT page_url, {case} AS page_type
        FROM (
            SELECT page_url,
                   coalesce(nullif(lower(regexp_extract(trim(page_url), $path_regex, 1)), ''), '/')
                       AS path
            FROM (SELECT DISTINCT page_url FROM {urls_table} WHERE page_url IS NOT NULL)
        )
        """,
        params,
    )
