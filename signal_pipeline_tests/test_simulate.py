"""Tests of the clickstream simulator: determinism, planted truths, bots, drift, bad lines.

Every planted figure is recovered from the written files by a computation written here
(pandas over the JSON lines), independent of the simulator's internals.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from crawlerdetect import CrawlerDetect

from signal_pipeline.simulate import SimulationSummary, simulate
from signal_pipeline.simulate.bad_lines import QUARANTINE_REASON
from signal_pipeline.simulate.personas import BASELINE_CONVERSION, HUMAN_PERSONAS

EVENT_TYPES = {
    "page_view",
    "page_ping",
    "scroll",
    "click",
    "hover",
    "cta_click",
    "comparison_view",
    "video_play",
    "form_interaction",
    "add_to_cart",
    "purchase",
    "other",
}
KNOWN_FIELDS = {
    "event_id",
    "ts",
    "event_type",
    "event_name",
    "anonymous_id",
    "user_id",
    "session_id",
    "page_url",
    "page_type",
    "page_view_id",
    "element",
    "scroll_depth_pct",
    "hover_ms",
    "x",
    "y",
    "user_agent",
    "device_type",
    "campaign",
    "experiment",
    "variant",
    "revenue",
}
TS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FAR_FUTURE = pd.Timestamp("2030-01-01")
TOLERANCE = 0.10


def quarantine_reason(line: bytes) -> str | None:
    """The contract's quarantine reason for a line, or None for a valid canonical event."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "invalid_json"
    if not isinstance(event, dict):
        return "not_an_object"
    if not event.get("event_id"):
        return "missing_event_id"
    if not event.get("anonymous_id") and not event.get("user_id"):
        return "missing_identity"
    ts = event.get("ts")
    if not isinstance(ts, str) or not TS_PATTERN.match(ts):
        return "unparseable_timestamp"
    if pd.Timestamp(ts[:-1]) > FAR_FUTURE:
        return "timestamp_in_future"
    if event.get("event_type") not in EVENT_TYPES:
        return "unknown_event_type"
    hover = event.get("hover_ms")
    depth = event.get("scroll_depth_pct")
    if (hover is not None and hover < 0) or (depth is not None and not 0 <= depth <= 100):
        return "value_out_of_range"
    for key in ("x", "y"):
        if event.get(key) is not None and not 0 <= event[key] <= 1:
            return "value_out_of_range"
    assert set(event) <= KNOWN_FIELDS, set(event) - KNOWN_FIELDS
    return None


