"""Per-session pointer statistics, computed in DuckDB from ``sessionized_events``.

A pointer event is an event with non-null ``x`` and ``y`` other than a ``page_ping``: heartbeats
are fired by the tracker on a timer, so their timing (and a position they may carry) says
nothing about the visitor. For each session with pointer events this gives:

* ``pointer_events``: their number;
* ``pointer_x_var`` / ``pointer_y_var``: population variance of ``x`` and ``y`` (0 when the
  pointer never moved);
* ``pointer_interval_cv``: coefficient of variation (population std / mean) of the intervals
  between consecutive pointer events, NULL when there are fewer than two intervals or the mean
  interval is 0 (all at one instant: no timing evidence either way).
"""

from __future__ import annotations

POINTER_STATS_SQL = """
WITH pointer_events AS (
    SELECT
        session_id,
        x,
        y,
        (epoch_us(ts) - epoch_us(lag(ts) OVER (PARTITION BY session_id ORDER BY ts, event_seq)))
            / 1e6 AS interval_s
    FROM sessionized_events
    WHERE x IS NOT NULL AND y IS NOT NULL AND event_type <> 'page_ping'
)
SELECT
    session_id,
    count(*) AS pointer_events,
    var_pop(x) AS pointer_x_var,
    var_pop(y) AS pointer_y_var,
    CASE
        WHEN count(interval_s) >= 2 AND avg(interval_s) > 0
        THEN stddev_pop(interval_s) / avg(interval_s)
    END AS pointer_interval_cv
FROM pointer_events
GROUP BY session_id
"""
