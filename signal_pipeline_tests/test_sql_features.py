"""SQL models, behaviour: page_views, session_metrics, sessions and session_features by hand.

Same fixture as ``test_sql_sessionization.py`` (``fixtures/sql/events.csv``). Times below are
seconds from the session's first event. Every expected feature value is computed in the comments
and written as the arithmetic it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from signal_pipeline.db import connect
from signal_pipeline.sql_models import build_models, load_models
from signal_pipeline_tests.test_sql_sessionization import (
    BOT_SESSIONS,
    C1,
    C2,
    D0,
    D1,
    EXTERNAL_TABLES,
    HUMAN_SESSIONS,
    build_fixture_db,
    land_bot_flags,
    land_fixture_events,
)

FEATURES = [
    "total_session_time_s",
    "page_views",
    "dwell_specs_s",
    "dwell_pricing_s",
    "dwell_comparison_s",
    "mean_dwell_per_page_s",
    "evaluation_dwell_s",
    "max_scroll_depth_pct",
    "mean_scroll_depth_pct",
    "mean_scroll_velocity_pct_per_s",
    "clicks",
    "click_frequency_per_min",
    "min_click_gap_s",
    "hover_ms_total",
    "hover_density_ms_per_min",
    "pricing_hover_density_ms_per_min",
    "comparison_views",
    "cta_clicks",
    "cta_ctr",
    "distinct_interactions",
    "video_plays",
    "form_interactions",
    "is_bounce",
    "converted",
    "revenue",
    "urgency_score",
    "engagement_depth_index",
]

ZERO_FEATURES: dict[str, Any] = {
    name: 0 for name in FEATURES if name not in {"is_bounce", "converted", "min_click_gap_s"}
} | {"is_bounce": False, "converted": False, "min_click_gap_s": None}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = build_fixture_db(tmp_path_factory.mktemp("sql") / "signal.duckdb")
    yield con
    con.close()


def row_dict(con: duckdb.DuckDBPyConnection, table: str, key: str, value: str) -> dict[str, Any]:
    """The one row of ``table`` where ``key`` = ``value``, as a dict (identifiers from code)."""
    cursor = con.execute(f"SELECT * FROM {table} WHERE {key} = ?", [value])
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    assert len(found) == 1, f"{table}: {len(found)} rows for {key}={value}"
    return dict(zip(names, found[0], strict=True))


def assert_features(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every feature of ``FEATURES`` equals ``expected`` (floats to 1e-9, NULL stays NULL)."""
    assert set(expected) == set(FEATURES)
    for name in FEATURES:
        want, have = expected[name], got[name]
        if want is None or isinstance(want, bool):
            assert have is want, f"{name}: {have!r} != {want!r}"
        else:
            assert have == pytest.approx(want, rel=1e-9, abs=1e-12), f"{name}: {have} != {want}"


