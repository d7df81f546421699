"""The canonical event schema: event types, page types and the landed-table columns."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "page_ping",
    "scroll",
    "click",
    "hover",
    "cta_click",
    "comparison_view",
    "video_play",
    "form_interaction",
    "add_to_cart",
    "purchase",
    "other",
)

PAGE_TYPES: tuple[str, ...] = (
    "specs",
    "pricing",
    "comparison",
    "product",
    "home",
    "checkout",
    "other",
)

#: Columns of ``staged_events`` and ``raw_events``, in order, with their DuckDB types.
RAW_EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "VARCHAR"),
    ("ts", "TIMESTAMP"),
    ("event_date", "DATE"),
    ("event_type", "VARCHAR"),
    ("event_name", "VARCHAR"),
    ("anonymous_id", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("page_url", "VARCHAR"),
    ("page_type", "VARCHAR"),
    ("page_view_id", "VARCHAR"),
    ("element", "VARCHAR"),
    ("scroll_depth_pct", "DOUBLE"),
    ("hover_ms", "DOUBLE"),
    ("x", "DOUBLE"),
    ("y", "DOUBLE"),
    ("user_agent", "VARCHAR"),
    ("device_type", "VARCHAR"),
    ("campaign", "VARCHAR"),
    ("experiment", "VARCHAR"),
    ("variant", "VARCHAR"),
    ("revenue", "DOUBLE"),
    ("source_format", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
)

RAW_EVENT_COLUMNS_DDL = ", ".join(f"{name} {dtype}" for name, dtype in RAW_EVENT_COLUMNS)
