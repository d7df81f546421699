"""Per-session bot signals: ``session_metrics`` plus click timing, activity and pointer stats.

Everything is computed in DuckDB. The only threshold needed at this stage, the rapid-click gap,
is a bound parameter; the rules in :mod:`signal_pipeline.bots.session_rules` apply the others.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from signal_pipeline.bots.pointer_paths import POINTER_STATS_SQL
from signal_pipeline.bots.thresholds import BotThresholds

SESSION_SIGNALS_SQL = f"""
WITH click_gaps AS (
    SELECT
        session_id,
        (epoch_us(ts) - epoch_us(lag(ts) OVER (PARTITION BY session_id ORDER BY ts, event_seq)))
            / 1e6 AS gap_s
    FROM sessionized_events
    WHERE event_type IN ('click', 'cta_click')
),
click_stats AS (
    SELECT session_id, count(*) FILTER (WHERE gap_s < $rapid_click_gap_s) AS rapid_click_pairs
    FROM click_gaps
    GROUP BY session_id
),
activity AS (
    SELECT
        session_id,
        count(*) FILTER (WHERE event_type NOT IN ('page_ping', 'scroll')) AS active_events
    FROM sessionized_events
    GROUP BY session_id
),
pointer_stats AS ({POINTER_STATS_SQL})
SELECT
    m.*,
    coalesce(c.rapid_click_pairs, 0) AS rapid_click_pairs,
    coalesce(a.active_events, 0) AS active_events,
    coalesce(p.pointer_events, 0) AS pointer_events,
    p.pointer_x_var,
    p.pointer_y_var,
    p.pointer_interval_cv
FROM session_metrics AS m
LEFT JOIN click_stats AS c USING (session_id)
LEFT JOIN activity AS a USING (session_id)
LEFT JOIN pointer_stats AS p USING (session_id)
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
