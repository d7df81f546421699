"""Segment / RudderStack events (JSON lines or a JSON array / ``{"batch": [...]}`` document).

Mapping (Segment spec): ``messageId`` → event_id; ``timestamp`` (else ``originalTimestamp``,
``sentAt``, ``receivedAt``) → ts; ``page`` and ``screen`` calls → ``page_view``; ``track`` calls
by event name (:data:`TRACK_EVENT_TYPES`, case-insensitive), any other name → ``other``;
``identify``, ``group`` and ``alias`` → ``other`` with the call type as event_name (an identify
carries anonymousId + userId, so it feeds identity stitching). A missing or unknown call type is
quarantined as ``unknown_event_type``.
"""

from __future__ import annotations

import duckdb

from signal_pipeline.ingest.formats import SourceFile
from signal_pipeline.ingest.json_lines import KeyPath, extract_json_fields, field_ref
from signal_pipeline.ingest.parsed import ParseLimits, append_parsed, read_json_records

# Segment e-commerce / video spec event names → canonical event_type.
TRACK_EVENT_TYPES: dict[str, str] = {
    "product clicked": "click",
    "cta clicked": "cta_click",
    "order completed": "purchase",
    "checkout step completed": "form_interaction",
    "form submitted": "form_interaction",
    "product added": "add_to_cart",
    "video playback started": "video_play",
    "products compared": "comparison_view",
    "product compared": "comparison_view",
    "page scrolled": "scroll",
    "element hovered": "hover",
}
NON_EVENT_CALLS: tuple[str, ...] = ("identify", "group", "alias")

_PATHS: dict[str, KeyPath] = {
    "message_id": ("messageId",),
    "timestamp": ("timestamp",),
    "original_timestamp": ("originalTimestamp",),
    "sent_at": ("sentAt",),
    "received_at": ("receivedAt",),
    "type": ("type",),
    "event": ("event",),
    "name": ("name",),
    "anonymous_id": ("anonymousId",),
    "user_id": ("userId",),
    "context_session": ("context", "sessionId"),
    "properties_session": ("properties", "session_id"),
    "context_page_url": ("context", "page", "url"),
    "properties_url": ("properties", "url"),
    "context_page_path": ("context", "page", "path"),
    "properties_path": ("properties", "path"),
    "page_type": ("properties", "page_type"),
    "page_view_id": ("properties", "page_view_id"),
    "element": ("properties", "element"),
    "cta": ("properties", "cta"),
    "label": ("properties", "label"),
    "product_id": ("properties", "product_id"),
    "scroll_depth": ("properties", "scroll_depth_pct"),
    "percent_scrolled": ("properties", "scroll_depth"),
    "hover_ms": ("properties", "hover_ms"),
    "x": ("properties", "x"),
    "y": ("properties", "y"),
    "user_agent": ("context", "userAgent"),
    "device_type": ("context", "device", "type"),
    "campaign": ("context", "campaign", "name"),
    "experiment_name": ("properties", "experiment_name"),
    "variation_name": ("properties", "variation_name"),
    "revenue": ("properties", "revenue"),
    "total": ("properties", "total"),
}


def load_segment(con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits) -> None:
    """Parse one Segment/RudderStack file into ``_ingest_classified``."""
    read_json_records(con, source, limits)
    json_sql, json_params = extract_json_fields(list(_PATHS.values()), limits.max_line_bytes)
    ref = {key: field_ref(path) for key, path in _PATHS.items()}
    call = f"lower({ref['type']})"
    track_names = _sql_list(list(TRACK_EVENT_TYPES))
    track_types = _sql_list(list(TRACK_EVENT_TYPES.values()))
    event_type = f"""CASE
        WHEN {call} IN ('page', 'screen') THEN 'page_view'
        WHEN {call} = 'track' THEN coalesce(
            {track_types}[nullif(list_position({track_names}, lower({ref["event"]})), 0)], 'other')
        WHEN {call} IN {_sql_tuple(NON_EVENT_CALLS)} THEN 'other'
        ELSE 'segment call type ' || coalesce({ref["type"]}, '(missing)')
    END"""
    event_name = f"""CASE
        WHEN {call} = 'track' THEN {ref["event"]}
        WHEN {call} IN ('page', 'screen') THEN coalesce({ref["name"]}, {call})
        ELSE {call}
    END"""
    fields = {
        "event_id": ref["message_id"],
        "ts": f"coalesce({ref['timestamp']}, {ref['original_timestamp']}, {ref['sent_at']}, "
        f"{ref['received_at']})",
        "event_type": event_type,
        "event_name": event_name,
        "anonymous_id": ref["anonymous_id"],
        "user_id": ref["user_id"],
        "session_id": f"coalesce({ref['context_session']}, {ref['properties_session']})",
        "page_url": f"coalesce({ref['context_page_url']}, {ref['properties_url']}, "
        f"{ref['context_page_path']}, {ref['properties_path']})",
        "page_type": ref["page_type"],
        "page_view_id": ref["page_view_id"],
        "element": f"coalesce({ref['element']}, {ref['cta']}, {ref['label']}, {ref['product_id']})",
        "scroll_depth_pct": f"coalesce({ref['scroll_depth']}, {ref['percent_scrolled']})",
        "hover_ms": ref["hover_ms"],
        "x": ref["x"],
        "y": ref["y"],
        "user_agent": ref["user_agent"],
        "device_type": f"lower({ref['device_type']})",
        "campaign": ref["campaign"],
        "experiment": ref["experiment_name"],
        "variant": ref["variation_name"],
        "revenue": f"CASE WHEN {call} = 'track' AND lower({ref['event']}) = 'order completed' "
        f"THEN coalesce({ref['revenue']}, {ref['total']}) END",
    }
    append_parsed(con, source, json_sql, fields, limits, json_params)


def _sql_list(values: list[str]) -> str:
    """A SQL list literal of code constants (never input data)."""
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _sql_tuple(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
