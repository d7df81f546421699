"""SQL models, identity and sessions: identity_map and sessionized_events on hand-made events.

The fixture (``fixtures/sql/events.csv``, described in its README) is landed as ``raw_events``
with rows out of order; every expected value below is worked out by hand in the comments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from signal_pipeline.db import connect
from signal_pipeline.sql_models import ModelParams, build_models, load_models

FIXTURE_CSV = Path(__file__).parent / "fixtures" / "sql" / "events.csv"
EXTERNAL_TABLES = ["raw_events", "session_bot_flags"]

#: Sessions the (fake) bot detector scored as human; sG is a bot; dD's sessions stay unscored.
HUMAN_SESSIONS = ["sA", "sB", "sE1", "sE2", "sE3", "sX1", "sX2", "sX3", "sU", "sF"]
BOT_SESSIONS = ["sG"]

CAP_START = datetime(2024, 3, 11, 0, 0, 0)
CAP_STEP = timedelta(minutes=25)
CAP_EVENTS = 61  # d00 .. d60: every 25 min from CAP_START, i.e. 25 h


def derived_session_id(identity: str, first_event_id: str) -> str:
    """The documented derived id: md5(identity | first event_id)."""
    return hashlib.md5(f"{identity}|{first_event_id}".encode()).hexdigest()


C1 = derived_session_id("dC", "c01")
C2 = derived_session_id("dC", "c04")
D0 = derived_session_id("dD", "d00")
D1 = D0 + "#cap1"


def land_fixture_events(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``raw_events`` (contract columns) from the fixture CSV plus the generated cap run."""
    con.execute(
        """
        CREATE TABLE raw_events AS
        SELECT
            event_id,
            CAST(ts AS TIMESTAMP) AS ts,
            CAST(CAST(ts AS TIMESTAMP) AS DATE) AS event_date,
            event_type,
            CAST(NULL AS VARCHAR) AS event_name,
            anonymous_id,
            user_id,
            session_id,
            page_url,
            page_type,
            page_view_id,
            element,
            CAST(scroll_depth_pct AS DOUBLE) AS scroll_depth_pct,
            CAST(hover_ms AS DOUBLE) AS hover_ms,
            CAST(NULL AS DOUBLE) AS x,
            CAST(NULL AS DOUBLE) AS y,
            'Mozilla/5.0 (fixture)' AS user_agent,
            device_type,
            campaign,
            experiment,
            variant,
            CAST(revenue AS DOUBLE) AS revenue,
            'csv' AS source_format,
            'events.csv' AS source_file,
            CAST(row_number() OVER () AS BIGINT) AS source_line
        FROM read_csv(?, all_varchar = true, header = true)
        """,
        [str(FIXTURE_CSV)],
    )
    # The 24 h cap: one page view then 'other' events every 25 min, no session_id (derived),
    # inserted newest first.
    for k in reversed(range(CAP_EVENTS)):
        ts = CAP_START + k * CAP_STEP
        con.execute(
            """
            INSERT INTO raw_events (event_id, ts, event_date, event_type, anonymous_id,
                                    page_url, page_type, source_format, source_file, source_line)
            VALUES (?, ?, CAST(? AS DATE), ?, 'dD', '/', 'home', 'test', 'generated', ?)
            """,
            [f"d{k:02d}", ts, ts, "page_view" if k == 0 else "other", k],
        )


