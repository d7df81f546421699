"""Snowplow enriched events: the atomic-table CSV/TSV/Parquet export (with a header, contexts
shredded into ``contexts_<vendor>_<name>_<version>`` columns) or the header-less enriched TSV
(131 fields, contexts as self-describing JSON in ``contexts`` / ``unstruct_event``).

Mapping: event_id; domain_userid (else network_userid) → anonymous_id; user_id;
domain_sessionid → session_id; ts = derived_tstamp, else dvce_created_tstamp, else
collector_tstamp; event_name (else event): page_view, page_ping (scroll depth =
(pp_yoffset_max + br_viewheight) / doc_height as a percent, capped to 0–100), link_click → click
(element = link element id, else target URL), focus_form / change_form / submit_form →
form_interaction, transaction → purchase (revenue = tr_total), add_to_cart; anything else →
``other`` with its name in event_name. page_url (else page_urlpath), useragent, mkt_campaign →
campaign, dvce_type (else the YAUAA deviceClass, lower-cased) → device_type, and the page view id
of the web_page context.
"""

from __future__ import annotations

import re

import duckdb

from signal_pipeline.ingest.formats import SourceFile, is_header_row
from signal_pipeline.ingest.parsed import ParseLimits, append_parsed
from signal_pipeline.ingest.rows import ROWS_TABLE, read_rows

# Field order of the header-less enriched TSV (Snowplow Analytics SDK, 131 fields).
ENRICHED_TSV_FIELDS: tuple[str, ...] = (
    "app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "event",
    "event_id", "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl", "user_id",
    "user_ipaddress", "user_fingerprint", "domain_userid", "domain_sessionidx", "network_userid",
    "geo_country", "geo_region", "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude",
    "geo_region_name", "ip_isp", "ip_organization", "ip_domain", "ip_netspeed", "page_url",
    "page_title", "page_referrer", "page_urlscheme", "page_urlhost", "page_urlport",
    "page_urlpath", "page_urlquery", "page_urlfragment", "refr_urlscheme", "refr_urlhost",
    "refr_urlport", "refr_urlpath", "refr_urlquery", "refr_urlfragment", "refr_medium",
    "refr_source", "refr_term", "mkt_medium", "mkt_source", "mkt_term", "mkt_content",
    "mkt_campaign", "contexts", "se_category", "se_action", "se_label", "se_property", "se_value",
    "unstruct_event", "tr_orderid", "tr_affiliation", "tr_total", "tr_tax", "tr_shipping",
    "tr_city", "tr_state", "tr_country", "ti_orderid", "ti_sku", "ti_name", "ti_category",
    "ti_price", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max", "pp_yoffset_min",
    "pp_yoffset_max", "useragent", "br_name", "br_family", "br_version", "br_type",
    "br_renderengine", "br_lang", "br_features_pdf", "br_features_flash", "br_features_java",
    "br_features_director", "br_features_quicktime", "br_features_realplayer",
    "br_features_windowsmedia", "br_features_gears", "br_features_silverlight", "br_cookies",
    "br_colordepth", "br_viewwidth", "br_viewheight", "os_name", "os_family", "os_manufacturer",
    "os_timezone", "dvce_type", "dvce_ismobile", "dvce_screenwidth", "dvce_screenheight",
    "doc_charset", "doc_width", "doc_height", "tr_currency", "tr_total_base", "tr_tax_base",
    "tr_shipping_base", "ti_currency", "ti_price_base", "base_currency", "geo_timezone",
    "mkt_clickid", "mkt_network", "etl_tags", "dvce_sent_tstamp", "refr_domain_userid",
    "refr_dvce_tstamp", "derived_contexts", "domain_sessionid", "derived_tstamp", "event_vendor",
    "event_name", "event_format", "event_version", "event_fingerprint", "true_tstamp",
)  # fmt: skip

EVENT_TYPES_BY_NAME: dict[str, str] = {
    "page_view": "page_view",
    "page_ping": "page_ping",
    "link_click": "click",
    "focus_form": "form_interaction",
    "change_form": "form_interaction",
    "submit_form": "form_interaction",
    "transaction": "purchase",
    "add_to_cart": "add_to_cart",
}

_SAFE_NAME = re.compile(r"[a-z0-9_]+")
#: A Snowplow header names at least one of these (the event id or one of its timestamps).
SNOWPLOW_KEY_COLUMNS = frozenset(
    {"event_id", "collector_tstamp", "derived_tstamp", "dvce_created_tstamp"}
)
_WEB_PAGE_CONTEXT_PREFIX = "contexts_com_snowplowanalytics_snowplow_web_page_1"
_YAUAA_CONTEXT_PREFIX = "contexts_nl_basjes_yauaa_context_1"
_LINK_CLICK_PREFIX = "unstruct_event_com_snowplowanalytics_snowplow_link_click_1"


