"""The request query: validate a batch of request bodies and compute their features in ONE
statement, prepared once per connection (so DuckDB binds and optimises it once).

Input: three list parameters, ``$live_lines`` (every line of every request, split by the ingest
line rule), ``$live_keys`` (``request << 32 | line number``) and ``$live_future_limit`` (one
timestamp: now + the tolerance). The statement, all CTEs:

1. ``_ingest_lines`` / ``_live_judged``: the ingest per-line parser and judge
   (:func:`signal_pipeline.ingest.request_lines.judged_lines_sql`, the rules and quarantine
   reasons of :func:`ingest_files`), all requests as one "file" whose line numbers carry the
   request number in their high bits;
2. ``_live_requests``: per request, its lines, rejected lines and repeated event ids. A request
   is *clean* when every line is valid and no event id repeats (ingest would land exactly its
   lines); it is *eligible* when it is clean and shares no identifier (event, anonymous, user,
   session or page-view id) with an earlier clean request of the batch, so that the SQL models,
   which group by those ids, compute each eligible request exactly as if it were alone;
3. ``raw_events``: the eligible requests' judged lines in the ``raw_events`` columns, page types
   derived by the ingest rules (:func:`signal_pipeline.ingest.request_lines.page_types_sql`);
4. the SQL models' chain to ``session_features`` and the bot signals (:mod:`.feature_query`),
   with ``model_params`` as a CTE of constants;
5. one row per (request, session): the request's verdict columns (``_live_*``), then the
   ``session_features`` columns and ``bot_signal__*`` columns (NULL for a request not scored).

Why constants are inlined: DuckDB keeps a prepared plan only when the statement reads no table
(a table scan re-binds at every execution) and when every parameter sits where it can be typed
once; the ingest SQL uses some parameters (time bounds, byte limits, type lists) where DuckDB
would re-plan on every execution. So every parameter that is a setting or a code constant (never
request data) is rendered as a typed SQL literal (:func:`sql_literal`), the time bound is read
from a one-row CTE, and request data only ever arrives in the three list parameters.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from datetime import date, datetime

from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.ingest import IngestSettings
from signal_pipeline.ingest.lines import LINES_TABLE
from signal_pipeline.ingest.request_lines import judged_lines_sql, page_types_sql
from signal_pipeline.ingest.schema import STAGED_EVENT_COLUMNS
from signal_pipeline.realtime.feature_query import (
    PROVIDED_TABLES,
    SIGNALS_CTE,
    TARGET_MODEL,
    LiveQueryError,
    chain_ctes,
    signal_columns_sql,
    with_clause,
)
from signal_pipeline.sql_models import ModelParams, SqlModel, load_models
from signal_pipeline.sql_models.runner import quote_identifier

REQUEST_SHIFT = 32
"""A line key is ``request << REQUEST_SHIFT | line``; lines per request stay below 2**32."""
MAX_LINES_PER_REQUEST = 2**REQUEST_SHIFT - 1
SOURCE_FILE = "request"
#: The list parameters carrying the batch, with their SQL types.
DYNAMIC_PARAMS: dict[str, str] = {
    "live_lines": "VARCHAR[]",
    "live_keys": "BIGINT[]",
    "live_future_limit": "TIMESTAMP[]",
}
#: Verdict columns of each output row (one per request, repeated on its session rows).
REQUEST_COLUMNS = (
    "_live_request",
    "_live_lines",
    "_live_rejected",
    "_live_repeated_ids",
    "_live_eligible",
    "_live_min_ts",
    "_live_max_ts",
    "_live_event_dates",
)
_ID_COLUMNS = ("event_id", "anonymous_id", "user_id", "session_id", "page_view_id")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def sql_literal(value: object) -> str:
    """A typed SQL literal for a setting or code constant (never request data): bool, int,
    finite float, str, date, naive datetime, or a non-empty list of one of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"CAST({value:d} AS BIGINT)"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LiveQueryError(f"cannot inline the non-finite constant {value!r}")
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        if "\x00" in value:
            raise LiveQueryError("cannot inline a constant holding a NUL character")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise LiveQueryError("time constants must be naive UTC")
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple) and value:
        return "[" + ", ".join(sql_literal(item) for item in value) + "]"
    raise LiveQueryError(f"cannot inline the constant {value!r}")


