"""Per-session bot signals: ``session_metrics`` plus click timing, activity and pointer stats.

Everything is computed in DuckDB in one ``GROUP BY session_id`` pass over ``sessionized_events``
(ordered per-session lists of click and pointer timestamps give the gaps; no window function, so
events are not sorted globally). The only threshold needed at this stage, the rapid-click gap,
is a bound parameter; the rules in :mod:`signal_pipeline.bots.session_rules` apply the others.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from signal_pipeline.bots.pointer_paths import POINTER_AGGREGATES_SQL, POINTER_INTERVAL_CV_SQL
from signal_pipeline.bots.thresholds import BotThresholds


def _consecutive_gaps_s(list_column: str) -> str:
    """SQL: consecutive differences (s) of the ordered epoch-µs list ``list_column``."""
    return (
        f"list_transform(range(1, len({list_column})), "
        f"lambda i: ({list_column}[i + 1] - {list_column}[i]) / 1e6)"
    )


SESSION_SIGNALS_SQL = f"""
WITH per_session AS (
    SELECT
        session_id,
        count(*) FILTER (WHERE event_type NOT IN ('page_ping', 'scroll')) AS active_events,
        list(epoch_us(ts) ORDER BY ts, event_id)
            FILTER (WHERE event_type IN ('click', 'cta_click')) AS click_us,
{POINTER_AGGREGATES_SQL}
    FROM sessionized_events
    GROUP BY session_id
),
intervals AS (
    SELECT
        session_id,
        active_events,
        pointer_events,
        pointer_x_var,
        pointer_y_var,
        {_consecutive_gaps_s("click_us")} AS click_gaps_s,
        {_consecutive_gaps_s("pointer_us")} AS pointer_intervals_s
    FROM per_session
),
signals AS (
    SELECT
        session_id,
        coalesce(len(list_filter(click_gaps_s, lambda g: g < $rapid_click_gap_s)), 0)
            AS rapid_click_pairs,
        active_events,
        pointer_events,
        pointer_x_var,
        pointer_y_var,
{POINTER_INTERVAL_CV_SQL}
    FROM intervals
)
SELECT
    m.*,
    coalesce(s.rapid_click_pairs, 0) AS rapid_click_pairs,
    coalesce(s.active_events, 0) AS active_events,
    coalesce(s.pointer_events, 0) AS pointer_events,
    s.pointer_x_var,
    s.pointer_y_var,
    s.pointer_interval_cv
FROM session_metrics AS m
LEFT JOIN signals AS s USING (session_id)
ORDER BY m.session_id
"""


def session_signals(con: duckdb.DuckDBPyConnection, thresholds: BotThresholds) -> pd.DataFrame:
    """Every ``session_metrics`` row with the extra signals the bot rules read.

    Added columns: ``rapid_click_pairs`` (consecutive click/cta_click pairs closer than
    ``thresholds.rapid_click_gap_s``), ``active_events`` (events other than page_ping/scroll),
    ``pointer_events``, ``pointer_x_var``, ``pointer_y_var``, ``pointer_interval_cv`` (see
    :mod:`signal_pipeline.bots.pointer_paths`). One row per session, ordered by ``session_id``.
    """
    return con.execute(
        SESSION_SIGNALS_SQL, {"rapid_click_gap_s": float(thresholds.rapid_click_gap_s)}
    ).df()