def land_bot_flags(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``session_bot_flags``: the human and bot verdicts of the fixture (dD unscored)."""
    con.execute(
        "CREATE TABLE session_bot_flags (session_id VARCHAR, is_bot BOOLEAN, "
        "bot_reasons VARCHAR[], anomaly_score DOUBLE)"
    )
    for session_id in [*HUMAN_SESSIONS, C1, C2]:
        con.execute("INSERT INTO session_bot_flags VALUES (?, false, [], 0.1)", [session_id])
    for session_id in BOT_SESSIONS:
        con.execute(
            "INSERT INTO session_bot_flags VALUES (?, true, ['too_fast'], 0.9)", [session_id]
        )


def build_fixture_db(path: Path, params: ModelParams | None = None) -> duckdb.DuckDBPyConnection:
    """Land the fixture, build every SQL model, return the open connection."""
    con = connect(path)
    land_fixture_events(con)
    land_bot_flags(con)
    build_models(con, load_models(external_tables=EXTERNAL_TABLES), params=params)
    return con


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = build_fixture_db(tmp_path_factory.mktemp("sql") / "signal.duckdb")
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def test_identity_map_links_devices_to_their_first_user(db: duckdb.DuckDBPyConnection) -> None:
    # dE1: e02 carries u1.  dE2: first seen logged in on e04 (u1) -> both devices are person u1.
    # dE3: u3 at 07:00 (x4) before u2 at 08:00 (x3) -> u3.
    # dE4: u5 (x1) and u4 (x2) at the same instant -> smaller event_id x1 -> u5.
    # Devices never logged in map to themselves; the user-only event (u01) has no anonymous id.
    got = dict(rows(db, "SELECT anonymous_id, person_id FROM identity_map"))
    assert got == {
        "dA": "dA",
        "dB": "dB",
        "dC": "dC",
        "dD": "dD",
        "dE1": "u1",
        "dE2": "u1",
        "dE3": "u3",
        "dE4": "u5",
        "dF": "dF",
        "dG": "dG",
    }


def test_stitched_devices_share_one_person(db: duckdb.DuckDBPyConnection) -> None:
    got = dict(
        rows(db, "SELECT session_id, min(person_id) FROM sessionized_events GROUP BY session_id")
    )
    # sE2 never logged in but its device dE2 did (in sE3): person u1, like dE1's session sE1.
    assert got["sE1"] == got["sE2"] == got["sE3"] == "u1"
    assert got["sU"] == "u9"  # user_id only
    assert got["sA"] == "dA"  # never logged in: the device is the person
    # A device seen with two users belongs to its first: every event of dE3 is person u3.
    assert got["sX1"] == got["sX2"] == "u3"


def test_every_event_lands_once(db: duckdb.DuckDBPyConnection) -> None:
    raw = rows(db, "SELECT count(*) FROM raw_events")[0][0]
    assert raw == 43 + CAP_EVENTS  # 43 CSV rows + the generated cap run
    assert rows(db, "SELECT count(*), count(DISTINCT event_id) FROM sessionized_events")[0] == (
        raw,
        raw,
    )


def test_event_seq_orders_by_time_then_event_id(db: duckdb.DuckDBPyConnection) -> None:
    # Input rows of sA are shuffled; a04/a05 share 23:58:50 and a21/a22 share 00:01:30.
    got = rows(
        db,
        "SELECT event_id, event_seq FROM sessionized_events WHERE session_id = 'sA' "
        "ORDER BY event_seq",
    )
    assert got == [(f"a{i:02d}", i) for i in range(1, 23)]


def test_derived_sessions_split_on_more_than_the_gap(db: duckdb.DuckDBPyConnection) -> None:
    # c02 08:10:00 -> c03 08:40:00 is exactly 1800 s: same session.
    # c03 08:40:00 -> c04 09:10:01 is 1801 s > 1800 s: new session, id md5('dC|c04').
    got = rows(
        db,
        "SELECT event_id, session_id, event_seq, session_id_is_derived, session_split_index "
        "FROM sessionized_events WHERE anonymous_id = 'dC' ORDER BY ts",
    )
    assert got == [
        ("c01", C1, 1, True, 0),
        ("c02", C1, 2, True, 0),
        ("c03", C1, 3, True, 0),
        ("c04", C2, 1, True, 0),
        ("c05", C2, 2, True, 0),
        ("c06", C2, 3, True, 0),
    ]


def test_given_session_ids_are_kept(db: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        db,
        "SELECT DISTINCT session_id, session_id_is_derived FROM sessionized_events "
        "WHERE anonymous_id = 'dA'",
    )
    assert got == [("sA", False)]


def test_sessions_longer_than_the_cap_are_split(db: duckdb.DuckDBPyConnection) -> None:
    # d00..d60 every 25 min, never a 30 min gap. Split index = floor(25 min * k / 24 h):
    # k <= 57 (1425 min) -> piece 0; k = 58, 59, 60 (1450, 1475, 1500 min) -> piece 1, which
    # restarts event_seq at 1 and, having no page view of its own, has no page_view_key.
    got = rows(
        db,
        "SELECT event_id, session_id, event_seq, session_split_index, page_view_key "
        "FROM sessionized_events WHERE anonymous_id = 'dD' ORDER BY ts",
    )
    assert len(got) == CAP_EVENTS
    assert got[0] == ("d00", D0, 1, 0, "d00")  # a page view without page_view_id: key = event_id
    assert got[57] == ("d57", D0, 58, 0, "d00")
    assert got[58:] == [
        ("d58", D1, 1, 1, None),
        ("d59", D1, 2, 1, None),
        ("d60", D1, 3, 1, None),
    ]
    splits = rows(
        db,
        "SELECT session_id, session_split_index FROM session_metrics "
        "WHERE anonymous_id = 'dD' ORDER BY session_split_index",
    )
    assert splits == [(D0, 0), (D1, 1)]


def test_page_view_key_given_derived_and_before_first_page_view(
    db: duckdb.DuckDBPyConnection,
) -> None:
    got = dict(
        rows(
            db,
            "SELECT event_id, page_view_key FROM sessionized_events "
            "WHERE session_id IN ('sA', 'sF') OR anonymous_id = 'dC'",
        )
    )
    # pvA1's events carry page_view_id; a09 (page view without id) keys itself and a10..a13
    # follow it; a14 has id pvA3 and a15..a19 (no id) follow it; a20 = pvA4, a21/a22 follow.
    expected = {f"a{i:02d}": "pvA1" for i in range(1, 9)}
    expected |= {f"a{i:02d}": "a09" for i in range(9, 14)}
    expected |= {f"a{i:02d}": "pvA3" for i in range(14, 20)}
    expected |= {"a20": "pvA4", "a21": "pvA4", "a22": "pvA4"}
    # dC: derived sessions, no ids: each event follows the latest page view of its session.
    expected |= {"c01": "c01", "c02": "c01", "c03": "c03", "c04": "c04", "c05": "c04"}
    expected |= {"c06": "c04"}
    # sF: a ping with no page view at all, and a stray ping naming sA's page view pvA1.
    expected |= {"f01": None, "f02": None}
    assert got == expected


def test_stray_events_are_flagged_not_attributed(db: duckdb.DuckDBPyConnection) -> None:
    got = rows(db, "SELECT event_id FROM sessionized_events WHERE is_stray_event ORDER BY 1")
    assert got == [("f02",)]
    # The stray ping did not add a heartbeat bucket to pvA1 (still 2 buckets -> 15 s).
    assert rows(db, "SELECT engaged_s FROM page_views WHERE page_view_key = 'pvA1'") == [(15.0,)]
    # ... but it is an event of its own session.
    assert rows(
        db, "SELECT event_count, page_views FROM session_metrics WHERE session_id = 'sF'"
    ) == [(2, 0)]


def test_sessionized_events_has_the_contract_columns_first(db: duckdb.DuckDBPyConnection) -> None:
    columns = [r[0] for r in rows(db, "SELECT column_name FROM (DESCRIBE sessionized_events)")]
    raw = [r[0] for r in rows(db, "SELECT column_name FROM (DESCRIBE raw_events)")]
    assert columns[: len(raw)] == raw
    assert columns[len(raw) : len(raw) + 3] == ["person_id", "event_seq", "page_view_key"]


def test_smaller_gap_parameter_splits_more(tmp_path: Path) -> None:
    # With a 10 min gap, dC's 10 min (c01->c02, 600 s, not > 600) stays together but the 30 min
    # gap c02->c03 now splits: three sessions for dC.
    con = build_fixture_db(tmp_path / "gap.duckdb", ModelParams(session_gap_s=600.0))
    try:
        got = rows(
            con,
            "SELECT count(DISTINCT session_id) FROM sessionized_events WHERE anonymous_id = 'dC'",
        )
        assert got == [(3,)]
    finally:
        con.close()
