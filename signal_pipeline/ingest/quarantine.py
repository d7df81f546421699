"""Judge every parsed line: the one quarantine reason it gets (first failing check), or none.

Checks in order: the parse reasons (``oversize_line``, ``invalid_utf8``, ``invalid_json``,
``not_an_object``), then ``missing_event_id``, ``missing_identity``, ``unparseable_timestamp``,
``timestamp_in_future``, ``timestamp_before_start``, ``unknown_event_type``,
``value_out_of_range``. ``conflicting_duplicate`` is decided later, among valid lines
(:mod:`signal_pipeline.ingest.staging`).
"""

from __future__ import annotations

from datetime import date, datetime

from signal_pipeline.ingest.schema import EVENT_TYPES, PAGE_TYPES
from signal_pipeline.ingest.timestamps import parse_timestamp_sql

REASONS: tuple[str, ...] = (
    "invalid_json",
    "not_an_object",
    "missing_event_id",
    "missing_identity",
    "unparseable_timestamp",
    "timestamp_in_future",
    "timestamp_before_start",
    "unknown_event_type",
    "value_out_of_range",
    "oversize_line",
    "invalid_utf8",
    "conflicting_duplicate",
)

CLASSIFIED_TABLE = "_ingest_classified"

#: Longest believable hover: one day (no hover outlasts the 24 h session cap).
MAX_HOVER_MS = 86_400_000.0
#: Largest believable revenue of one purchase event.
MAX_REVENUE = 1e12

# (field, lower bound, upper bound); None = unbounded. The upper bounds also keep every value
# inside the exact DECIMAL sums of the SQL models (deterministic, order-independent totals).
VALUE_RANGES: tuple[tuple[str, float | None, float | None], ...] = (
    ("hover_ms", 0.0, MAX_HOVER_MS),
    ("scroll_depth_pct", 0.0, 100.0),
    ("x", 0.0, 1.0),
    ("y", 0.0, 1.0),
    ("revenue", 0.0, MAX_REVENUE),
)


def _range_problem_sql(field: str, low: float | None, high: float | None) -> str:
    number = f"{field}_num"
    checks = []
    if low is not None:
        checks.append(f"{number} < {low!r}")
    if high is not None:
        checks.append(f"{number} > {high!r}")
    if low is not None and high is not None:
        allowed = f"{low:g}–{high:g}"
    else:
        allowed = f">= {low:g}" if low is not None else f"<= {high:g}"
    return f"""CASE
        WHEN {field} IS NOT NULL AND ({number} IS NULL OR NOT isfinite({number}))
            THEN '{field}=' || {field} || ' is not a finite number'
        WHEN {" OR ".join(checks)} THEN '{field}=' || {field} || ' outside {allowed}'
    END"""


def classify_sql(base_sql: str) -> str:
    """SELECT judging every row of ``base_sql`` (parsed columns, see ``PARSED_COLUMNS``) in one
    pass: ``file_no, source_line, reason, detail`` and the typed staged columns (``ts`` UTC,
    numbers as DOUBLE, ``page_type`` only when the event gives a known one). ``detail`` is built
    only for failing rows. Needs the parameters of :func:`classify_params`.

    Membership tests use ``list_position``, not ``list_contains`` / ``IN``: DuckDB rewrites the
    latter into a hash join, which loses the row order the typed JSON-lines path numbers lines by
    (:mod:`signal_pipeline.ingest.typed_json_lines` checks the plan).
    """
    numbers = ", ".join(
        f"TRY_CAST(trim({field}) AS DOUBLE) AS {field}_num" for field, _, _ in VALUE_RANGES
    )
    range_problem = "coalesce(" + ", ".join(_range_problem_sql(*r) for r in VALUE_RANGES) + ")"
    return f"""
        WITH typed AS (
            SELECT *,
                   {parse_timestamp_sql("ts")} AS ts_utc,
                   lower(trim(event_type)) AS event_type_norm,
                   nullif(trim(event_id), '') IS NULL AS no_event_id,
                   nullif(trim(anonymous_id), '') IS NULL AND nullif(trim(user_id), '') IS NULL
                       AS no_identity,
                   {numbers}
            FROM ({base_sql})
        ),
        judged AS (
            SELECT *,
                   CASE
                       WHEN parse_reason IS NOT NULL THEN parse_reason
                       WHEN no_event_id THEN 'missing_event_id'
                       WHEN no_identity THEN 'missing_identity'
                       WHEN ts_utc IS NULL THEN 'unparseable_timestamp'
                       WHEN ts_utc > $future_limit THEN 'timestamp_in_future'
                       WHEN ts_utc < $earliest THEN 'timestamp_before_start'
                       WHEN list_position($event_types, event_type_norm) IS NULL
                           THEN 'unknown_event_type'
                       WHEN {range_problem} IS NOT NULL THEN 'value_out_of_range'
                   END AS reason
            FROM typed
        )
        SELECT file_no, source_line, reason,
            CASE
                WHEN reason IS NULL THEN NULL
                WHEN parse_reason IS NOT NULL THEN parse_detail
                WHEN no_event_id THEN 'event_id missing or empty'
                WHEN no_identity THEN 'neither anonymous_id nor user_id is set'
                WHEN ts_utc IS NULL THEN 'ts=' || coalesce(ts, '(missing)') || ' is not a timestamp'
                WHEN ts_utc > $future_limit
                    THEN 'ts=' || ts || ' is after '
                         || strftime($future_limit, '%Y-%m-%dT%H:%M:%SZ')
                WHEN ts_utc < $earliest
                    THEN 'ts=' || ts || ' is before ' || strftime($earliest, '%Y-%m-%d')
                WHEN list_position($event_types, event_type_norm) IS NULL
                    THEN 'event_type=' || coalesce(event_type, '(missing)') || ' is not one of '
                         || array_to_string($event_types, ', ')
                ELSE {range_problem}
            END AS detail,
            event_id,
            ts_utc AS ts,
            CAST(ts_utc AS DATE) AS event_date,
            event_type_norm AS event_type,
            CASE WHEN event_type_norm = 'other' THEN coalesce(event_name, 'other')
                 ELSE event_name END AS event_name,
            CASE WHEN trim(anonymous_id) <> '' THEN anonymous_id END AS anonymous_id,
            CASE WHEN trim(user_id) <> '' THEN user_id END AS user_id,
            CASE WHEN trim(session_id) <> '' THEN session_id END AS session_id,
            page_url,
            CASE WHEN list_position($page_types, lower(trim(page_type))) IS NOT NULL
                 THEN lower(trim(page_type)) END AS page_type,
            page_view_id,
            element,
            scroll_depth_pct_num AS scroll_depth_pct,
            hover_ms_num AS hover_ms,
            x_num AS x,
            y_num AS y,
            user_agent,
            lower(trim(device_type)) AS device_type,
            campaign,
            experiment,
            variant,
            revenue_num AS revenue
        FROM judged
    """


def classify_params(*, future_limit: datetime, earliest: date) -> dict[str, object]:
    """Parameters of :func:`classify_sql`; the bounds are naive UTC."""
    return {
        "future_limit": future_limit,
        "earliest": earliest,
        "event_types": list(EVENT_TYPES),
        "page_types": list(PAGE_TYPES),
    }