def test_page_views_of_the_rich_session(db: duckdb.DuckDBPyConnection) -> None:
    got = db.execute(
        "SELECT page_view_key, page_type, started_at, dwell_s, engaged_s, max_scroll_depth_pct, "
        "scroll_velocity_pct_per_s, hovers, hover_ms, clicks, cta_clicks, page_view_index "
        "FROM page_views WHERE session_id = 'sA' ORDER BY started_at"
    ).fetchall()
    assert got == [
        # pvA1 t=0: dwell to pvA2 (t=60) = 60. Pings at 23:58:55, 23:59:05, 23:59:08: 10-s
        # buckets {..:50, 59:00} = 2 -> 10 * (2 - 1) + 5 = 15 s. Depth readings in order
        # 20 (t10), 60 (t30), 50 (t35), 70 (t45): |40| + |10| + |20| = 70 pct over 45 - 10 = 35 s
        # -> 2.0 pct/s; max 70. One hover (1500 ms), one click (a05).
        (
            "pvA1",
            "specs",
            datetime(2024, 3, 9, 23, 58, 20),
            60.0,
            15.0,
            70.0,
            2.0,
            1,
            1500.0,
            1,
            0,
            1,
        ),
        # a09 (no page_view_id: keyed by its event_id) t=60 -> pvA3 t=100: 40 s; no pings, no
        # depth; hover 2000 ms; clicks a11 (cta), a12, a13 = 3, one of them a CTA.
        (
            "a09",
            "pricing",
            datetime(2024, 3, 9, 23, 59, 20),
            40.0,
            0.0,
            None,
            None,
            1,
            2000.0,
            3,
            1,
            2,
        ),
        # pvA3 t=100 (midnight) -> pvA4 t=170: 70 s; hover 500 ms.
        (
            "pvA3",
            "comparison",
            datetime(2024, 3, 10, 0, 0, 0),
            70.0,
            0.0,
            None,
            None,
            1,
            500.0,
            0,
            0,
            3,
        ),
        # pvA4 t=170, the last page view: to its last event (purchases at t=190) = 20 s.
        (
            "pvA4",
            "checkout",
            datetime(2024, 3, 10, 0, 1, 10),
            20.0,
            0.0,
            None,
            None,
            0,
            0.0,
            0,
            0,
            4,
        ),
    ]


def test_rich_session_across_midnight(db: duckdb.DuckDBPyConnection) -> None:
    got = row_dict(db, "session_features", "session_id", "sA")
    session_time = 190.0  # 23:58:20 -> 00:01:30
    dwell_total = 60.0 + 40.0 + 70.0 + 20.0  # = 190
    clicks = 4  # a05 click, a11 cta_click, a12 click, a13 click
    click_frequency = clicks / (session_time / 60)
    evaluation_dwell = (60.0 + 40.0 + 70.0) / 3  # specs, pricing, comparison page views
    velocity = 2.0  # only pvA1 has depth readings
    comparison_views = 1  # a15
    assert_features(
        got,
        {
            "total_session_time_s": session_time,
            "page_views": 4,
            "dwell_specs_s": 60.0,
            "dwell_pricing_s": 40.0,
            "dwell_comparison_s": 70.0,
            "mean_dwell_per_page_s": dwell_total / 4,
            "evaluation_dwell_s": evaluation_dwell,
            "max_scroll_depth_pct": 70.0,
            "mean_scroll_depth_pct": (70.0 + 0 + 0 + 0) / 4,  # no depth on a page counts as 0
            "mean_scroll_velocity_pct_per_s": velocity,
            "clicks": clicks,
            "click_frequency_per_min": click_frequency,
            "min_click_gap_s": 0.4,  # a12 (t=75.5) -> a13 (t=75.9)
            "hover_ms_total": 1500.0 + 2000.0 + 500.0,
            "hover_density_ms_per_min": 4000.0 / (dwell_total / 60),
            # a10 is on a pricing page (2000 ms); a16's element 'cta_main' is a CTA (500 ms);
            # a03 'spec_table' on a specs page is neither.
            "pricing_hover_density_ms_per_min": 2500.0 / (dwell_total / 60),
            "comparison_views": comparison_views,
            "cta_clicks": 1,
            "cta_ctr": 1 / 4,
            # (scroll, -, pvA1) twice, (hover, spec_table, pvA1), (click, tab_1, pvA1),
            # (hover, pricing_table, a09), (cta_click, cta_buy, a09), (click, faq, a09) twice,
            # (comparison_view, compare_widget, pvA3), (hover, cta_main, pvA3),
            # (video_play, demo, pvA3), (form_interaction, email, pvA3), (add_to_cart, add, pvA3),
            # (purchase, -, pvA4) twice -> 12 distinct.
            "distinct_interactions": 12,
            "video_plays": 1,
            "form_interactions": 1,
            "is_bounce": False,
            "converted": True,
            "revenue": 99.5 + 0.5,
            "urgency_score": (
                0.4 * evaluation_dwell
                + 0.3 * click_frequency
                + 0.2 * comparison_views
                - 0.1 * velocity
            )
            / 30,  # = 0.76818... (inside [0, 1], not clamped)
            "engagement_depth_index": (60.0 + 70.0) / session_time,
        },
    )
    # Identity and context: the session starts on 9 March (UTC); campaign is the first non-null
    # value (a09 'spring'), not the first event's (NULL).
    assert (got["session_start"], got["session_date"]) == (
        datetime(2024, 3, 9, 23, 58, 20),
        date(2024, 3, 9),
    )
    assert (got["person_id"], got["device_type"], got["campaign"]) == ("dA", "desktop", "spring")
    assert (got["experiment"], got["variant"]) == ("exp1", "B")


