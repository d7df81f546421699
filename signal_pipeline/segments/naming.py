"""Human-readable segment names from explicit rules on segment profiles.

Every rule compares a segment's mean of a feature with the mean over *all* sessions (noise
included), as a ratio: "high" means `segment_mean >= ratio × overall_mean` and `segment_mean > 0`,
"low" means `segment_mean <= ratio × overall_mean`. Rules are tried in this order and the first
rule whose conditions all hold names the segment (a rule naming a column the data lacks is
skipped):

1. `rapid bouncer`: total_session_time_s low (≤ 0.5×) and page_views low (≤ 0.75×)
2. `deep comparer`: mean_dwell_per_page_s high (≥ 1.25×), mean_scroll_depth_pct high (≥ 1.1×),
   comparison_views high (≥ 1.5×)
3. `pricing hoverer`: pricing_hover_density_ms_per_min high (≥ 1.5×) and mean_scroll_depth_pct
   not above average (≤ 1.0×)
4. `specs-focused evaluator`: specs_dwell_share high (≥ 1.5×)
5. `engaged reader`: mean_dwell_per_page_s high (≥ 1.25×) and mean_scroll_depth_pct high (≥ 1.1×)
6. fallback `mixed browsing`

When several segments earn the same name, the first one offered (callers pass segments largest
first) keeps it and the others get " 2", " 3", ...; names already taken (inherited by matched
segments) are never handed out again.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import pandas as pd

FALLBACK_NAME = "mixed browsing"


@dataclass(frozen=True)
class Condition:
    """`segment_mean` compared with `ratio × overall_mean` of one column."""

    column: str
    direction: str  # "high" | "low"
    ratio: float

    def holds(self, segment_means: pd.Series, overall_means: pd.Series) -> bool | None:
        """True/False, or None when the column is unavailable."""
        if self.column not in segment_means.index or self.column not in overall_means.index:
            return None
        value, overall = segment_means[self.column], overall_means[self.column]
        if pd.isna(value) or pd.isna(overall):
            return None
        if self.direction == "high":
            return bool(value > 0 and value >= self.ratio * overall)
        return bool(value <= self.ratio * overall)


@dataclass(frozen=True)
class NameRule:
    """A segment name and the conditions that must all hold to earn it."""

    name: str
    conditions: tuple[Condition, ...]

    def matches(self, segment_means: pd.Series, overall_means: pd.Series) -> bool:
        """Whether every condition holds (False if any column is unavailable)."""
        outcomes = [c.holds(segment_means, overall_means) for c in self.conditions]
        return all(outcome is True for outcome in outcomes)


NAME_RULES: tuple[NameRule, ...] = (
    NameRule(
        "rapid bouncer",
        (
            Condition("total_session_time_s", "low", 0.5),
            Condition("page_views", "low", 0.75),
        ),
    ),
    NameRule(
        "deep comparer",
        (
            Condition("mean_dwell_per_page_s", "high", 1.25),
            Condition("mean_scroll_depth_pct", "high", 1.1),
            Condition("comparison_views", "high", 1.5),
        ),
    ),
    NameRule(
        "pricing hoverer",
        (
            Condition("pricing_hover_density_ms_per_min", "high", 1.5),
            Condition("mean_scroll_depth_pct", "low", 1.0),
        ),
    ),
    NameRule("specs-focused evaluator", (Condition("specs_dwell_share", "high", 1.5),)),
    NameRule(
        "engaged reader",
        (
            Condition("mean_dwell_per_page_s", "high", 1.25),
            Condition("mean_scroll_depth_pct", "high", 1.1),
        ),
    ),
)


def name_for_profile(
    segment_means: pd.Series,
    overall_means: pd.Series,
    rules: tuple[NameRule, ...] = NAME_RULES,
) -> str:
    """The name of the first rule the segment satisfies, else `FALLBACK_NAME`."""
    for rule in rules:
        if rule.matches(segment_means, overall_means):
            return rule.name
    return FALLBACK_NAME


def disambiguate(base_name: str, taken: set[str]) -> str:
    """`base_name` if free, else the first free `base_name N` (N = 2, 3, ...)."""
    if base_name not in taken:
        return base_name
    suffix = 2
    while f"{base_name} {suffix}" in taken:
        suffix += 1
    return f"{base_name} {suffix}"


def name_segments(
    segment_means: pd.DataFrame,
    overall_means: pd.Series,
    *,
    taken: Iterable[str] = (),
    rules: tuple[NameRule, ...] = NAME_RULES,
) -> dict[Hashable, str]:
    """Name every row of `segment_means` (index = segment key, in priority order), uniquely."""
    used = set(taken)
    names: dict[Hashable, str] = {}
    for key, row in segment_means.iterrows():
        name = disambiguate(name_for_profile(row, overall_means, rules), used)
        used.add(name)
        names[key] = name
    return names


def numeric_means(frame: pd.DataFrame) -> pd.Series:
    """Mean of every numeric or boolean column (the 'overall' side of the rules)."""
    numeric = frame.select_dtypes(include=["number", "bool"])
    return numeric.astype(float).mean()
