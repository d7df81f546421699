"""SQL models against the Snowplow web model's own fixture (dbt-snowplow-web 0.15.2).

Only one page view of the fixture has engaged time: 45 s = 10 * (5 distinct 10-s ping buckets - 1)
+ 5. Two more pings name that page view from other sessions (...9140d, ...9140e) and one ping in
session 0b5d... names a page view of session 4d34...: Snowplow drops them from engaged time
("stray page pings"), and so must we.

The mapping below is deliberately minimal and lives here; the real Snowplow ingest is
``signal_pipeline.ingest``'s job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from signal_pipeline.db import connect
from signal_pipeline.sql_models import build_models, load_models

SNOWPLOW = Path("/work/shared/fixtures/snowplow")
EVENTS_CSV = SNOWPLOW / "source" / "snowplow_web_events.csv"
PAGE_VIEWS_CSV = SNOWPLOW / "expected" / "snowplow_web_page_views_expected.csv"
ENGAGED_PAGE_VIEW = "6fca8d0b-eea3-47dc-be1e-299dadbd1fcb"

pytestmark = pytest.mark.skipif(not EVENTS_CSV.exists(), reason="Snowplow fixture not present")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(tmp_path_factory.mktemp("snowplow") / "signal.duckdb")
    # Snowplow atomic events -> contract columns. user_id is left NULL: in this fixture it holds
    # test-case labels ("No edge cases", ...), which would stitch unrelated devices. Exact
    # duplicate event_ids keep the earliest collector_tstamp (the contract's de-duplication).
    con.execute(
        """
        CREATE TABLE raw_events AS
        WITH events AS (
            SELECT
                *,
                row_number() OVER (
                    PARTITION BY event_id ORDER BY collector_tstamp
                ) AS copy_number
            FROM read_csv(?, all_varchar = true, header = true)
        )
        SELECT
            event_id,
            CAST(derived_tstamp AS TIMESTAMP) AS ts,
            CAST(CAST(derived_tstamp AS TIMESTAMP) AS DATE) AS event_date,
            CASE event_name
                WHEN 'page_view' THEN 'page_view'
                WHEN 'page_ping' THEN 'page_ping'
                WHEN 'link_click' THEN 'click'
                ELSE 'other'
            END AS event_type,
            event_name,
            domain_userid AS anonymous_id,
            CAST(NULL AS VARCHAR) AS user_id,
            domain_sessionid AS session_id,
            page_url,
            'other' AS page_type,
            nullif(
                split_part(
                    split_part(
                        contexts_com_snowplowanalytics_snowplow_web_page_1_0_0, '[{"id":"', 2
                    ),
                    '"}]',
                    1
                ),
                ''
            ) AS page_view_id,
            CAST(NULL AS VARCHAR) AS element,
            CAST(NULL AS DOUBLE) AS scroll_depth_pct,
            CAST(NULL AS DOUBLE) AS hover_ms,
            CAST(NULL AS DOUBLE) AS x,
            CAST(NULL AS DOUBLE) AS y,
            useragent AS user_agent,
            CAST(NULL AS VARCHAR) AS device_type,
            mkt_campaign AS campaign,
            CAST(NULL AS VARCHAR) AS experiment,
            CAST(NULL AS VARCHAR) AS variant,
            CAST(NULL AS DOUBLE) AS revenue,
            'snowplow' AS source_format,
            'snowplow_web_events.csv' AS source_file,
            CAST(NULL AS BIGINT) AS source_line
        FROM events
        WHERE copy_number = 1
        """,
        [str(EVENTS_CSV)],
    )
    con.execute(
        "CREATE TABLE session_bot_flags AS SELECT DISTINCT session_id, false AS is_bot, "
        "CAST([] AS VARCHAR[]) AS bot_reasons, 0.0 AS anomaly_score FROM raw_events"
    )
    models = load_models(external_tables=["raw_events", "session_bot_flags"])
    build_models(con, models)
    yield con
    con.close()


def test_engaged_time_of_the_engaged_page_view_is_45_s(db: duckdb.DuckDBPyConnection) -> None:
    got = db.execute(
        "SELECT engaged_s, page_pings, session_id FROM page_views WHERE page_view_key = ?",
        [ENGAGED_PAGE_VIEW],
    ).fetchall()
    # Pings of its own session at 15:55:59, 15:56:59, 15:57:29, 15:58:59, 15:59:29 (5 buckets).
    assert got == [(45.0, 5, "0b0c7bb589ebd041177514f3e43446ca5d4343328936d2f8f12a42b41bf9140c")]


def test_engaged_time_matches_snowplow_for_every_shared_page_view(
    db: duckdb.DuckDBPyConnection,
) -> None:
    expected = dict(
        db.execute(
            "SELECT page_view_id, CAST(engaged_time_in_s AS DOUBLE) "
            "FROM read_csv(?, all_varchar = true, header = true)",
            [str(PAGE_VIEWS_CSV)],
        ).fetchall()
    )
    ours = dict(db.execute("SELECT page_view_key, engaged_s FROM page_views").fetchall())
    shared = set(expected) & set(ours)
    assert len(shared) >= 40  # Snowplow keeps 43 page views; the mapping must find nearly all
    assert {key: ours[key] for key in shared} == {key: expected[key] for key in shared}
    assert sum(1 for key in shared if ours[key] > 0) == 1


def test_pings_outside_the_page_views_session_are_strays(db: duckdb.DuckDBPyConnection) -> None:
    strays = db.execute(
        "SELECT event_id, page_view_key FROM sessionized_events "
        "WHERE is_stray_event AND event_type = 'page_ping' ORDER BY event_id"
    ).fetchall()
    assert strays == [
        ("2293979e-22b7-45c1-8ab6-35f865ad6094", None),  # names 4d34...'s page view
        ("ef9789a7-c267-4635-acd4-d60a3e69ff70", None),  # session ...9140d
        ("ef9789a7-c267-4635-acd4-d60a3e69fg90", None),  # session ...9140e
    ]


def test_dwell_of_the_engaged_page_view(db: duckdb.DuckDBPyConnection) -> None:
    # Snowplow's absolute_time_in_s is 240 (whole seconds from page view to its last ping);
    # ours is the exact difference of derived timestamps 15:55:29.716 -> 15:59:29.752.
    dwell = db.execute(
        "SELECT dwell_s FROM page_views WHERE page_view_key = ?", [ENGAGED_PAGE_VIEW]
    ).fetchone()
    assert dwell == (pytest.approx(240.036),)