def load_snowplow(con: duckdb.DuckDBPyConnection, source: SourceFile, limits: ParseLimits) -> None:
    """Parse one Snowplow enriched-events file into ``_ingest_classified``."""
    headerless = source.container == "tsv" and _is_headerless(source)
    names = list(ENRICHED_TSV_FIELDS) if headerless else None
    columns = read_rows(con, source, limits.max_line_bytes, headerless_names=names)
    if source.container != "parquet" and not columns & SNOWPLOW_KEY_COLUMNS:
        # Its first line was taken as a header but names no Snowplow column: reading on would
        # drop that line unaccounted for (e.g. JSON lines forced with --format snowplow).
        raise ValueError(
            f"{source.path}: not a Snowplow export: its first line names none of "
            f"{', '.join(sorted(SNOWPLOW_KEY_COLUMNS))} (wrong --format? try --format auto)"
        )

    def col(name: str) -> str:
        return f"nullif({_quote(name)}, '')" if name in columns else "NULL"

    def shredded(prefix: str) -> list[str]:
        # Only plain snake_case names from the header ever reach SQL text (quoted).
        found = (c for c in columns if c.startswith(prefix) and _SAFE_NAME.fullmatch(c))
        return sorted(found, reverse=True)

    name = f"coalesce({col('event_name')}, {col('event')})"
    keys = "[" + ", ".join(_literal(k) for k in EVENT_TYPES_BY_NAME) + "]"
    values = "[" + ", ".join(_literal(v) for v in EVENT_TYPES_BY_NAME.values()) + "]"
    event_type = f"coalesce({values}[nullif(list_position({keys}, lower({name})), 0)], 'other')"

    # Loaders write the shredded context as [{"id": ...}] or, nested, as [[{"id": ...}]].
    page_view_ids = [
        json_text(_quote(c), path)
        for c in shredded(_WEB_PAGE_CONTEXT_PREFIX)
        for path in ("$[0].id", "$[0][0].id")
    ]
    page_view_ids.append(_self_describing(col("contexts"), "web_page", "$.data.id"))
    device_classes = [
        json_text(_quote(c), "$[0].deviceClass") for c in shredded(_YAUAA_CONTEXT_PREFIX)
    ]
    device_classes.append(
        _self_describing(col("derived_contexts"), "yauaa_context", "$.data.deviceClass")
    )
    link_elements = []
    for c in shredded(_LINK_CLICK_PREFIX):
        link_elements += [json_text(_quote(c), "$.elementId"), json_text(_quote(c), "$.targetUrl")]
    link_elements += [
        f"CASE WHEN {json_text(col('unstruct_event'), '$.data.schema')} LIKE '%/link_click/%' "
        f"THEN coalesce({json_text(col('unstruct_event'), '$.data.data.elementId')}, "
        f"{json_text(col('unstruct_event'), '$.data.data.targetUrl')}) END"
    ]
    scroll = (
        f"greatest(0, least(100, 100.0 * (TRY_CAST({col('pp_yoffset_max')} AS DOUBLE) "
        f"+ TRY_CAST({col('br_viewheight')} AS DOUBLE)) "
        f"/ nullif(TRY_CAST({col('doc_height')} AS DOUBLE), 0)))"
    )
    fields = {
        "event_id": col("event_id"),
        "ts": f"coalesce({col('derived_tstamp')}, {col('dvce_created_tstamp')}, "
        f"{col('collector_tstamp')})",
        "event_type": event_type,
        "event_name": name,
        "anonymous_id": f"coalesce({col('domain_userid')}, {col('network_userid')})",
        "user_id": col("user_id"),
        "session_id": col("domain_sessionid"),
        "page_url": f"coalesce({col('page_url')}, {col('page_urlpath')})",
        "page_view_id": f"coalesce({', '.join(page_view_ids)})",
        "element": f"CASE WHEN {event_type} = 'click' "
        f"THEN coalesce({', '.join(link_elements)}) END",
        "scroll_depth_pct": f"CASE WHEN {event_type} = 'page_ping' THEN {scroll} END",
        "user_agent": col("useragent"),
        "device_type": f"lower(coalesce({col('dvce_type')}, {', '.join(device_classes)}))",
        "campaign": col("mkt_campaign"),
        "revenue": f"CASE WHEN {event_type} = 'purchase' THEN {col('tr_total')} END",
    }
    append_parsed(con, source, f"SELECT * FROM {ROWS_TABLE}", fields, limits)


def _is_headerless(source: SourceFile) -> bool:
    with source.path.open("rb") as handle:
        first = handle.readline(1_000_000).decode("utf-8", errors="replace").lstrip("\ufeff")
    return not is_header_row(first.rstrip("\r\n").split("\t"))


def _self_describing(column_sql: str, schema_name: str, data_path: str) -> str:
    """SQL for ``data_path`` of the first entity named ``schema_name`` in a contexts JSON."""
    if column_sql == "NULL":
        return "NULL"
    entity = (
        f"list_filter(TRY_CAST(CASE WHEN json_valid({column_sql}) "
        f"THEN json_extract({column_sql}, '$.data') END AS JSON[]), "
        f"lambda e: json_extract_string(e, '$.schema') LIKE '%/{schema_name}/%')[1]"
    )
    return f"json_extract_string({entity}, '{data_path}')"


def json_text(column_sql: str, path: str) -> str:
    """SQL for the text at ``path`` (a code constant) of a JSON column; NULL when not valid JSON."""
    if column_sql == "NULL":
        return "NULL"
    return (
        f"CASE WHEN json_valid({column_sql}) THEN json_extract_string({column_sql}, '{path}') END"
    )


def _quote(identifier: str) -> str:
    """Quote a column name taken from the file's header (validated against the known set)."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
