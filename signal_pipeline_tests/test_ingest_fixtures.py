"""Ingest end to end on the public Snowplow fixture and the hand-written Segment fixture."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files

SNOWPLOW = Path("/work/shared/fixtures/snowplow")
SNOWPLOW_EVENTS = SNOWPLOW / "source" / "snowplow_web_events.csv"
SNOWPLOW_PAGE_VIEWS = SNOWPLOW / "expected" / "snowplow_web_page_views_expected.csv"
SEGMENT = Path(__file__).parent / "fixtures" / "segment"
SETTINGS = IngestSettings(now=datetime(2024, 6, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def snowplow(tmp_path_factory: pytest.TempPathFactory):
    if not SNOWPLOW_EVENTS.exists():
        pytest.skip("shared Snowplow fixture not available")
    con = db.connect(tmp_path_factory.mktemp("snowplow") / "signal.duckdb")
    report = ingest_files(con, [SNOWPLOW_EVENTS], SETTINGS)
    yield con, report
    con.close()


def _source_rows() -> list[dict[str, str]]:
    with SNOWPLOW_EVENTS.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_snowplow_every_distinct_event_lands_and_duplicates_are_accounted(snowplow) -> None:
    con, report = snowplow
    rows = _source_rows()
    distinct_ids = {r["event_id"] for r in rows}
    assert report.formats == {str(SNOWPLOW_EVENTS): "snowplow/csv"}
    assert report.lines_read == len(rows) == 160
    assert report.landed == len(distinct_ids) == 157
    assert report.reconciles
    landed_ids = {r[0] for r in con.execute("SELECT event_id FROM staged_events").fetchall()}
    assert landed_ids == distinct_ids
    # The three repeated ids differ in derived_tstamp (and etl/app fields): not exact copies, so
    # the later one of each pair is quarantined as conflicting, the earliest (by ts) lands.
    assert report.duplicates == 0
    assert report.quarantined_by_reason == {"conflicting_duplicate": 3}
    by_id: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_id.setdefault(row["event_id"], []).append(row)
    for event_id, copies in by_id.items():
        if len(copies) < 2:
            continue
        earliest = min(copies, key=lambda r: r["derived_tstamp"])["derived_tstamp"]
        landed_ts = con.execute(
            "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S.%g') FROM staged_events WHERE event_id = ?",
            [event_id],
        ).fetchall()
        assert landed_ts == [(earliest,)]


def test_snowplow_mapping(snowplow) -> None:
    con, _ = snowplow
    rows = {r["event_id"]: r for r in _source_rows()}
    staged = con.execute(
        "SELECT event_id, event_type, event_name, anonymous_id, user_id, session_id, page_url, "
        "page_view_id, scroll_depth_pct, campaign, device_type, user_agent FROM staged_events"
    ).fetchall()
    types = {}
    for eid, etype, name, anon, user, session, url, pv_id, scroll, campaign, device, ua in staged:
        src = rows[eid]
        types[src["event_name"]] = etype
        assert name == src["event_name"]
        assert anon == (src["domain_userid"] or src["network_userid"] or None)
        assert session == (src["domain_sessionid"] or None)
        assert user == (src["user_id"] or None)
        assert url == (src["page_url"] or src["page_urlpath"] or None)
        assert ua == (src["useragent"] or None)
        assert campaign == (src["mkt_campaign"] or None)
        context = src["contexts_com_snowplowanalytics_snowplow_web_page_1_0_0"]
        match = re.search(r'"id":\s*"([^"]+)"', context)
        assert pv_id == (match.group(1) if match else None)
        assert device in ("desktop", "mobile", "tablet", None)
        if src["event_name"] == "page_ping":
            pct = 100 * (float(src["pp_yoffset_max"]) + float(src["br_viewheight"]))
            assert scroll == pytest.approx(min(100.0, pct / float(src["doc_height"])))
        else:
            assert scroll is None
    assert types["page_view"] == "page_view" and types["page_ping"] == "page_ping"
    assert types["link_click"] == "click"
    assert {types[n] for n in ("consent_preferences", "cmp_visible", "snplow_cookies")} == {"other"}


def test_snowplow_page_view_ids_cover_expected_page_views(snowplow) -> None:
    con, _ = snowplow
    with SNOWPLOW_PAGE_VIEWS.open(newline="") as handle:
        expected = {r["page_view_id"] for r in csv.DictReader(handle)}
    landed = {
        r[0]
        for r in con.execute(
            "SELECT page_view_id FROM staged_events WHERE event_type = 'page_view'"
        ).fetchall()
    }
    assert expected <= landed


def test_segment_fixture_end_to_end(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "signal.duckdb")
    files = [SEGMENT / "segment_events.jsonl", SEGMENT / "segment_batch.json"]
    report = ingest_files(con, files, SETTINGS)
    assert report.formats == {
        str(files[0]): "segment/jsonl",
        str(files[1]): "segment/json_array",
    }
    assert (report.lines_read, report.landed, report.quarantined) == (13, 13, 0)
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT event_id, event_type, event_name, anonymous_id, user_id, ts, page_type, "
            "element, revenue, campaign FROM staged_events"
        ).fetchall()
    }
    assert got["seg-0001"][:2] == ("page_view", "Home") and got["seg-0001"][8] == "spring_sale"
    assert got["seg-0002"][5] == "pricing"
    assert got["seg-0003"][0] == "cta_click" and got["seg-0003"][6] == "start_trial"
    assert got["seg-0003"][4] == datetime(2024, 3, 10, 9, 1, 30)  # +01:00 → UTC
    assert got["seg-0004"][0] == "click"
    assert got["seg-0005"][:4] == ("other", "identify", "anon-a", "user-1")
    assert got["seg-0006"][0] == "add_to_cart"
    assert got["seg-0007"][0] == "purchase" and got["seg-0007"][7] == 99.0
    assert got["seg-0008"][0] == "page_view"  # screen call, originalTimestamp only
    assert got["seg-0009"][0] == "video_play"
    assert got["seg-0010"][:2] == ("other", "Newsletter Subscribed")
    assert got["seg-0101"][5] == "specs"
    assert got["seg-0103"][:4] == ("other", "identify", "anon-c", "user-2")
    variant = con.execute(
        "SELECT experiment, variant FROM staged_events WHERE event_id = 'seg-0102'"
    ).fetchall()
    assert variant == [("pricing_layout", "B")]


def test_segment_unknown_call_type_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "in" / "seg.jsonl"
    path.parent.mkdir()
    path.write_text(
        '{"type":"page","messageId":"m1","anonymousId":"a","timestamp":"2024-01-01T00:00:00Z"}\n'
        '{"type":"teleport","messageId":"m2","anonymousId":"a","timestamp":"2024-01-01T00:00:00Z"}\n'
    )
    con = db.connect(tmp_path / "signal.duckdb")
    report = ingest_files(con, [path], SETTINGS)
    assert report.landed == 1 and report.quarantined_by_reason == {"unknown_event_type": 1}
    assert "teleport" in con.execute("SELECT detail FROM quarantined_events").fetchall()[0][0]
