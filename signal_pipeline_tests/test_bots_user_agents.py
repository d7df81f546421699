"""Crawler user-agent detection: measured recall / false-positive rate and per-UA caching."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from signal_pipeline.bots import user_agents
from signal_pipeline.bots.user_agents import crawler_user_agent_mask, is_crawler_user_agent

FIXTURE = Path(__file__).parent / "fixtures" / "user_agents.csv"


@pytest.fixture(scope="module")
def labelled_user_agents() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype={"user_agent": str, "category": str})


def recall_and_fpr(predicted: pd.Series, is_bot: pd.Series) -> tuple[float, float]:
    bots, humans = is_bot.astype(bool), ~is_bot.astype(bool)
    recall = float(predicted[bots].mean())
    false_positive_rate = float(predicted[humans].mean())
    return recall, false_positive_rate


def test_fixture_is_balanced_and_distinct(labelled_user_agents: pd.DataFrame) -> None:
    counts = labelled_user_agents["is_bot"].value_counts()
    assert counts[1] >= 60 and counts[0] >= 60
    assert labelled_user_agents["user_agent"].is_unique
    browser_kinds = set(labelled_user_agents.loc[labelled_user_agents["is_bot"] == 0, "category"])
    assert {"chrome", "firefox", "safari", "edge", "samsung", "in_app"} <= browser_kinds
    bot_kinds = set(labelled_user_agents.loc[labelled_user_agents["is_bot"] == 1, "category"])
    assert {"search_crawler", "http_library", "headless"} <= bot_kinds


def test_chosen_detector_recall_and_false_positive_rate(
    labelled_user_agents: pd.DataFrame,
) -> None:
    """Measured 63/63 recall and 0/61 false positives (module docstring); keep headroom."""
    predicted = pd.Series(
        crawler_user_agent_mask(labelled_user_agents["user_agent"]),
        index=labelled_user_agents.index,
    )
    recall, fpr = recall_and_fpr(predicted, labelled_user_agents["is_bot"])
    assert recall >= 0.95
    assert fpr <= 0.02
    in_app = labelled_user_agents["category"] == "in_app"
    assert not predicted[in_app].any(), "in-app webviews are people, not crawlers"


def test_chosen_detector_is_at_least_as_good_as_the_alternative(
    labelled_user_agents: pd.DataFrame,
) -> None:
    crawleruseragents = pytest.importorskip("crawleruseragents")
    ua = labelled_user_agents["user_agent"]
    chosen = pd.Series(crawler_user_agent_mask(ua), index=ua.index)
    alternative = ua.map(lambda s: bool(crawleruseragents.is_crawler(s)))
    union = chosen | alternative
    chosen_recall, chosen_fpr = recall_and_fpr(chosen, labelled_user_agents["is_bot"])
    alt_recall, alt_fpr = recall_and_fpr(alternative, labelled_user_agents["is_bot"])
    union_recall, union_fpr = recall_and_fpr(union, labelled_user_agents["is_bot"])
    assert chosen_recall >= alt_recall and chosen_fpr <= alt_fpr
    assert union_recall == chosen_recall and union_fpr >= chosen_fpr  # the union adds nothing


@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), pd.NA])
def test_missing_user_agent_is_not_a_crawler(value: object) -> None:
    assert crawler_user_agent_mask(value) is False


class CountingDetector:
    """Stands in for CrawlerDetect and counts how often a user agent is matched."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def is_crawler(self, user_agent: str) -> bool:
        self.calls.append(user_agent)
        return "bot" in user_agent.lower()


def test_each_distinct_user_agent_is_matched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingDetector()
    monkeypatch.setattr(user_agents, "_DETECTOR", counter)
    is_crawler_user_agent.cache_clear()
    try:
        events = pd.Series(["Chrome/120", "SomeBot/1.0", None, "Firefox/121"] * 500)
        flags = crawler_user_agent_mask(events)
        assert len(flags) == 2000
        assert flags.sum() == 500
        assert sorted(counter.calls) == ["Chrome/120", "Firefox/121", "SomeBot/1.0"]
        crawler_user_agent_mask(events)  # second batch: served from the cache
        assert is_crawler_user_agent("SomeBot/1.0") is True
        assert len(counter.calls) == 3
    finally:
        is_crawler_user_agent.cache_clear()
