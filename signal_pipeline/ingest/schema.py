"""Column lists of the ingest tables (docs/data_contract.md) and of the internal parse table."""

from __future__ import annotations

from signal_pipeline import schema

# The canonical event types, page types and landed-table columns have one definition, in
# signal_pipeline.schema; staged_events has exactly the raw_events columns.
EVENT_TYPES = schema.EVENT_TYPES
PAGE_TYPES = schema.PAGE_TYPES
STAGED_EVENT_COLUMNS: tuple[tuple[str, str], ...] = schema.RAW_EVENT_COLUMNS

QUARANTINED_EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("source_format", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("detail", "VARCHAR"),
    ("raw_line", "VARCHAR"),
)

# Canonical input fields every format parser extracts, all as text (numbers are validated later).
CANONICAL_FIELDS: tuple[str, ...] = (
    "event_id",
    "ts",
    "event_type",
    "event_name",
    "anonymous_id",
    "user_id",
    "session_id",
    "page_url",
    "page_type",
    "page_view_id",
    "element",
    "scroll_depth_pct",
    "hover_ms",
    "x",
    "y",
    "user_agent",
    "device_type",
    "campaign",
    "experiment",
    "variant",
    "revenue",
)

NUMERIC_FIELDS: tuple[str, ...] = ("scroll_depth_pct", "hover_ms", "x", "y", "revenue")

# What every parser hands to the judge: one row per input line, canonical fields as text.
PARSED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_no", "INTEGER"),
    ("source_line", "BIGINT"),
    ("parse_reason", "VARCHAR"),
    ("parse_detail", "VARCHAR"),
    *((name, "VARCHAR") for name in CANONICAL_FIELDS),
)


# Identifier columns of staged_events stored without compression: nearly one distinct value per
# row, so dictionary / FSST analysis costs most of the table's write time and saves little. A
# landing run over the whole staged range turns this table into raw_events as is
# (signal_pipeline.ingest.landing); raw_events partitions landed by copy use default compression.
UNCOMPRESSED_STAGED_COLUMNS: frozenset[str] = frozenset(
    {"event_id", "anonymous_id", "user_id", "session_id", "page_view_id"}
)


def column_ddl(
    columns: tuple[tuple[str, str], ...], uncompressed: frozenset[str] = frozenset()
) -> str:
    """``name TYPE, ...`` for a CREATE TABLE statement (names and types come from this module);
    columns in ``uncompressed`` are stored without compression."""
    return ", ".join(
        f"{name} {sql_type}" + (" USING COMPRESSION uncompressed" if name in uncompressed else "")
        for name, sql_type in columns
    )
