"""Per-session pointer statistics: SQL expressions for one ``GROUP BY session_id`` pass.

A pointer event is an event with non-null ``x`` and ``y`` other than a ``page_ping``: heartbeats
are fired by the tracker on a timer, so their timing (and a position they may carry) says
nothing about the visitor. For each session this gives:

* ``pointer_events``: their number (0 without any);
* ``pointer_x_var`` / ``pointer_y_var``: population variance of ``x`` and ``y`` (0 when the
  pointer never moved; NULL without pointer events);
* ``pointer_interval_cv``: coefficient of variation (population std / mean) of the intervals
  between consecutive pointer events, NULL when there are fewer than two intervals or the mean
  interval is 0 (all at one instant: no timing evidence either way).

The intervals come from the ordered list of pointer timestamps per session (one aggregation, no
window function: a window would sort every event again). These expressions are used by
:data:`signal_pipeline.bots.signals.SESSION_SIGNALS_SQL`.
"""

from __future__ import annotations

#: Which rows of ``sessionized_events`` are pointer events.
POINTER_EVENT_SQL = "x IS NOT NULL AND y IS NOT NULL AND event_type <> 'page_ping'"

#: Aggregates over ``sessionized_events`` grouped by session (``pointer_us``: ordered epoch µs).
POINTER_AGGREGATES_SQL = f"""
        count(*) FILTER (WHERE {POINTER_EVENT_SQL}) AS pointer_events,
        var_pop(x) FILTER (WHERE {POINTER_EVENT_SQL}) AS pointer_x_var,
        var_pop(y) FILTER (WHERE {POINTER_EVENT_SQL}) AS pointer_y_var,
        list(epoch_us(ts) ORDER BY ts, event_id) FILTER (WHERE {POINTER_EVENT_SQL})
            AS pointer_us"""

#: ``pointer_interval_cv`` from a list column ``pointer_intervals_s`` of consecutive intervals.
POINTER_INTERVAL_CV_SQL = """
        CASE
            WHEN len(pointer_intervals_s) >= 2 AND list_avg(pointer_intervals_s) > 0
            THEN list_stddev_pop(pointer_intervals_s) / list_avg(pointer_intervals_s)
        END AS pointer_interval_cv"""
