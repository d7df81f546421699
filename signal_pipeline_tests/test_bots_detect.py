"""flag_bot_sessions on small hand-made ``sessionized_events`` / ``session_metrics`` tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from signal_pipeline.bots import BotThresholds, flag_bot_sessions, session_signals
from signal_pipeline.bots.signals import SESSION_SIGNALS_SQL

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36"
)
START = datetime(2024, 3, 1, 12, 0, 0)

# Event = (seconds after start, event_type, element, page_url, x, y)
Event = tuple[float, str, str | None, str, float | None, float | None]


def human_reader() -> list[Event]:
    return [
        (0.0, "page_view", None, "/home", None, None),
        (4.0, "scroll", None, "/home", None, None),
        (9.5, "hover", "nav_pricing", "/home", 0.61, 0.08),
        (12.0, "click", "nav_pricing", "/pricing", 0.62, 0.09),
        (12.4, "page_view", None, "/pricing", None, None),
        (22.4, "page_ping", None, "/pricing", 0.4, 0.4),
        (31.0, "hover", "pricing_table", "/pricing", 0.35, 0.55),
        (32.4, "page_ping", None, "/pricing", 0.4, 0.4),
        (49.0, "cta_click", "cta", "/pricing", 0.71, 0.81),
        (51.0, "page_view", None, "/checkout", None, None),
        (58.5, "click", "plan_pro", "/checkout", 0.22, 0.47),
    ]


def double_click_reader() -> list[Event]:
    """A human who double-clicks once to select a word."""
    return [
        *human_reader(),
        (70.0, "click", "spec_text", "/checkout", 0.30, 0.60),
        (70.15, "click", "spec_text", "/checkout", 0.30, 0.60),
    ]


def bounce() -> list[Event]:
    return [(0.0, "page_view", None, "/home", None, None)]


def page_flipper() -> list[Event]:
    """Five page views in four seconds: short_session."""
    return [(i * 1.0, "page_view", None, f"/p{i}", None, None) for i in range(5)]


def rapid_clicker() -> list[Event]:
    """Bursts of clicks 0.1 s apart, slow enough overall (5 per second) for click_rate."""
    events = human_reader()
    for burst in range(3):
        t0 = 100.0 + burst * 10
        for k in range(2):
            x = 0.1 + 0.2 * burst + 0.01 * k
            events.append((t0 + 0.1 * k, "click", f"b{burst}", "/checkout", x, 0.3 + 0.1 * k))
    return events


def hammer() -> list[Event]:
    """Twelve clicks on one button, three seconds apart with human-like jitter."""
    events: list[Event] = [(0.0, "page_view", None, "/pricing", None, None)]
    offsets = [3.1, 5.2, 9.8, 11.0, 16.4, 18.1, 24.9, 26.2, 30.3, 37.7, 39.0, 45.5]
    for k, t in enumerate(offsets):
        events.append((t, "click", "buy", "/pricing", 0.5 + 0.013 * (k % 3), 0.7 - 0.01 * k))
    return events


def statue() -> list[Event]:
    """Pointer events that never move (same x/y), at irregular times."""
    events: list[Event] = [(0.0, "page_view", None, "/home", None, None)]
    for k, t in enumerate([5.0, 7.5, 19.0, 23.0, 41.0, 44.0]):
        events.append((t, "hover", f"el{k}", "/home", 0.5, 0.5))
    return events


def metronome() -> list[Event]:
    """Pointer events every 2.000 s exactly, moving around."""
    events: list[Event] = [(0.0, "page_view", None, "/home", None, None)]
    for k in range(8):
        events.append((3.0 + 2.0 * k, "hover", f"el{k}", "/home", 0.1 * k, 0.9 - 0.1 * k))
    return events


def burst_bot() -> list[Event]:
    """Forty clicks in two seconds."""
    events: list[Event] = [(0.0, "page_view", None, "/pricing", None, None)]
    events += [(1.0 + 0.05 * k, "click", "cta", "/pricing", 0.5, 0.5) for k in range(40)]
    return events


SESSIONS: dict[str, tuple[list[Event], str]] = {
    "h_reader": (human_reader(), CHROME),
    "h_double_click": (double_click_reader(), CHROME),
    "h_bounce": (bounce(), CHROME),
    "b_short_session": (page_flipper(), CHROME),
    "b_rapid_clicks": (rapid_clicker(), CHROME),
    "b_few_interactions": (hammer(), CHROME),
    "b_crawler": (
        human_reader(),
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    ),
    "b_pointer_still": (statue(), CHROME),
    "b_pointer_regular": (metronome(), CHROME),
    "b_burst": (burst_bot(), CHROME),
}
EXPECTED_REASONS = {
    "h_reader": [],
    "h_double_click": [],
    "h_bounce": [],
    "b_short_session": ["short_session"],
    "b_rapid_clicks": ["rapid_clicks"],
    "b_few_interactions": ["few_interactions"],
    "b_crawler": ["crawler_user_agent"],
    "b_pointer_still": ["unnatural_pointer"],
    "b_pointer_regular": ["unnatural_pointer"],
    "b_burst": [
        "short_session",
        "click_rate",
        "rapid_clicks",
        "few_interactions",
        "unnatural_pointer",
    ],
}

# A stand-in for the session_metrics SQL other engineers write: only the contract columns the
# bot rules read, computed the simplest way.
SESSION_METRICS_SQL = """
CREATE TABLE session_metrics AS
WITH per_second AS (
    SELECT session_id, max(n) AS max_clicks_per_second
    FROM (
        SELECT session_id, date_trunc('second', ts) AS second, count(*) AS n
        FROM sessionized_events WHERE event_type IN ('click', 'cta_click')
        GROUP BY ALL
    )
    GROUP BY session_id
)
SELECT
    e.session_id,
    any_value(person_id) AS person_id,
    min(ts) AS session_start,
    max(ts) AS session_end,
    (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 AS session_duration_s,
    count(*) AS event_count,
    count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
    count(*) FILTER (WHERE event_type IN ('click', 'cta_click')) AS clicks,
    coalesce(any_value(p.max_clicks_per_second), 0) AS max_clicks_per_second,
    count(DISTINCT (event_type, element, page_url)) FILTER (WHERE event_type <> 'page_ping')
        AS distinct_interactions,
    any_value(user_agent) AS user_agent
FROM sessionized_events AS e
LEFT JOIN per_second AS p USING (session_id)
GROUP BY e.session_id
"""


def build_tables(
    con: duckdb.DuckDBPyConnection, sessions: dict[str, tuple[list[Event], str]]
) -> None:
    rows: list[dict[str, Any]] = []
    for session_id, (events, user_agent) in sessions.items():
        for seq, (t, event_type, element, page_url, x, y) in enumerate(sorted(events), start=1):
            rows.append(
                {
                    "event_id": f"{session_id}-{seq}",
                    "ts": START + timedelta(seconds=t),
                    "event_type": event_type,
                    "element": element,
                    "page_url": page_url,
                    "x": x,
                    "y": y,
                    "user_agent": user_agent,
                    "session_id": session_id,
                    "person_id": f"p-{session_id}",
                    "event_seq": seq,
                }
            )
    events_frame = pd.DataFrame(rows).astype({"x": "float64", "y": "float64"})
    con.register("events_frame", events_frame)
    con.execute(
        "CREATE TABLE sessionized_events AS SELECT event_id, ts::TIMESTAMP AS ts, event_type, "
        "element, page_url, x, y, user_agent, session_id, person_id, event_seq::BIGINT AS "
        "event_seq FROM events_frame"
    )
    con.unregister("events_frame")
    con.execute(SESSION_METRICS_SQL)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "bots.duckdb"))
    build_tables(connection, SESSIONS)
    yield connection
    connection.close()


@pytest.fixture
def flags(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return flag_bot_sessions(con, BotThresholds())


def test_every_session_gets_the_expected_reasons(flags: pd.DataFrame) -> None:
    reasons = dict(zip(flags["session_id"], flags["bot_reasons"], strict=True))
    assert reasons == EXPECTED_REASONS
    is_bot = dict(zip(flags["session_id"], flags["is_bot"], strict=True))
    assert is_bot == {sid: bool(r) for sid, r in EXPECTED_REASONS.items()}


def test_one_row_per_session_nothing_deleted_and_typed(
    con: duckdb.DuckDBPyConnection, flags: pd.DataFrame
) -> None:
    metrics_ids = {r[0] for r in con.execute("SELECT session_id FROM session_metrics").fetchall()}
    assert list(flags.columns) == ["session_id", "is_bot", "bot_reasons", "anomaly_score"]
    assert set(flags["session_id"]) == metrics_ids and flags["session_id"].is_unique
    assert flags["is_bot"].dtype == np.bool_
    assert all(isinstance(r, list) for r in flags["bot_reasons"])
    assert con.execute("SELECT count(*) FROM sessionized_events").fetchone()[0] == sum(
        len(events) for events, _ in SESSIONS.values()
    )


def test_anomaly_score_is_stored_for_every_session_and_reproducible(
    con: duckdb.DuckDBPyConnection, flags: pd.DataFrame
) -> None:
    scores = flags.set_index("session_id")["anomaly_score"]
    assert scores.notna().all() and np.isfinite(scores).all()
    assert ((scores > 0) & (scores <= 1)).all()
    assert scores["b_burst"] > scores[["h_reader", "h_double_click"]].max()
    again = flag_bot_sessions(con, BotThresholds())
    assert np.array_equal(again["anomaly_score"].to_numpy(), flags["anomaly_score"].to_numpy())


def test_anomaly_rule_is_off_by_default_and_can_be_switched_on(
    con: duckdb.DuckDBPyConnection, flags: pd.DataFrame
) -> None:
    assert not any("behavioural_anomaly" in r for r in flags["bot_reasons"])
    with_rule = flag_bot_sessions(
        con, BotThresholds(anomaly_rule=True, anomaly_contamination=0.1)
    ).set_index("session_id")
    anomalous = [sid for sid, r in with_rule["bot_reasons"].items() if "behavioural_anomaly" in r]
    assert len(anomalous) == 1
    assert with_rule.loc[anomalous[0], "anomaly_score"] == with_rule["anomaly_score"].max()


def test_a_single_session_gets_the_neutral_score(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "one.duckdb"))
    build_tables(connection, {"only": (human_reader(), CHROME)})
    result = flag_bot_sessions(connection, BotThresholds())
    connection.close()
    assert result["anomaly_score"].tolist() == [0.5]
    assert result["bot_reasons"].tolist() == [[]]


def test_signals_computed_in_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    signals = session_signals(con, BotThresholds()).set_index("session_id")
    assert signals.loc["h_double_click", "rapid_click_pairs"] == 1
    assert signals.loc["b_rapid_clicks", "rapid_click_pairs"] == 3
    assert signals.loc["b_burst", "rapid_click_pairs"] == 39
    assert signals.loc["h_bounce", "rapid_click_pairs"] == 0
    # page_pings carry x/y here but are not pointer events
    assert signals.loc["h_reader", "pointer_events"] == 5
    assert signals.loc["b_pointer_still", "pointer_x_var"] == 0.0
    assert signals.loc["b_pointer_regular", "pointer_interval_cv"] == pytest.approx(0.0, abs=1e-9)
    assert pd.isna(signals.loc["h_bounce", "pointer_interval_cv"])
    assert signals.loc["b_few_interactions", "active_events"] == 13
    assert signals.loc["h_reader", "active_events"] == 8  # 11 events - 2 pings - 1 scroll


def test_rapid_click_gap_is_a_bound_parameter(con: duckdb.DuckDBPyConnection) -> None:
    assert "$rapid_click_gap_s" in SESSION_SIGNALS_SQL
    tighter = BotThresholds(rapid_click_gap_s=0.08)
    signals = session_signals(con, tighter).set_index("session_id")
    assert signals.loc["b_rapid_clicks", "rapid_click_pairs"] == 0
    assert signals.loc["b_burst", "rapid_click_pairs"] == 39
    reasons = flag_bot_sessions(con, tighter).set_index("session_id")["bot_reasons"]
    assert reasons["b_rapid_clicks"] == []


def test_threshold_changes_change_outcomes(con: duckdb.DuckDBPyConnection) -> None:
    base = BotThresholds()
    strict_pairs = dataclasses.replace(base, rapid_click_min_pairs=1)
    literal_short = dataclasses.replace(base, short_session_min_page_views=1)
    no_crawler = dataclasses.replace(base, crawler_user_agent=False)
    by_config = {
        name: flag_bot_sessions(con, t).set_index("session_id")["bot_reasons"]
        for name, t in [("pairs", strict_pairs), ("short", literal_short), ("ua", no_crawler)]
    }
    assert by_config["pairs"]["h_double_click"] == ["rapid_clicks"]
    assert by_config["short"]["h_bounce"] == ["short_session"]
    assert by_config["ua"]["b_crawler"] == []


def test_bot_reasons_land_in_duckdb_as_a_varchar_list(
    con: duckdb.DuckDBPyConnection, flags: pd.DataFrame
) -> None:
    humans_only = flags[~flags["is_bot"]]
    for frame in (flags, humans_only):
        con.register("flags_frame", frame)
        relation = con.sql("SELECT * FROM flags_frame")
        types = dict(zip(relation.columns, relation.types, strict=True))
        con.unregister("flags_frame")
        assert str(types["bot_reasons"]) == "VARCHAR[]"
        assert str(types["is_bot"]) == "BOOLEAN"
