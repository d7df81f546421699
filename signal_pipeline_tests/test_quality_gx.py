"""Great Expectations suites: pass on good data, fail on bad data with counts and sample ids."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from signal_pipeline.bots import BotThresholds
from signal_pipeline.quality import QualityReport, validate_frame
from signal_pipeline.quality.gx_suites import (
    BOOLEAN_FEATURES,
    NUMERIC_FEATURES,
    RAW_EVENT_COLUMNS,
    SESSION_FEATURE_IDENTITY_COLUMNS,
)

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
T0 = datetime(2024, 3, 1, 9, 0, 0)


def raw_events(n: int = 8) -> pd.DataFrame:
    types = ["page_view", "scroll", "hover", "click", "cta_click", "page_ping", "purchase", "other"]
    rows = []
    for i in range(n):
        row = dict.fromkeys(RAW_EVENT_COLUMNS)
        row |= {
            "event_id": f"e{i}",
            "ts": T0 + timedelta(seconds=7 * i),
            "event_date": date(2024, 3, 1),
            "event_type": types[i % len(types)],
            "anonymous_id": "a1",
            "session_id": "s1",
            "scroll_depth_pct": 25.0 * (i % 5),
            "hover_ms": 120.0 * i,
            "x": (i % 10) / 10,
            "y": 1 - (i % 10) / 10,
            "revenue": 49.0 if i % len(types) == 6 else None,
            "user_agent": CHROME,
            "source_format": "jsonl",
            "source_file": "events.jsonl",
            "source_line": i + 1,
        }
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.astype(
        {c: "float64" for c in ("scroll_depth_pct", "hover_ms", "x", "y", "revenue")}
    )


def validated_sessions(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(n)],
            "session_duration_s": [60.0 + 30 * i for i in range(n)],
            "page_views": [1 + i % 4 for i in range(n)],
            "max_clicks_per_second": [1.0 + (i % 3) for i in range(n)],
            "distinct_interactions": [4 + i for i in range(n)],
            "user_agent": [CHROME] * n,
            "is_bot": [False] * n,
            "bot_reasons": [[] for _ in range(n)],
            "anomaly_score": [0.45] * n,
        }
    )


def session_features(n: int = 6) -> pd.DataFrame:
    data: dict[str, object] = {
        "session_id": [f"s{i}" for i in range(n)],
        "person_id": [f"p{i}" for i in range(n)],
        "session_start": [T0 + timedelta(minutes=i) for i in range(n)],
        "session_date": [date(2024, 3, 1)] * n,
        "device_type": ["desktop"] * n,
        "campaign": [None] * n,
        "experiment": [None] * n,
        "variant": [None] * n,
    }
    rng = np.random.default_rng(7)
    for column in NUMERIC_FEATURES:
        data[column] = rng.uniform(0, 1, n)  # in [0, 1]: valid for every range in the suite
    data["min_click_gap_s"] = [np.nan, 1.5, 2.0, np.nan, 0.9, 3.3]  # NULL when < 2 clicks
    for column in BOOLEAN_FEATURES:
        data[column] = [i % 2 == 0 for i in range(n)]
    return pd.DataFrame(data)


def assert_failure(
    report: QualityReport, rule: str, count: int, ids: list[str], values: list | None = None
) -> None:
    outcome = report.outcome(rule)
    assert not outcome.success, rule
    assert outcome.unexpected_count == count, rule
    assert sorted(outcome.sample_ids) == sorted(ids), rule
    if values is not None:
        assert sorted(map(str, outcome.sample_values)) == sorted(map(str, values)), rule


def test_raw_events_suite_passes_on_good_data() -> None:
    report = validate_frame(raw_events(), "raw_events")
    assert report.success, report.to_markdown()
    assert report.failed_rules() == []
    assert report.row_count == 8
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"


def test_raw_events_suite_reports_each_bad_value() -> None:
    bad = raw_events()
    bad.loc[1, "scroll_depth_pct"] = 140.0
    bad.loc[2, "hover_ms"] = -5.0
    bad.loc[3, "x"] = 1.2
    bad.loc[4, "y"] = -0.1
    bad.loc[5, "event_type"] = "teleport"
    bad.loc[6, "revenue"] = -49.0
    bad.loc[7, "event_id"] = "e0"
    bad.loc[0, "ts"] = pd.NaT
    report = validate_frame(bad, "raw_events")
    assert not report.success
    assert_failure(report, "scroll_depth_pct_in_range_0..100", 1, ["e1"], [140.0])
    assert_failure(report, "hover_ms_in_range_0..", 1, ["e2"], [-5.0])
    assert_failure(report, "x_in_range_0..1", 1, ["e3"], [1.2])
    assert_failure(report, "y_in_range_0..1", 1, ["e4"], [-0.1])
    assert_failure(report, "event_type_known", 1, ["e5"], ["teleport"])
    assert_failure(report, "revenue_in_range_0..", 1, ["e6"], [-49.0])
    assert_failure(report, "event_id_unique", 2, ["e0", "e0"])
    assert_failure(report, "ts_not_null", 1, ["e0"])
    assert set(report.failed_rules()) == {
        "scroll_depth_pct_in_range_0..100",
        "hover_ms_in_range_0..",
        "x_in_range_0..1",
        "y_in_range_0..1",
        "event_type_known",
        "revenue_in_range_0..",
        "event_id_unique",
        "ts_not_null",
    }


def test_raw_events_suite_fails_an_empty_frame_and_a_missing_column() -> None:
    empty = validate_frame(raw_events().iloc[0:0], "raw_events")
    assert empty.failed_rules() == ["row_count_at_least_min"]
    missing = validate_frame(raw_events().drop(columns=["hover_ms"]), "raw_events")
    schema = missing.outcome("expected_columns_present")
    assert not schema.success and schema.observed_value["missing"] == ["hover_ms"]
    assert missing.outcome("hover_ms_in_range_0..").error is not None


def test_raw_events_suite_catches_infinity() -> None:
    bad = raw_events()
    bad.loc[3, "hover_ms"] = np.inf
    report = validate_frame(bad, "raw_events")
    assert_failure(report, "hover_ms_finite", 1, ["e3"])


def test_validated_sessions_suite_passes_on_humans() -> None:
    report = validate_frame(validated_sessions(), "validated_sessions")
    assert report.success, report.to_markdown()
    # signals not in validated_sessions cannot be checked there; the report says so
    assert any("rapid_clicks" in note for note in report.notes)
    assert any("unnatural_pointer" in note for note in report.notes)


def test_validated_sessions_suite_fails_when_a_bot_is_planted() -> None:
    frame = validated_sessions()
    frame.loc[1, ["session_duration_s", "page_views"]] = [3.0, 6]
    frame.loc[2, "max_clicks_per_second"] = 25.0
    frame.loc[3, "user_agent"] = "Mozilla/5.0 (compatible; SemrushBot/7~bl)"
    frame.loc[4, "is_bot"] = True
    report = validate_frame(frame, "validated_sessions")
    assert not report.success
    assert_failure(report, "bot_rule_short_session", 1, ["s1"])
    assert_failure(report, "bot_rule_click_rate", 1, ["s2"])
    assert_failure(report, "bot_rule_crawler_user_agent", 1, ["s3"])
    assert_failure(report, "is_bot_false", 1, ["s4"], [True])
    assert sorted(report.failed_rules()) == [
        "bot_rule_click_rate",
        "bot_rule_crawler_user_agent",
        "bot_rule_short_session",
        "is_bot_false",
    ]


def test_validated_sessions_suite_uses_the_given_thresholds_and_all_signals() -> None:
    frame = validated_sessions().assign(
        rapid_click_pairs=[0, 0, 2, 0, 0, 0],
        active_events=[12] * 6,
        pointer_events=[0] * 6,
        pointer_x_var=[np.nan] * 6,
        pointer_y_var=[np.nan] * 6,
        pointer_interval_cv=[np.nan] * 6,
    )
    default = validate_frame(frame, "validated_sessions")
    assert default.success and default.notes == []
    strict = validate_frame(
        frame, "validated_sessions", thresholds=BotThresholds(rapid_click_min_pairs=2)
    )
    assert_failure(strict, "bot_rule_rapid_clicks", 1, ["s2"])


def test_session_features_suite_passes_on_good_data() -> None:
    frame = session_features()
    assert set(SESSION_FEATURE_IDENTITY_COLUMNS) <= set(frame.columns)
    report = validate_frame(frame, "session_features")
    assert report.success, report.to_markdown()


def test_session_features_suite_reports_nan_inf_and_out_of_range() -> None:
    bad = session_features()
    bad.loc[0, "dwell_pricing_s"] = np.nan
    bad.loc[1, "click_frequency_per_min"] = np.inf
    bad.loc[2, "urgency_score"] = 1.2
    bad.loc[3, "engagement_depth_index"] = -0.01
    bad.loc[4, "max_scroll_depth_pct"] = 130.0
    bad.loc[5, "cta_ctr"] = -1.0
    bad.loc[[2, 4], "total_session_time_s"] = -3.0
    report = validate_frame(bad, "session_features")
    assert_failure(report, "dwell_pricing_s_not_null", 1, ["s0"])
    assert_failure(report, "click_frequency_per_min_finite", 1, ["s1"])
    assert_failure(report, "urgency_score_in_range_0..1", 1, ["s2"], [1.2])
    assert_failure(report, "engagement_depth_index_in_range_0..1", 1, ["s3"], [-0.01])
    assert_failure(report, "max_scroll_depth_pct_in_range_0..100", 1, ["s4"], [130.0])
    assert_failure(report, "cta_ctr_in_range_0..", 1, ["s5"], [-1.0])
    assert_failure(report, "total_session_time_s_in_range_0..", 2, ["s2", "s4"], [-3.0, -3.0])
    assert "min_click_gap_s_not_null" not in {o.rule for o in report.outcomes}


def test_session_features_nullable_columns_are_configurable() -> None:
    frame = session_features()
    report = validate_frame(frame, "session_features", nullable_columns=())
    assert_failure(report, "min_click_gap_s_not_null", 2, ["s0", "s3"])


def test_report_metadata_is_plain_json() -> None:
    bad = session_features()
    bad.loc[1, "click_frequency_per_min"] = np.inf
    report = validate_frame(bad, "session_features")
    metadata = report.to_metadata()
    decoded = json.loads(json.dumps(metadata, allow_nan=False))
    assert decoded["success"] is False
    assert decoded["failed_rules"] == ["click_frequency_per_min_finite"]
    assert decoded["failures"][0]["sample_ids"] == ["s1"]
    assert decoded["failures"][0]["sample_values"] == ["inf"]
    assert decoded["expectations_evaluated"] == len(report.outcomes)
    table = decoded["results_markdown"].splitlines()
    assert table[0].startswith("| rule |")
    assert "click_frequency_per_min_finite" in table[2] and "❌" in table[2]


def test_unknown_suite_is_rejected() -> None:
    with pytest.raises(KeyError):
        validate_frame(session_features(), "no_such_suite")