def test_rich_session_metrics(db: duckdb.DuckDBPyConnection) -> None:
    got = row_dict(db, "session_metrics", "session_id", "sA")
    assert got["session_duration_s"] == 190.0
    assert got["event_count"] == 22
    assert got["session_end"] == datetime(2024, 3, 10, 0, 1, 30)
    # Clicks at t=30, 75, 75.5, 75.9: the last three lie within 0.9 s -> 3 per second.
    assert got["max_clicks_per_second"] == 3
    assert got["min_click_gap_s"] == pytest.approx(0.4)
    assert (got["anonymous_id"], got["user_id"]) == ("dA", None)
    assert got["user_agent"] == "Mozilla/5.0 (fixture)"
    assert got["engaged_s"] == 15.0  # only pvA1 has pings
    assert got["purchases"] == 2
    assert got["session_split_index"] == 0


def test_one_event_session(db: duckdb.DuckDBPyConnection) -> None:
    # sB: a single page view. Zero time, zero dwell: every rate is 0 (not NaN); a bounce.
    got = row_dict(db, "session_features", "session_id", "sB")
    assert_features(got, ZERO_FEATURES | {"page_views": 1, "is_bounce": True})


def test_derived_session_with_exact_gap(db: duckdb.DuckDBPyConnection) -> None:
    # C1 = c01 page view (home) 08:00, c02 click 08:10, c03 page view (product) 08:40.
    # Time 2400 s; dwell home = 2400 (to c03), product = 0 (its last event is itself).
    got = row_dict(db, "session_features", "session_id", C1)
    click_frequency = 1 / (2400.0 / 60)  # 0.025 per min
    assert_features(
        got,
        ZERO_FEATURES
        | {
            "total_session_time_s": 2400.0,
            "page_views": 2,
            "mean_dwell_per_page_s": 2400.0 / 2,
            "clicks": 1,
            "click_frequency_per_min": click_frequency,
            "distinct_interactions": 1,  # (click, nav, c01)
            "urgency_score": 0.3 * click_frequency / 30,
        },
    )


def test_derived_session_after_gap_no_clicks(db: duckdb.DuckDBPyConnection) -> None:
    # C2 = c04 page view (specs) 09:10:01, scrolls to 40 (t=10) and 90 (t=20).
    # Velocity |90 - 40| / 10 s = 5 pct/s. All time is specs dwell: depth index 20 / 20 = 1.
    got = row_dict(db, "session_features", "session_id", C2)
    assert_features(
        got,
        ZERO_FEATURES
        | {
            "total_session_time_s": 20.0,
            "page_views": 1,
            "dwell_specs_s": 20.0,
            "mean_dwell_per_page_s": 20.0,
            "evaluation_dwell_s": 20.0,
            "max_scroll_depth_pct": 90.0,
            "mean_scroll_depth_pct": 90.0,
            "mean_scroll_velocity_pct_per_s": 5.0,
            "distinct_interactions": 1,  # (scroll, -, c04): a scroll is an interaction
            "urgency_score": (0.4 * 20.0 - 0.1 * 5.0) / 30,  # = 0.25
            "engagement_depth_index": 1.0,
        },
    )


