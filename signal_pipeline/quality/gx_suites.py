"""The Great Expectations suites, declared as plain data (no GX import here).

Each suite builder takes the frame to validate and the suite's parameters and returns a
:class:`PreparedSuite`: the frame GX will see (``validated_sessions`` adds one boolean column per
bot rule), the expectations as :class:`ExpectationSpec` (GX class name + kwargs + a rule name for
reports), and the id column whose values identify offending rows in reports.
:mod:`signal_pipeline.quality.gx_validate` turns the specs into GX objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from signal_pipeline.bots.session_rules import BOT_RULES, rule_flags
from signal_pipeline.bots.thresholds import BotThresholds

RAW_EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "ts",
    "event_date",
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
    "source_format",
    "source_file",
    "source_line",
)
EVENT_TYPES: tuple[str, ...] = (
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
)
SESSION_FEATURE_IDENTITY_COLUMNS: tuple[str, ...] = (
    "session_id",
    "person_id",
    "session_start",
    "session_date",
    "device_type",
    "campaign",
    "experiment",
    "variant",
)
PERCENT_FEATURES: tuple[str, ...] = ("max_scroll_depth_pct", "mean_scroll_depth_pct")
SCORE_FEATURES: tuple[str, ...] = ("urgency_score", "engagement_depth_index")
NON_NEGATIVE_FEATURES: tuple[str, ...] = (
    "total_session_time_s",
    "page_views",
    "dwell_specs_s",
    "dwell_pricing_s",
    "dwell_comparison_s",
    "mean_dwell_per_page_s",
    "evaluation_dwell_s",
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
    "revenue",
)
NUMERIC_FEATURES: tuple[str, ...] = NON_NEGATIVE_FEATURES + PERCENT_FEATURES + SCORE_FEATURES
BOOLEAN_FEATURES: tuple[str, ...] = ("is_bounce", "converted")
NULLABLE_FEATURES_DEFAULT: tuple[str, ...] = ("min_click_gap_s",)  # NULL when < 2 clicks
NON_FINITE = [float("inf"), float("-inf")]
RULE_COLUMN_PREFIX = "breaks_bot_rule__"


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: ``rule`` names it in reports; ``expectation`` is the GX class name."""

    rule: str
    expectation: str
    kwargs: dict[str, Any]

    @property
    def column(self) -> str | None:
        """The column the expectation is about, if any."""
        return self.kwargs.get("column")


@dataclass(frozen=True)
class PreparedSuite:
    """What GX validates: the (possibly augmented) frame, the expectations and the id column."""

    name: str
    frame: pd.DataFrame
    expectations: list[ExpectationSpec]
    id_column: str | None
    notes: list[str] = field(default_factory=list)


def _spec(rule: str, expectation: str, **kwargs: Any) -> ExpectationSpec:
    return ExpectationSpec(rule=rule, expectation=expectation, kwargs=kwargs)


def _not_null(column: str) -> ExpectationSpec:
    return _spec(f"{column}_not_null", "ExpectColumnValuesToNotBeNull", column=column)


def _between(column: str, low: float | None, high: float | None) -> ExpectationSpec:
    bounds = f"{'' if low is None else low}..{'' if high is None else high}"
    return _spec(
        f"{column}_in_range_{bounds}",
        "ExpectColumnValuesToBeBetween",
        column=column,
        min_value=low,
        max_value=high,
    )


def _finite(column: str) -> ExpectationSpec:
    return _spec(
        f"{column}_finite", "ExpectColumnValuesToNotBeInSet", column=column, value_set=NON_FINITE
    )


def _row_count_at_least(min_rows: int) -> ExpectationSpec:
    # An empty frame passes every column expectation, so emptiness is checked explicitly.
    return _spec("row_count_at_least_min", "ExpectTableRowCountToBeBetween", min_value=min_rows)


def _columns_present(columns: Sequence[str]) -> ExpectationSpec:
    return _spec(
        "expected_columns_present",
        "ExpectTableColumnsToMatchSet",
        column_set=list(columns),
        exact_match=False,
    )