class Simulated:
    """A simulated folder read back: valid events, labels, bad lines and duplicates."""

    def __init__(self, folder: Path, summary: SimulationSummary) -> None:
        self.folder = folder
        self.summary = summary
        self.raw_lines = (folder / "events.jsonl").read_bytes().split(b"\n")
        assert self.raw_lines[-1] == b""
        self.raw_lines = self.raw_lines[:-1]
        self.reasons: list[str] = []
        self.duplicate_lines = 0
        seen: dict[str, bytes] = {}
        rows = []
        for line in self.raw_lines:
            line.decode("utf-8")
            reason = quarantine_reason(line)
            if reason is not None:
                self.reasons.append(reason)
                continue
            event = orjson.loads(line)
            if event["event_id"] in seen:
                assert seen[event["event_id"]] == line, "a reused event id must be an exact copy"
                self.duplicate_lines += 1
                continue
            seen[event["event_id"]] = line
            rows.append(event)
        events = pd.DataFrame(rows)
        events["ts"] = pd.to_datetime(events["ts"].str[:-1])
        self.events = events
        self.labels = pd.read_csv(folder / "labels.csv", keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    folder = tmp_path_factory.mktemp("sim")
    summary = simulate(folder, sessions=6000, days=7, seed=11, bad_lines=90, duplicates=40)
    return Simulated(folder, summary)


def page_views(events: pd.DataFrame) -> pd.DataFrame:
    """One row per page view: dwell (to the next view or the page's last event), max depth."""
    e = events.sort_values(["session_id", "ts"], kind="stable").copy()
    e["view_no"] = (e["event_type"] == "page_view").groupby(e["session_id"]).cumsum()
    e = e[e["view_no"] > 0]
    e["is_cta"] = e["event_type"] == "cta_click"
    pages = e.groupby(["session_id", "view_no"]).agg(
        start=("ts", "min"),
        last_event=("ts", "max"),
        depth=("scroll_depth_pct", "max"),
        cta=("is_cta", "sum"),
    )
    pages = pages.reset_index()
    following = pages.groupby("session_id")["start"].shift(-1)
    pages["dwell_s"] = (following.fillna(pages["last_event"]) - pages["start"]).dt.total_seconds()
    pages["depth"] = pages["depth"].fillna(0.0)
    return pages


def within(measured: float, planted: float, tolerance: float = TOLERANCE) -> bool:
    return abs(measured - planted) <= tolerance * abs(planted)


def test_same_seed_writes_identical_files_and_other_seeds_differ(tmp_path: Path) -> None:
    args = dict(sessions=400, days=2, bad_lines=12, duplicates=5)
    simulate(tmp_path / "a", seed=3, **args)
    simulate(tmp_path / "b", seed=3, **args)
    simulate(tmp_path / "c", seed=4, **args)
    for name in ("events.jsonl", "labels.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "events.jsonl").read_bytes() != (
        tmp_path / "c" / "events.jsonl"
    ).read_bytes()


def test_line_counts_match_summary(run: Simulated) -> None:
    summary = run.summary
    assert len(run.raw_lines) == summary.lines
    assert summary.lines == summary.events + summary.bad_lines + summary.duplicates
    assert len(run.events) == summary.events
    assert run.duplicate_lines == summary.duplicates == 40
    assert len(run.reasons) == summary.bad_lines == 90
    expected: dict[str, int] = {}
    for kind, count in summary.bad_lines_by_kind.items():
        expected[QUARANTINE_REASON[kind]] = expected.get(QUARANTINE_REASON[kind], 0) + count
    assert pd.Series(run.reasons).value_counts().to_dict() == {
        k: v for k, v in expected.items() if v
    }
    assert all(count > 0 for count in summary.bad_lines_by_kind.values())
    on_disk = orjson.loads((run.folder / "summary.json").read_bytes())
    assert on_disk["events"] == summary.events and on_disk["lines"] == summary.lines
    assert sum(p["sessions"] for p in on_disk["personas"].values()) + sum(
        b["sessions"] for b in on_disk["bot_kinds"].values()
    ) == len(run.labels)


def test_events_follow_the_canonical_schema(run: Simulated) -> None:
    events = run.events
    assert "page_type" not in events.columns
    assert events["event_id"].is_unique
    assert events["session_id"].notna().all() and events["anonymous_id"].notna().all()
    assert set(events["event_type"]) <= EVENT_TYPES
    assert events["page_url"].str.startswith("https://shop.example.com/").all()
    assert events["page_view_id"].notna().all()
    hovers = events[events["event_type"] == "hover"]
    assert (hovers["hover_ms"] >= 0).all() and hovers["element"].notna().all()
    pointer = events[events["event_type"].isin(["click", "cta_click", "hover"])]
    assert pointer[["x", "y"]].notna().all().all()
    assert (events.loc[events["event_type"] == "cta_click", "element"] == "cta").all()
    purchases = events[events["event_type"] == "purchase"]
    assert (purchases["revenue"] > 0).all()
    assert set(events["device_type"]) <= {"desktop", "mobile", "tablet"}
    assert events["campaign"].isna().any() and events["campaign"].notna().any()
    # Comparison views happen on comparison pages only.
    views = events[events["event_type"] == "comparison_view"]
    assert len(views) and views["page_url"].str.contains("/compare?", regex=False).all()


def test_file_is_grouped_by_session_and_time_ordered_within(run: Simulated) -> None:
    events = run.events
    block_starts = events["session_id"] != events["session_id"].shift()
    assert block_starts.sum() == events["session_id"].nunique()
    assert (
        events.groupby("session_id", sort=False)["ts"]
        .apply(lambda ts: ts.is_monotonic_increasing)
        .all()
    )
    starts = events.groupby("session_id", sort=False)["ts"].min()
    assert starts.is_monotonic_increasing
    ordered_labels = run.labels["session_id"].tolist()
    assert starts.index.tolist() == ordered_labels


def test_planted_persona_means_are_recovered(run: Simulated) -> None:
    humans = run.labels[~run.labels["is_bot"]]
    pages = page_views(run.events).merge(humans[["session_id", "persona"]], on="session_id")
    purchase_sessions = set(run.events.loc[run.events["event_type"] == "purchase", "session_id"])
    conversion = (
        humans.assign(bought=humans["session_id"].isin(purchase_sessions))
        .groupby("persona")["bought"]
        .mean()
    )
    baseline = conversion["pricing_hoverer"]
    assert within(baseline, BASELINE_CONVERSION)
    for persona in HUMAN_PERSONAS:
        mine = pages[pages["persona"] == persona.persona_id]
        assert len(mine) > 3000
        assert within(mine["dwell_s"].mean(), persona.dwell_mean_s), persona
        assert within(mine["depth"].mean(), persona.scroll_depth_mean_pct), persona
        assert within(mine["cta"].sum() / len(mine), persona.cta_ctr), persona
        ratio = conversion[persona.persona_id] / baseline
        assert within(ratio, persona.conversion_multiplier), (persona, ratio)
    # The personas are clearly apart on each planted axis.
    by_persona = pages.groupby("persona")[["dwell_s", "depth"]].mean()
    assert by_persona["dwell_s"].is_unique and by_persona["depth"].is_unique


def session_table(events: pd.DataFrame) -> pd.DataFrame:
    """Per session: duration, distinct interactions, click gaps, pointer and timing spread."""
    e = events.sort_values(["session_id", "ts"], kind="stable")
    content = e[~e["event_type"].isin(["page_ping", "page_view"])]
    distinct = content.assign(element=content["element"].fillna("")).drop_duplicates(
        ["session_id", "event_type", "element", "page_url"]
    )
    clicks = e[e["event_type"].isin(["click", "cta_click"])]
    click_gaps = clicks.groupby("session_id")["ts"].diff().dt.total_seconds()
    gaps = e.groupby("session_id")["ts"].diff().dt.total_seconds()
    table = pd.DataFrame(
        {
            "duration_s": e.groupby("session_id")["ts"]
            .agg(lambda t: t.max() - t.min())
            .dt.total_seconds(),
            "distinct_interactions": distinct.groupby("session_id").size(),
            "min_click_gap_s": click_gaps.groupby(clicks["session_id"]).min(),
            "gap_spread_s": gaps.groupby(e["session_id"]).std(),
            "x_spread": e.groupby("session_id")["x"].std(),
            "user_agent": e.groupby("session_id")["user_agent"].first(),
        }
    )
    table["distinct_interactions"] = table["distinct_interactions"].fillna(0)
    return table


def test_humans_pass_the_session_rules_and_bots_show_their_trait(run: Simulated) -> None:
    table = session_table(run.events).join(run.labels.set_index("session_id"), how="inner")
    crawler = CrawlerDetect()
    table["crawler"] = [crawler.isCrawler(ua) for ua in table["user_agent"]]
    humans = table[~table["is_bot"]]
    assert (humans["duration_s"] >= 10).all()
    assert (humans["distinct_interactions"] >= 3).all()
    assert (humans["min_click_gap_s"].dropna() >= 0.2).all()
    assert (humans["x_spread"] > 0.01).all() and (humans["gap_spread_s"] > 0.1).all()
    assert not humans["crawler"].any()

    bots = table[table["is_bot"]]
    assert set(bots["bot_kind"]) == {
        "rapid_clicker",
        "short_session",
        "crawler_ua",
        "scripted_browser",
    }
    assert within(len(bots) / len(table), 0.10)
    kind = bots.groupby("bot_kind")
    assert (kind.get_group("rapid_clicker")["min_click_gap_s"] < 0.2).all()
    assert (kind.get_group("short_session")["duration_s"] < 10).all()
    crawlers = kind.get_group("crawler_ua")
    assert crawlers["crawler"].all()
    assert (crawlers["duration_s"] >= 10).all() and (crawlers["distinct_interactions"] >= 3).all()
    scripted = kind.get_group("scripted_browser")
    assert (scripted["gap_spread_s"] < 1e-9).all() and (scripted["x_spread"] < 1e-9).all()
    assert not scripted["crawler"].any() and (scripted["duration_s"] >= 10).all()


def test_identities_need_stitching(run: Simulated) -> None:
    events = run.events
    logged_in = events[events["user_id"].notna()]
    devices_per_user = logged_in.groupby("user_id")["anonymous_id"].nunique()
    assert (devices_per_user >= 2).any()
    anonymous_with_user = set(logged_in["anonymous_id"])
    without_user = events[
        events["user_id"].isna() & events["anonymous_id"].isin(anonymous_with_user)
    ]
    assert len(without_user) > 0
    sessions_per_device = run.labels.groupby("anonymous_id").size()
    assert (sessions_per_device >= 2).any()
    assert (~run.labels["user_id"].isna()).mean() > 0.05


def test_traffic_has_a_daily_rhythm_and_crosses_midnight(run: Simulated) -> None:
    starts = pd.to_datetime(run.labels["session_start"].str[:-1])
    ends = pd.to_datetime(run.labels["session_end"].str[:-1])
    hours = starts.dt.hour.value_counts()
    assert hours.loc[[19, 20]].sum() > 3 * hours.loc[[3, 4]].sum()
    assert (starts.dt.date != ends.dt.date).any()
    assert starts.dt.date.nunique() == 7


def test_drift_multiplies_human_dwell_from_the_drift_day(tmp_path: Path) -> None:
    simulate(tmp_path, sessions=3000, days=6, seed=5, drift_day=3, drift_factor=1.8)
    events = pd.read_json(tmp_path / "events.jsonl", lines=True, convert_dates=False)
    events["ts"] = pd.to_datetime(events["ts"].str[:-1])
    labels = pd.read_csv(tmp_path / "labels.csv")
    labels["day_index"] = (pd.to_datetime(labels["day"]) - pd.Timestamp("2026-01-01")).dt.days
    pages = page_views(events).merge(labels, on="session_id")
    humans = pages[~pages["is_bot"]]
    for persona, group in humans.groupby("persona"):
        before = group.loc[group["day_index"] < 3, "dwell_s"].mean()
        after = group.loc[group["day_index"] >= 3, "dwell_s"].mean()
        assert within(after / before, 1.8), (persona, after / before)
    bots = pages[pages["bot_kind"] == "crawler_ua"]
    before = bots.loc[bots["day_index"] < 3, "dwell_s"].mean()
    after = bots.loc[bots["day_index"] >= 3, "dwell_s"].mean()
    assert after / before < 1.4


def test_sessions_without_ids_are_separable_by_inactivity(tmp_path: Path) -> None:
    summary = simulate(tmp_path, sessions=1500, days=2, seed=8, with_session_ids=False)
    events = pd.read_json(tmp_path / "events.jsonl", lines=True, convert_dates=False)
    assert "session_id" not in events.columns
    events["ts"] = pd.to_datetime(events["ts"].str[:-1])
    events = events.sort_values(["anonymous_id", "ts"])
    gap = events.groupby("anonymous_id")["ts"].diff()
    derived = (gap.isna() | (gap > pd.Timedelta(minutes=30))).sum()
    assert derived == summary.sessions


def test_start_date_day_labels_and_progress(tmp_path: Path) -> None:
    written: list[int] = []
    simulate(
        tmp_path, sessions=300, days=3, seed=2, start=dt.date(2025, 6, 30), progress=written.append
    )
    assert written and written[-1] == 300 and written == sorted(written)
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert sorted(labels["day"].unique()) == ["2025-06-30", "2025-07-01", "2025-07-02"]
    assert np.all(labels["events"] > 0)