def fixture_db_with(
    path: Path, source: str, events: list[dict[str, Any]]
) -> duckdb.DuckDBPyConnection:
    """The fixture plus ``events`` (each a dict of ``raw_events`` columns; ``ts`` required,
    ``event_date`` is its date), every SQL model built on them; the open connection."""
    con = connect(path)
    land_fixture_events(con)
    land_bot_flags(con)
    for line, event in enumerate(events):
        row = event | {
            "event_date": event["ts"].date(),
            "source_format": "test",
            "source_file": source,
            "source_line": line,
        }
        columns = ", ".join(row)  # column names come from the test code
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO raw_events ({columns}) VALUES ({marks})", list(row.values()))
    build_models(con, load_models(external_tables=EXTERNAL_TABLES))
    return con


def tie_session_velocity(path: Path, tie_ids: tuple[str, str]) -> float:
    """Scroll velocity of a page view whose middle readings share one timestamp: t0 depth 10,
    t10 depth 80 (id ``tie_ids[0]``) and depth 30 (id ``tie_ids[1]``), t20 depth 50."""
    start = datetime(2024, 3, 12, 9, 0, 0)
    readings = [
        ("t0", "page_view", 0, None),
        ("t1", "scroll", 0, 10.0),
        (tie_ids[0], "scroll", 10, 80.0),
        (tie_ids[1], "scroll", 10, 30.0),
        ("t9", "scroll", 20, 50.0),
    ]
    events = [
        {
            "event_id": event_id,
            "ts": start + timedelta(seconds=seconds),
            "event_type": event_type,
            "anonymous_id": "dT",
            "session_id": "sT",
            "page_view_id": "pvT",
            "page_type": "specs",
            "scroll_depth_pct": depth,
        }
        for event_id, event_type, seconds, depth in readings
    ]
    con = fixture_db_with(path / "tie.duckdb", "tie", events)
    row = con.execute(
        "SELECT scroll_velocity_pct_per_s FROM page_views WHERE page_view_key = 'pvT'"
    ).fetchone()
    con.close()
    assert row is not None
    return float(row[0])


def test_scroll_readings_sharing_a_timestamp_are_ordered_by_depth(tmp_path: Path) -> None:
    # Ordered by (ts, depth): 10, 30, 80, 50 -> |20| + |50| + |30| = 100 pct over 20 s = 5.0
    # pct/s, whatever the event ids (by id the path 10, 80, 30, 50 would give 140 / 20 = 7.0).
    assert tie_session_velocity(tmp_path / "a", ("t2", "t3")) == pytest.approx(5.0)
    assert tie_session_velocity(tmp_path / "b", ("t3", "t2")) == pytest.approx(5.0)


def test_interactions_outside_page_views_are_distinct_among_themselves(tmp_path: Path) -> None:
    # sQ: a click before its first page view (no page view named), its page view pvQ with a
    # click and a hover on 'nav', and two stray clicks naming sA's page view pvA1.
    start = datetime(2024, 3, 12, 10, 0, 0)
    clicks = [
        ("q0", "click", 0, None, "nav"),
        ("q1", "page_view", 10, "pvQ", None),
        ("q2", "click", 15, "pvQ", "nav"),
        ("q3", "click", 16, "pvA1", "buy"),
        ("q4", "click", 17, "pvA1", "nav"),
        ("q5", "hover", 18, "pvQ", "nav"),
    ]
    events = [
        {
            "event_id": event_id,
            "ts": start + timedelta(seconds=seconds),
            "event_type": event_type,
            "anonymous_id": "dQ",
            "session_id": "sQ",
            "page_view_id": page_view_id,
            "page_type": "specs",
            "element": element,
        }
        for event_id, event_type, seconds, page_view_id, element in clicks
    ]
    con = fixture_db_with(tmp_path / "interactions.duckdb", "q", events)
    page_view = con.execute(
        "SELECT distinct_interactions FROM page_views WHERE page_view_key = 'pvQ'"
    ).fetchone()
    session = con.execute(
        "SELECT distinct_interactions, stray_events FROM session_metrics WHERE session_id = 'sQ'"
    ).fetchone()
    con.close()
    # pvQ owns (click, nav) and (hover, nav): 2. Outside sQ's page views: q0 (click, nav), q3
    # (click, buy), q4 (click, nav) -> 2 distinct pairs. 2 + 2 = 4; q3 and q4 are strays.
    assert page_view == (2,)
    assert session == (4, 2)