def inline_constants(sql: str, constants: dict[str, object]) -> str:
    """``sql`` with every ``$name`` of ``constants`` replaced by its literal."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"({sql_literal(constants[name])})" if name in constants else match.group(0)

    return _PARAM.sub(replace, sql)


def request_batch_sql(
    *,
    ingest: IngestSettings,
    params: ModelParams,
    thresholds: BotThresholds,
    models: dict[str, SqlModel] | None = None,
) -> str:
    """The request query (see the module docstring); its only parameters are
    :data:`DYNAMIC_PARAMS`. Raises :class:`LiveQueryError` when the SQL models cannot be
    composed or use a parameter this module does not know."""
    models = models if models is not None else load_models(external_tables=PROVIDED_TABLES)
    placeholder_limit = datetime(2000, 1, 1)  # replaced by the _live_clock CTE below
    judged_sql, judged_params = judged_lines_sql(
        max_line_bytes=ingest.max_line_bytes,
        future_limit=placeholder_limit,
        earliest=ingest.earliest,
    )
    judged_params.pop("future_limit")
    judged_sql = re.sub(r"\$future_limit\b", "(SELECT future_limit FROM _live_clock)", judged_sql)
    judged_params["file_no"] = 1
    page_sql, page_params = page_types_sql("_live_untyped_urls", ingest.page_type_rules)
    mask = (1 << REQUEST_SHIFT) - 1
    # One branch per id column (a lateral unnest over a list of them costs a correlated join).
    ids = "\n                UNION ALL ".join(
        f"SELECT request, {name} AS id FROM _live_lines" for name in _ID_COLUMNS
    )
    staged = []
    for name, _ in STAGED_EVENT_COLUMNS:
        staged.append(
            {
                "page_type": "coalesce(l.page_type, p.page_type, 'other') AS page_type",
                "source_format": "'native' AS source_format",
                "source_file": f"'{SOURCE_FILE}' AS source_file",
                "source_line": "l.line_no AS source_line",
            }.get(name, f"l.{name}")
        )
    input_ctes: list[tuple[str, str]] = [
        (
            "_live_input",
            "SELECT unnest($live_lines::VARCHAR[]) AS line, unnest($live_keys::BIGINT[]) AS n",
        ),
        (
            "_live_clock",
            "SELECT max(t) AS future_limit FROM "
            "(SELECT unnest($live_future_limit::TIMESTAMP[]) AS t)",
        ),
        (LINES_TABLE, "SELECT 1 AS file_no, n, line, false AS bad_utf8 FROM _live_input"),
        ("_live_judged", judged_sql),
        (
            "_live_lines",
            f"SELECT *, source_line >> {REQUEST_SHIFT} AS request, source_line & {mask} AS line_no "
            "FROM _live_judged",
        ),
        (
            "_live_requests",
            """SELECT request, count(*) AS n_lines,
                      count(*) FILTER (WHERE reason IS NOT NULL) AS n_rejected,
                      count(*) FILTER (WHERE reason IS NULL)
                          - count(DISTINCT event_id) FILTER (WHERE reason IS NULL) AS n_repeated,
                      min(ts) FILTER (WHERE reason IS NULL) AS min_ts,
                      max(ts) FILTER (WHERE reason IS NULL) AS max_ts,
                      list(DISTINCT event_date ORDER BY event_date)
                          FILTER (WHERE reason IS NULL) AS event_dates
               FROM _live_lines GROUP BY request""",
        ),
        (
            "_live_ids",
            f"""SELECT DISTINCT request, id
                FROM ({ids}) AS i
                WHERE id IS NOT NULL AND request IN (
                    SELECT request FROM _live_requests WHERE n_rejected = 0 AND n_repeated = 0)""",
        ),
        (
            "_live_eligible",
            """SELECT request FROM _live_requests
               WHERE n_rejected = 0 AND n_repeated = 0 AND request NOT IN (
                   SELECT a.request FROM _live_ids AS a
                   JOIN _live_ids AS b ON a.id = b.id AND b.request < a.request)""",
        ),
        (
            "_live_untyped_urls",
            "SELECT page_url FROM _live_lines WHERE reason IS NULL AND page_type IS NULL",
        ),
        ("_live_page_types", page_sql),
    ]
    events_sql = f"""SELECT {", ".join(staged)}
        FROM _live_lines AS l
        LEFT JOIN _live_page_types AS p ON l.page_url = p.page_url
        WHERE l.reason IS NULL AND l.request IN (SELECT request FROM _live_eligible)"""
    model_params = ", ".join(
        f"{sql_literal(float(value))} AS {quote_identifier(name)}"
        for name, value in asdict(params).items()
    )
    constant_params = {"model_params": (f"SELECT {model_params}", set[str]())}
    chain = chain_ctes(models, events_sql, extra=constant_params)
    session_requests = (
        "_live_session_requests",
        """SELECT s.session_id, min(l.request) AS request
           FROM sessionized_events AS s
           JOIN _live_lines AS l ON s.event_id = l.event_id AND l.reason IS NULL
           WHERE l.request IN (SELECT request FROM _live_eligible)
           GROUP BY s.session_id""",
    )
    verdict = ", ".join(
        f"{expr} AS {name}"
        for expr, name in zip(
            (
                "q.request",
                "q.n_lines",
                "q.n_rejected",
                "q.n_repeated",
                "e.request IS NOT NULL",
                "q.min_ts",
                "q.max_ts",
                "q.event_dates",
            ),
            REQUEST_COLUMNS,
            strict=True,
        )
    )
    sql = (
        f"{with_clause([*input_ctes, *chain, session_requests])}\n"
        f"SELECT {verdict}, f.*, {signal_columns_sql('s')}\n"
        "FROM _live_requests AS q\n"
        "LEFT JOIN _live_eligible AS e ON q.request = e.request\n"
        "LEFT JOIN _live_session_requests AS r ON q.request = r.request\n"
        f"LEFT JOIN {quote_identifier(TARGET_MODEL)} AS f ON r.session_id = f.session_id\n"
        f"LEFT JOIN {SIGNALS_CTE} AS s ON f.session_id = s.session_id\n"
        "ORDER BY q.request, f.session_id"
    )
    constants = {**judged_params, **page_params, "rapid_click_gap_s": thresholds.rapid_click_gap_s}
    sql = inline_constants(sql, constants)
    unknown = set(_PARAM.findall(sql)) - set(DYNAMIC_PARAMS)
    if unknown:
        raise LiveQueryError(f"the live query uses parameters it cannot bind: {sorted(unknown)}")
    return sql
