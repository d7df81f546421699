"""Land staged events into the daily-partitioned ``raw_events`` table.

``land_window`` replaces the ``raw_events`` rows of a window of days with the ``staged_events``
rows of the same days. When the window holds every staged row and ``raw_events`` has no row
outside it (the usual run: one ingest pass, then one landing run over its whole day range), the
result is exactly the staged table, so the staged table *becomes* ``raw_events`` (a rename, no
copy) and ``staged_events`` turns into a view that reads through it: every event is written to
disk once. The view is handed back (replaced by a table) by the next ingest pass; while it exists
``staged_events`` and ``raw_events`` hold the same rows, so landing any window is then a no-op
(replace the window's rows by themselves). ``raw_events`` is only ever written here.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from signal_pipeline.schema import RAW_EVENT_COLUMNS_DDL

RAW_TABLE = "raw_events"
STAGED_TABLE = "staged_events"
#: The body of the ``staged_events`` view left behind when the staged table became ``raw_events``.
HANDED_OVER_VIEW_SQL = f"SELECT * FROM {RAW_TABLE}"


def staged_is_handed_over(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``staged_events`` is the view left by a hand-over (its rows are ``raw_events``)."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND view_name = ? "
        "AND schema_name = current_schema() AND database_name = current_database()",
        [STAGED_TABLE],
    ).fetchall()
    return bool(rows[0][0])


def drop_handed_over_view(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the hand-over view so a new ``staged_events`` table can be written (call inside the
    transaction that writes it)."""
    if staged_is_handed_over(con):
        con.execute(f"DROP VIEW {STAGED_TABLE}")


def land_window(
    con: duckdb.DuckDBPyConnection, first: date, end: date, lookback_days: int
) -> dict[str, int]:
    """Replace ``raw_events`` rows of ``[first, end)`` with the staged rows of those days and add
    late staged events of the ``lookback_days`` days before ``first``, in one transaction.

    Returns ``replaced_rows`` (rows removed from the window), ``landed_rows`` (window rows
    written), ``late_events_landed`` (lookback rows added) and ``handed_over`` (1 when the staged
    table became ``raw_events`` without a copy, see the module docstring).
    """
    con.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ({RAW_EVENT_COLUMNS_DDL})")
    window = [first, end]
    con.execute("BEGIN TRANSACTION")
    try:
        if staged_is_handed_over(con):
            counts = _land_handed_over(con, window)
        elif _window_covers_both(con, window):
            counts = _hand_over(con, window)
        else:
            counts = _copy_window(con, first, end, lookback_days)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def staged_day_range(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First and last UTC event date in ``staged_events`` (None when it is empty)."""
    first, last = con.execute(
        f"SELECT min(event_date), max(event_date) FROM {STAGED_TABLE}"
    ).fetchall()[0]
    return None if first is None else (first, last)


def land_staged_days(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Land every staged day, first to last, in one window (what ``signal-pipeline run`` lands;
    usually a hand-over). With nothing staged, ``raw_events`` is only created if missing."""
    days = staged_day_range(con)
    if days is None:
        con.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} ({RAW_EVENT_COLUMNS_DDL})")
        return {"replaced_rows": 0, "landed_rows": 0, "late_events_landed": 0, "handed_over": 0}
    return land_window(con, days[0], days[1] + timedelta(days=1), 0)


def _count_in_window(con: duckdb.DuckDBPyConnection, table: str, window: list[date]) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE event_date >= ? AND event_date < ?"
    return int(con.execute(sql, window).fetchall()[0][0])


def _outside_window(con: duckdb.DuckDBPyConnection, table: str, window: list[date]) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE NOT (event_date >= ? AND event_date < ?))"
    return bool(con.execute(sql, window).fetchall()[0][0])


def _window_covers_both(con: duckdb.DuckDBPyConnection, window: list[date]) -> bool:
    """True when every staged row and every ``raw_events`` row lies in ``window``: the landed
    table is then exactly the staged table (lookback adds nothing: no staged row is earlier)."""
    return not _outside_window(con, STAGED_TABLE, window) and not _outside_window(
        con, RAW_TABLE, window
    )


def _land_handed_over(con: duckdb.DuckDBPyConnection, window: list[date]) -> dict[str, int]:
    """``staged_events`` reads ``raw_events``: the window's rows would replace themselves."""
    rows = _count_in_window(con, RAW_TABLE, window)
    return {"replaced_rows": rows, "landed_rows": rows, "late_events_landed": 0, "handed_over": 0}


def _hand_over(con: duckdb.DuckDBPyConnection, window: list[date]) -> dict[str, int]:
    """The staged table becomes ``raw_events``; ``staged_events`` becomes a view of it."""
    replaced = _count_in_window(con, RAW_TABLE, window)
    landed = int(con.execute(f"SELECT count(*) FROM {STAGED_TABLE}").fetchall()[0][0])
    con.execute(f"DROP TABLE {RAW_TABLE}")
    con.execute(f"ALTER TABLE {STAGED_TABLE} RENAME TO {RAW_TABLE}")
    con.execute(f"CREATE VIEW {STAGED_TABLE} AS {HANDED_OVER_VIEW_SQL}")
    return {
        "replaced_rows": replaced,
        "landed_rows": landed,
        "late_events_landed": 0,
        "handed_over": 1,
    }


def _copy_window(
    con: duckdb.DuckDBPyConnection, first: date, end: date, lookback_days: int
) -> dict[str, int]:
    """Delete the window's ``raw_events`` rows, insert the staged rows of the window, and add
    staged rows of the lookback days whose ``event_id`` is not landed yet."""
    window = [first, end]
    lookback = [first - timedelta(days=lookback_days), first]
    replaced = con.execute(
        f"DELETE FROM {RAW_TABLE} WHERE event_date >= ? AND event_date < ?", window
    ).fetchall()[0][0]
    landed = con.execute(
        f"INSERT INTO {RAW_TABLE} SELECT * FROM {STAGED_TABLE} "
        "WHERE event_date >= ? AND event_date < ?",
        window,
    ).fetchall()[0][0]
    late = 0
    if lookback_days:
        late = con.execute(
            f"""INSERT INTO {RAW_TABLE}
               SELECT s.* FROM {STAGED_TABLE} s
               ANTI JOIN (SELECT event_id FROM {RAW_TABLE}
                          WHERE event_date >= ? AND event_date < ?) r USING (event_id)
               WHERE s.event_date >= ? AND s.event_date < ?""",
            lookback + lookback,
        ).fetchall()[0][0]
    return {
        "replaced_rows": replaced,
        "landed_rows": landed,
        "late_events_landed": late,
        "handed_over": 0,
    }