def test_ping_without_page_view(db: duckdb.DuckDBPyConnection) -> None:
    # sF: a ping with no page view (f01) and a stray ping (f02, pvA1 is sA's). No page view,
    # so no dwell and no scroll (f02's depth 30 belongs to no page view); 10 s of session time.
    got = row_dict(db, "session_features", "session_id", "sF")
    assert_features(got, ZERO_FEATURES | {"total_session_time_s": 10.0})


def test_bots_and_unscored_sessions_are_not_features(db: duckdb.DuckDBPyConnection) -> None:
    bot = row_dict(db, "sessions", "session_id", "sG")
    assert (bot["is_bot"], bot["bot_reasons"], bot["anomaly_score"]) == (True, ["too_fast"], 0.9)
    # dD's sessions are missing from session_bot_flags: they fail closed.
    for session_id in (D0, D1):
        unscored = row_dict(db, "sessions", "session_id", session_id)
        assert (unscored["is_bot"], unscored["bot_reasons"]) == (True, ["unscored"])
        assert unscored["anomaly_score"] is None
    human = row_dict(db, "sessions", "session_id", "sB")
    assert (human["is_bot"], human["bot_reasons"]) == (False, [])
    featured = {r[0] for r in db.execute("SELECT session_id FROM session_features").fetchall()}
    assert featured == {*HUMAN_SESSIONS, C1, C2}
    assert not featured & {*BOT_SESSIONS, D0, D1}
    validated = db.execute("SELECT count(*) FROM validated_sessions").fetchone()
    assert validated == (len(featured),)


def test_bot_click_burst_metrics(db: duckdb.DuckDBPyConnection) -> None:
    # sG: clicks at 11:00:00.1 and 11:00:00.2 -> 2 within a second, 0.1 s apart.
    got = row_dict(db, "session_metrics", "session_id", "sG")
    assert got["max_clicks_per_second"] == 2
    assert got["min_click_gap_s"] == pytest.approx(0.1)


def test_one_row_per_session_everywhere(db: duckdb.DuckDBPyConnection) -> None:
    sessions = db.execute("SELECT count(DISTINCT session_id) FROM sessionized_events").fetchone()
    for table in ("session_metrics", "sessions"):
        counts = db.execute(f"SELECT count(*), count(DISTINCT session_id) FROM {table}").fetchone()
        assert counts == (sessions[0], sessions[0]), table
    pages = db.execute("SELECT count(*), count(DISTINCT page_view_key) FROM page_views").fetchone()
    assert pages[0] == pages[1]


def test_no_nan_or_infinity_anywhere(db: duckdb.DuckDBPyConnection) -> None:
    for table in ("page_views", "session_metrics", "session_features"):
        cursor = db.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        for record in cursor.fetchall():
            for name, value in zip(names, record, strict=True):
                if isinstance(value, float):
                    assert math.isfinite(value), f"{table}.{name} = {value}"


def test_scores_are_in_unit_interval(db: duckdb.DuckDBPyConnection) -> None:
    bounds = db.execute(
        "SELECT min(urgency_score), max(urgency_score), min(engagement_depth_index), "
        "max(engagement_depth_index), count(*) FILTER (WHERE urgency_score IS NULL "
        "OR engagement_depth_index IS NULL) FROM session_features"
    ).fetchone()
    assert bounds is not None
    assert 0.0 <= bounds[0] <= bounds[1] <= 1.0
    assert 0.0 <= bounds[2] <= bounds[3] <= 1.0
    assert bounds[4] == 0
