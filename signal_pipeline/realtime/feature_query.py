"""The live feature query: the SQL models from raw events to ``session_features`` as one query.

There is one definition of every feature, the ``.sql`` files in ``dbt_like_sql/``. For live
scoring they are not copied or re-implemented: the chain of models that ``session_features``
depends on (found from the catalog's parsed dependencies, so a redesigned chain keeps working) is
composed into a single ``WITH`` query, each model's own SQL as one CTE named after its table, over
a relation ``live_events`` holding the request's events in the ``raw_events`` columns.

Bot flags: ``session_bot_flags`` is a Python asset (rules + IsolationForest over all sessions).
Live, every session is scored: its CTE marks every session human (``is_bot = false``), so no
session is dropped by ``validated_sessions``; the bot rules' input signals
(:data:`signal_pipeline.bots.signals.SESSION_SIGNALS_SQL`, the pipeline's own query) are
returned beside the features so the caller can apply the rules of
:mod:`signal_pipeline.bots.session_rules` (their one definition) and report ``bot_reasons``.
The IsolationForest score is not computed live (it is fitted on a whole batch).
"""

from __future__ import annotations

from graphlib import TopologicalSorter

from signal_pipeline.bots.detect import BOT_FLAG_COLUMNS
from signal_pipeline.bots.session_rules import SIGNAL_COLUMNS
from signal_pipeline.bots.signals import SESSION_SIGNALS_SQL
from signal_pipeline.sql_models import SqlModel, load_models
from signal_pipeline.sql_models.runner import quote_identifier

TARGET_MODEL = "session_features"
EVENTS_TABLE = "raw_events"
BOT_FLAGS_TABLE = "session_bot_flags"
METRICS_TABLE = "session_metrics"
EVENTS_RELATION = "live_events"
SIGNALS_CTE = "_live_bot_signals"
SIGNAL_PREFIX = "bot_signal__"
#: The SQL models the bot signals query (SESSION_SIGNALS_SQL) reads.
SIGNAL_SOURCES = (METRICS_TABLE, "sessionized_events")
#: Tables the live query provides itself; any other non-model input is an error.
PROVIDED_TABLES = (EVENTS_TABLE, BOT_FLAGS_TABLE)

_ALL_HUMAN_FLAGS_SQL = (
    f"SELECT session_id, false AS {BOT_FLAG_COLUMNS[1]}, "
    f"CAST([] AS VARCHAR[]) AS {BOT_FLAG_COLUMNS[2]}, "
    f"CAST(NULL AS DOUBLE) AS {BOT_FLAG_COLUMNS[3]} FROM {METRICS_TABLE}"
)


class LiveQueryError(ValueError):
    """The SQL models cannot be composed into a live query (the message says why)."""


def _model_body(model: SqlModel) -> str:
    """The model's SELECT, safe to wrap in parentheses (a trailing ``;`` removed)."""
    body = model.sql.rstrip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return body


def chain_to(models: dict[str, SqlModel], target: str, *also: str) -> list[str]:
    """The models ``target`` (and each of ``also``) depends on, themselves included, in
    dependency order."""
    for name in (target, *also):
        if name not in models:
            raise LiveQueryError(f"no SQL model named {name!r}")
    needed: set[str] = set()
    stack = [target, *also]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        for upstream in models[name].upstream:
            if upstream in models:
                stack.append(upstream)
            elif upstream not in PROVIDED_TABLES:
                raise LiveQueryError(
                    f"{models[name].path.name} reads {upstream!r}, which the live query cannot "
                    f"provide (only {', '.join(PROVIDED_TABLES)} and SQL models)"
                )
    return [name for name in models if name in needed]


def chain_ctes(
    models: dict[str, SqlModel],
    events_sql: str,
    extra: dict[str, tuple[str, set[str]]] | None = None,
) -> list[tuple[str, str]]:
    """``(name, SELECT)`` of every CTE of the live query, in dependency order: ``raw_events`` as
    ``events_sql``, the all-human ``session_bot_flags``, each model of the chain to
    ``session_features`` (its own SQL) and the bot signals ``_live_bot_signals``. ``extra`` adds
    CTEs ``name -> (SELECT, names it reads)`` (for example a ``model_params`` from constants)."""
    # The bot signals read sessionized_events (and session_metrics) besides the feature chain.
    chain = chain_to(models, TARGET_MODEL, *SIGNAL_SOURCES)
    if METRICS_TABLE not in chain:
        raise LiveQueryError(f"the live query needs {METRICS_TABLE} in the chain of {TARGET_MODEL}")
    bodies = {name: _model_body(models[name]) for name in chain}
    bodies[EVENTS_TABLE] = events_sql
    bodies[BOT_FLAGS_TABLE] = _ALL_HUMAN_FLAGS_SQL
    bodies[SIGNALS_CTE] = SESSION_SIGNALS_SQL.strip()
    graph: dict[str, set[str]] = {name: set(models[name].upstream) for name in chain}
    graph[EVENTS_TABLE] = set()
    graph[BOT_FLAGS_TABLE] = {METRICS_TABLE}
    graph[SIGNALS_CTE] = set(SIGNAL_SOURCES)
    for name, (sql, reads) in (extra or {}).items():
        bodies[name] = sql
        graph[name] = set(reads)
        for model in chain:  # models read runtime tables (model_params) the catalog leaves out
            graph[model].add(name)
    order = [name for name in TopologicalSorter(graph).static_order() if name in bodies]
    return [(name, bodies[name]) for name in order]


def with_clause(ctes: list[tuple[str, str]]) -> str:
    """``WITH name AS (SELECT ...), ...`` of ``ctes`` (names from code, quoted)."""
    return "WITH " + ",\n".join(f"{quote_identifier(name)} AS (\n{body}\n)" for name, body in ctes)


def signal_columns_sql(alias: str) -> str:
    """The bot-signal columns of the CTE ``alias``, as ``bot_signal__<signal>``."""
    return ", ".join(
        f"{alias}.{quote_identifier(c)} AS {quote_identifier(SIGNAL_PREFIX + c)}"
        for c in SIGNAL_COLUMNS
    )


def live_feature_sql(models: dict[str, SqlModel] | None = None) -> str:
    """One query: ``session_features`` columns plus ``bot_signal__<signal>`` columns per session.

    Reads the relation ``live_events`` (``raw_events`` columns) and the temp table
    ``model_params``; binds ``$rapid_click_gap_s``. Rows are ordered by ``session_id``.
    """
    models = models if models is not None else load_models(external_tables=PROVIDED_TABLES)
    ctes = chain_ctes(models, f"SELECT * FROM {EVENTS_RELATION}")
    return (
        f"{with_clause(ctes)}\n"
        f"SELECT f.*, {signal_columns_sql('s')}\n"
        f"FROM {quote_identifier(TARGET_MODEL)} AS f\n"
        f"LEFT JOIN {SIGNALS_CTE} AS s ON f.session_id = s.session_id\n"
        "ORDER BY f.session_id"
    )