def raw_events_suite(df: pd.DataFrame, *, min_rows: int = 1) -> PreparedSuite:
    """``raw_events``: schema, required fields, known event types, value ranges, unique ids."""
    specs = [
        _columns_present(RAW_EVENT_COLUMNS),
        _row_count_at_least(min_rows),
        *(_not_null(c) for c in ("event_id", "ts", "event_type", "event_date")),
        _spec("event_id_unique", "ExpectColumnValuesToBeUnique", column="event_id"),
        _spec(
            "event_type_known",
            "ExpectColumnValuesToBeInSet",
            column="event_type",
            value_set=list(EVENT_TYPES),
        ),
        _between("scroll_depth_pct", 0, 100),
        _between("hover_ms", 0, None),
        _finite("hover_ms"),
        _between("x", 0, 1),
        _between("y", 0, 1),
        _between("revenue", 0, None),
        _finite("revenue"),
    ]
    return PreparedSuite("raw_events", df, specs, "event_id" if "event_id" in df else None)


def validated_sessions_suite(
    df: pd.DataFrame, *, thresholds: BotThresholds | None = None
) -> PreparedSuite:
    """``validated_sessions``: no session breaks a bot rule and ``is_bot`` is false everywhere.

    Each checkable bot rule (its input columns present) becomes a boolean column
    ``breaks_bot_rule__<rule>`` computed by the one rule definition in
    :mod:`signal_pipeline.bots.session_rules`, expected to be all false. The validated frame holds
    only ``session_id``, ``is_bot`` and those columns. Rules whose inputs
    are absent are listed in the notes.
    """
    rules_thresholds = thresholds if thresholds is not None else BotThresholds()
    flags = rule_flags(df, rules_thresholds)
    # GX sees only the columns its expectations read: a list column (bot_reasons) would make GX
    # fingerprint the batch by pickling the whole frame, which dominates the cost at 100k+ rows.
    frame = df[[c for c in ("session_id", "is_bot") if c in df.columns]].copy()
    specs = [
        _columns_present(["session_id", "is_bot"]),
        _spec("session_id_unique", "ExpectColumnValuesToBeUnique", column="session_id"),
        _spec("is_bot_false", "ExpectColumnValuesToBeInSet", column="is_bot", value_set=[False]),
        _not_null("is_bot"),
    ]
    for rule in flags.columns:
        column = f"{RULE_COLUMN_PREFIX}{rule}"
        frame[column] = flags[rule].to_numpy(dtype=bool)
        specs.append(
            _spec(
                f"bot_rule_{rule}", "ExpectColumnValuesToBeInSet", column=column, value_set=[False]
            )
        )
    skipped = [
        rule.name
        for rule in BOT_RULES
        if rule.enabled(rules_thresholds) and rule.name not in flags.columns
    ]
    notes = [f"bot rule not checkable (input columns missing): {name}" for name in skipped]
    return PreparedSuite("validated_sessions", frame, specs, "session_id", notes)


def session_features_suite(
    df: pd.DataFrame,
    *,
    nullable_columns: Sequence[str] = NULLABLE_FEATURES_DEFAULT,
    min_rows: int = 1,
) -> PreparedSuite:
    """``session_features``: schema, no NaN/inf in features, plausible ranges, scores in [0, 1]."""
    specs = [
        _columns_present(SESSION_FEATURE_IDENTITY_COLUMNS + NUMERIC_FEATURES + BOOLEAN_FEATURES),
        _row_count_at_least(min_rows),
        _not_null("session_id"),
        _spec("session_id_unique", "ExpectColumnValuesToBeUnique", column="session_id"),
    ]
    for column in NUMERIC_FEATURES:
        if column not in nullable_columns:
            specs.append(_not_null(column))
        specs.append(_finite(column))
    specs += [_between(c, 0, None) for c in NON_NEGATIVE_FEATURES]
    specs += [_between(c, 0, 100) for c in PERCENT_FEATURES]
    specs += [_between(c, 0, 1) for c in SCORE_FEATURES]
    for column in BOOLEAN_FEATURES:
        specs.append(_not_null(column))
        specs.append(
            _spec(
                f"{column}_boolean",
                "ExpectColumnValuesToBeInSet",
                column=column,
                value_set=[True, False],
            )
        )
    return PreparedSuite("session_features", df, specs, "session_id")


SUITE_BUILDERS: dict[str, Callable[..., PreparedSuite]] = {
    "raw_events": raw_events_suite,
    "validated_sessions": validated_sessions_suite,
    "session_features": session_features_suite,
}
