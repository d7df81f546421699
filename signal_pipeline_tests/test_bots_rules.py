"""Bot rules as pure functions: each rule alone, thresholds, and one definition for both paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_pipeline.bots import (
    RULE_NAMES,
    BotThresholds,
    bot_rule_violations,
    checkable_rules,
    rule_flags,
    session_rule_reasons,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HUMAN: dict[str, object] = {
    "session_id": "human",
    "session_duration_s": 184.0,
    "page_views": 4,
    "max_clicks_per_second": 1.0,
    "rapid_click_pairs": 0,
    "distinct_interactions": 9,
    "active_events": 14,
    "user_agent": CHROME,
    "pointer_events": 8,
    "pointer_x_var": 0.04,
    "pointer_y_var": 0.02,
    "pointer_interval_cv": 0.9,
}
DEFAULT = BotThresholds()


def with_(**changes: object) -> dict[str, object]:
    return {**HUMAN, **changes}


def test_human_session_breaks_no_rule() -> None:
    assert session_rule_reasons(HUMAN, DEFAULT) == []


@pytest.mark.parametrize(
    ("rule", "changes"),
    [
        ("short_session", {"session_duration_s": 6.0, "page_views": 3}),
        ("click_rate", {"max_clicks_per_second": 14.0}),
        ("rapid_clicks", {"rapid_click_pairs": 3}),
        ("few_interactions", {"distinct_interactions": 2, "active_events": 10}),
        ("crawler_user_agent", {"user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}),
        ("unnatural_pointer", {"pointer_x_var": 0.0, "pointer_y_var": 0.0}),
        ("unnatural_pointer", {"pointer_interval_cv": 0.01}),
    ],
)
def test_each_rule_fires_alone(rule: str, changes: dict[str, object]) -> None:
    assert session_rule_reasons(with_(**changes), DEFAULT) == [rule]


@pytest.mark.parametrize(
    ("label", "changes"),
    [
        ("one double-click", {"rapid_click_pairs": 1}),
        ("a triple-click", {"rapid_click_pairs": 2}),
        (
            "a one-page bounce",
            {
                "session_duration_s": 0.0,
                "page_views": 1,
                "active_events": 1,
                "distinct_interactions": 1,
                "pointer_events": 0,
            },
        ),
        (
            "a quiet bounce: one page, one interaction, 5 s",
            {
                "session_duration_s": 5.0,
                "page_views": 1,
                "distinct_interactions": 1,
                "active_events": 2,
            },
        ),
        (
            "a reader: one page, scrolls and pings",
            {"distinct_interactions": 2, "active_events": 1, "page_views": 1},
        ),
        ("one click exactly at the rate limit", {"max_clicks_per_second": 10.0}),
        (
            "too few pointer events to judge",
            {"pointer_events": 4, "pointer_x_var": 0.0, "pointer_y_var": 0.0},
        ),
        ("pointer still on one axis only", {"pointer_x_var": 0.0}),
        ("no user agent", {"user_agent": None}),
        ("no pointer timing (NULL cv)", {"pointer_interval_cv": None}),
    ],
)
def test_human_behaviour_is_not_flagged(label: str, changes: dict[str, object]) -> None:
    assert session_rule_reasons(with_(**changes), DEFAULT) == [], label


def test_several_rules_are_reported_in_fixed_order() -> None:
    bot = with_(
        user_agent="python-requests/2.31.0",
        max_clicks_per_second=30.0,
        rapid_click_pairs=40,
        session_duration_s=2.0,
        page_views=5,
    )
    assert session_rule_reasons(bot, DEFAULT) == [
        "short_session",
        "click_rate",
        "rapid_clicks",
        "crawler_user_agent",
    ]


@pytest.mark.parametrize(
    ("changes", "thresholds", "expected_before", "expected_after"),
    [
        (
            {"session_duration_s": 25.0, "page_views": 3},
            {"min_session_s": 30.0},
            [],
            ["short_session"],
        ),
        (
            {
                "session_duration_s": 4.0,
                "page_views": 1,
                "distinct_interactions": 1,
                "active_events": 2,
            },
            {"short_session_min_page_views": 1},
            [],
            ["short_session"],
        ),
        (
            {
                "session_duration_s": 4.0,
                "page_views": 1,
                "distinct_interactions": 1,
                "active_events": 2,
            },
            {"short_session_min_interactions": 1},
            [],
            ["short_session"],
        ),
        ({"max_clicks_per_second": 6.0}, {"max_clicks_per_second": 5.0}, [], ["click_rate"]),
        ({"rapid_click_pairs": 1}, {"rapid_click_min_pairs": 1}, [], ["rapid_clicks"]),
        ({"distinct_interactions": 4}, {"min_distinct_interactions": 5}, [], ["few_interactions"]),
        ({"pointer_interval_cv": 0.2}, {"pointer_max_interval_cv": 0.3}, [], ["unnatural_pointer"]),
        ({"user_agent": "curl/8.4.0"}, {"crawler_user_agent": False}, ["crawler_user_agent"], []),
        (
            {"pointer_x_var": 0.0, "pointer_y_var": 0.0},
            {"pointer_checks": False},
            ["unnatural_pointer"],
            [],
        ),
        (
            {"pointer_x_var": 0.0, "pointer_y_var": 0.0},
            {"pointer_min_events": 10},
            ["unnatural_pointer"],
            [],
        ),
    ],
)
def test_changing_a_threshold_changes_the_outcome(
    changes: dict[str, object],
    thresholds: dict[str, object],
    expected_before: list[str],
    expected_after: list[str],
) -> None:
    row = with_(**changes)
    assert session_rule_reasons(row, DEFAULT) == expected_before
    assert session_rule_reasons(row, dataclasses.replace(DEFAULT, **thresholds)) == expected_after


def test_rules_with_missing_inputs_are_skipped() -> None:
    partial = {"max_clicks_per_second": 50.0, "user_agent": CHROME}
    assert session_rule_reasons(partial, DEFAULT) == ["click_rate"]
    assert checkable_rules(partial.keys(), DEFAULT) == ["click_rate", "crawler_user_agent"]


@pytest.mark.parametrize(
    "bad",
    [
        {"anomaly_contamination": 0.0},
        {"anomaly_contamination": 0.7},
        {"rapid_click_min_pairs": 0},
        {"pointer_min_events": 2},
    ],
)
def test_invalid_thresholds_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BotThresholds(**bad)


def test_thresholds_round_trip_through_a_mapping() -> None:
    custom = BotThresholds(min_session_s=3.0, pointer_checks=False)
    assert BotThresholds.from_mapping({**custom.to_dict(), "unknown": 1}) == custom


def test_bot_rule_violations_lists_each_broken_rule_per_session() -> None:
    frame = pd.DataFrame(
        [
            HUMAN,
            with_(session_id="clicker", max_clicks_per_second=25.0, rapid_click_pairs=9),
            with_(session_id="crawler", user_agent="Mozilla/5.0 (compatible; bingbot/2.0)"),
        ]
    )
    violations = bot_rule_violations(frame, DEFAULT)
    assert list(violations.columns) == ["session_id", "rule", "detail"]
    assert sorted(zip(violations["session_id"], violations["rule"], strict=True)) == [
        ("clicker", "click_rate"),
        ("clicker", "rapid_clicks"),
        ("crawler", "crawler_user_agent"),
    ]
    detail = violations.set_index("rule").loc["click_rate", "detail"]
    assert "max_clicks_per_second=25" in detail


def test_bot_rule_violations_is_empty_on_humans_and_checks_only_present_columns() -> None:
    frame = pd.DataFrame([HUMAN, with_(session_id="h2")]).drop(columns=["rapid_click_pairs"])
    assert bot_rule_violations(frame, DEFAULT).empty
    assert "rapid_clicks" not in rule_flags(frame, DEFAULT).columns


maybe_float = st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=0, max_value=1e4))
maybe_count = st.one_of(st.none(), st.integers(min_value=0, max_value=200))
signal_rows = st.fixed_dictionaries(
    {
        "session_duration_s": maybe_float,
        "page_views": maybe_count,
        "max_clicks_per_second": maybe_float,
        "rapid_click_pairs": maybe_count,
        "distinct_interactions": maybe_count,
        "active_events": maybe_count,
        "user_agent": st.sampled_from([None, "", CHROME, "curl/8.4.0", "Googlebot/2.1"]),
        "pointer_events": maybe_count,
        "pointer_x_var": st.one_of(st.none(), st.sampled_from([0.0, 1e-12, 1e-3])),
        "pointer_y_var": st.one_of(st.none(), st.sampled_from([0.0, 1e-12, 1e-3])),
        "pointer_interval_cv": maybe_float,
    }
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(signal_rows, min_size=1, max_size=8))
def test_frame_and_single_session_paths_agree(rows: list[dict[str, object]]) -> None:
    """One definition per rule: the batch path gives exactly the per-session answers."""
    frame = pd.DataFrame(rows)
    flags = rule_flags(frame, DEFAULT)
    assert list(flags.columns) == list(RULE_NAMES)
    for i, row in enumerate(rows):
        from_frame = [name for name in flags.columns if bool(flags.iloc[i][name])]
        assert from_frame == session_rule_reasons(row, DEFAULT)
    assert flags.to_numpy().dtype == np.bool_
