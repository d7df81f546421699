"""The bot rules: one definition each, usable on one session or on a whole frame of sessions.

Each rule is a predicate over *session signals* (the columns listed in :data:`SIGNAL_COLUMNS`,
see :mod:`signal_pipeline.bots.signals`). The same predicate code runs on a ``Mapping`` for a
single session (real-time scoring, :func:`session_rule_reasons`) and on a ``DataFrame`` for a
batch (:func:`rule_flags`, used by ``flag_bot_sessions`` and by :func:`bot_rule_violations`):
column access and comparisons behave the same on scalars and Series. A rule whose inputs are
missing is not evaluated (never flags) — a partial real-time record or a table without the
signal cannot break it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.bots.user_agents import crawler_user_agent_mask

Signals = Mapping[str, Any] | pd.DataFrame
Flags = np.ndarray | np.bool_ | bool


def _num(value: Any) -> np.ndarray | np.float64:
    """Numeric view of a column or scalar: missing values become NaN (comparisons are False)."""
    if isinstance(value, pd.Series):
        return pd.to_numeric(value, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if value is None or value is pd.NA:
        return np.float64(np.nan)
    try:
        return np.float64(value)
    except (TypeError, ValueError):
        return np.float64(np.nan)


@dataclass(frozen=True)
class BotRule:
    """One named rule: the signals it reads, when it is enabled, and its predicate."""

    name: str
    inputs: tuple[str, ...]
    predicate: Callable[[Signals, BotThresholds], Flags]
    description: str
    enabled: Callable[[BotThresholds], bool] = lambda _t: True


def _short_session(s: Signals, t: BotThresholds) -> Flags:
    crams_activity = (_num(s["page_views"]) >= t.short_session_min_page_views) | (
        _num(s["distinct_interactions"]) >= t.short_session_min_interactions
    )
    return (_num(s["session_duration_s"]) < t.min_session_s) & crams_activity


def _click_rate(s: Signals, t: BotThresholds) -> Flags:
    return _num(s["max_clicks_per_second"]) > t.max_clicks_per_second


def _rapid_clicks(s: Signals, t: BotThresholds) -> Flags:
    return _num(s["rapid_click_pairs"]) >= t.rapid_click_min_pairs


def _few_interactions(s: Signals, t: BotThresholds) -> Flags:
    return (_num(s["distinct_interactions"]) < t.min_distinct_interactions) & (
        _num(s["active_events"]) >= t.few_interactions_min_events
    )


def _crawler_user_agent(s: Signals, t: BotThresholds) -> Flags:
    return crawler_user_agent_mask(s["user_agent"])


def _unnatural_pointer(s: Signals, t: BotThresholds) -> Flags:
    enough = _num(s["pointer_events"]) >= t.pointer_min_events
    motionless = (_num(s["pointer_x_var"]) <= t.pointer_max_variance) & (
        _num(s["pointer_y_var"]) <= t.pointer_max_variance
    )
    metronomic = _num(s["pointer_interval_cv"]) < t.pointer_max_interval_cv
    return enough & (motionless | metronomic)


BOT_RULES: tuple[BotRule, ...] = (
    BotRule(
        "short_session",
        ("session_duration_s", "page_views", "distinct_interactions"),
        _short_session,
        "session_duration_s < min_session_s with page_views >= short_session_min_page_views "
        "or distinct_interactions >= short_session_min_interactions",
    ),
    BotRule(
        "click_rate",
        ("max_clicks_per_second",),
        _click_rate,
        "max_clicks_per_second > max_clicks_per_second threshold",
    ),
    BotRule(
        "rapid_clicks",
        ("rapid_click_pairs",),
        _rapid_clicks,
        "rapid_click_pairs (click gaps < rapid_click_gap_s) >= rapid_click_min_pairs",
    ),
    BotRule(
        "few_interactions",
        ("distinct_interactions", "active_events"),
        _few_interactions,
        "distinct_interactions < min_distinct_interactions with active_events >= "
        "few_interactions_min_events",
    ),
    BotRule(
        "crawler_user_agent",
        ("user_agent",),
        _crawler_user_agent,
        "user_agent matches the crawler list",
        enabled=lambda t: t.crawler_user_agent,
    ),
    BotRule(
        "unnatural_pointer",
        ("pointer_events", "pointer_x_var", "pointer_y_var", "pointer_interval_cv"),
        _unnatural_pointer,
        "pointer_events >= pointer_min_events and (x and y variance <= pointer_max_variance "
        "or pointer_interval_cv < pointer_max_interval_cv)",
        enabled=lambda t: t.pointer_checks,
    ),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in BOT_RULES)
ANOMALY_RULE_NAME = "behavioural_anomaly"
SIGNAL_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(column for rule in BOT_RULES for column in rule.inputs)
)


def session_rule_reasons(row: Mapping[str, Any], thresholds: BotThresholds) -> list[str]:
    """Names of the rules one session breaks, from a mapping of its signals.

    Pure and cheap: usable for real-time scoring. Rules whose inputs are absent from ``row``
    are skipped. Returned in the fixed order of :data:`RULE_NAMES`.
    """
    reasons: list[str] = []
    for rule in BOT_RULES:
        if not rule.enabled(thresholds) or any(key not in row for key in rule.inputs):
            continue
        if bool(rule.predicate(row, thresholds)):
            reasons.append(rule.name)
    return reasons


def checkable_rules(columns: object, thresholds: BotThresholds) -> list[str]:
    """Names of the enabled rules whose input columns are all in ``columns``."""
    present = set(columns)  # type: ignore[call-overload]
    return [
        rule.name for rule in BOT_RULES if rule.enabled(thresholds) and set(rule.inputs) <= present
    ]


def rule_flags(frame: pd.DataFrame, thresholds: BotThresholds) -> pd.DataFrame:
    """One boolean column per checkable rule (see :func:`checkable_rules`), aligned to ``frame``."""
    by_name = {rule.name: rule for rule in BOT_RULES}
    flags = {
        name: np.asarray(by_name[name].predicate(frame, thresholds), dtype=bool)
        for name in checkable_rules(frame.columns, thresholds)
    }
    return pd.DataFrame(flags, index=frame.index)


def reasons_from_flags(flags: pd.DataFrame) -> list[list[str]]:
    """Per row, the names of the flag columns that are true (in column order)."""
    names = list(flags.columns)
    matrix = flags.to_numpy(dtype=bool)
    return [[names[j] for j in np.flatnonzero(row)] for row in matrix]


def _describe(row: Mapping[str, Any], inputs: tuple[str, ...]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, str):
            return repr(value)
        return str(value.item() if isinstance(value, np.generic) else value)

    return ", ".join(f"{column}={show(row[column])}" for column in inputs)


def bot_rule_violations(df: pd.DataFrame, thresholds: BotThresholds) -> pd.DataFrame:
    """Which sessions of ``df`` break which bot rule (for the check on ``validated_sessions``).

    Returns one row per (session, broken rule): ``session_id, rule, detail`` where ``detail``
    shows the offending signal values. Empty when nothing is broken. Only rules whose input
    columns are in ``df`` are checked (``checkable_rules`` lists them).
    """
    flags = rule_flags(df, thresholds)
    inputs = {rule.name: rule.inputs for rule in BOT_RULES}
    records: list[dict[str, Any]] = []
    for name in flags.columns:
        offending = df.loc[flags[name].to_numpy()]
        for _, row in offending.iterrows():
            records.append(
                {
                    "session_id": row.get("session_id"),
                    "rule": name,
                    "detail": _describe(row, inputs[name]),
                }
            )
    return pd.DataFrame(records, columns=["session_id", "rule", "detail"])
