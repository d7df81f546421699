"""The configurable thresholds of every bot rule, in one frozen value object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class BotThresholds:
    """Thresholds of the bot rules (the lead exposes each field as a ``dg.Config`` field).

    Defaults are chosen from what a human can physically do, never fitted to one data set:

    * ``short_session``: shorter than ``min_session_s`` (the reference method's 10 s) **and**
      more than a quiet bounce: at least ``short_session_min_page_views`` page views or at least
      ``short_session_min_interactions`` distinct interactions. A one-page visit that leaves
      within 10 s after at most one interaction is a human bounce and is kept (the contract keeps
      bounces, ``session_features.is_bounce``, and the "rapid bouncer" segment needs them); a
      session that crams several pages or interactions into under 10 s is a script. Set
      ``short_session_min_page_views=1`` for the plain duration rule.
    * ``click_rate``: ``max_clicks_per_second`` (from ``session_metrics``) above the maximum;
      10/s is beyond any human (fast deliberate clicking tops out at about 6-8/s).
    * ``rapid_clicks``: at least ``rapid_click_min_pairs`` consecutive click pairs closer than
      ``rapid_click_gap_s``. One double-click is one such pair and a triple-click (paragraph
      selection) two, so 3 is the smallest count that no single human click gesture reaches.
    * ``few_interactions``: fewer than ``min_distinct_interactions`` distinct interactions
      **despite** at least ``few_interactions_min_events`` active events (events other than
      ``page_ping`` / ``scroll``, which trackers fire on timers and scroll thresholds). A reader
      with one page view, scrolls and heartbeats has 1-2 distinct interactions and is human;
      ten actions that all repeat one or two interactions are a script.
    * ``crawler_user_agent``: the user agent matches the crawler list (``crawlerdetect``).
    * ``unnatural_pointer``: among at least ``pointer_min_events`` pointer events (non-null
      ``x`` and ``y``, heartbeats excluded) the pointer never moved (variance of both ``x`` and
      ``y`` at most ``pointer_max_variance``, i.e. a standard deviation below 1/30 000 of the
      viewport: under one pixel on any screen) or the intervals between them are perfectly
      regular (coefficient of variation below ``pointer_max_interval_cv``; human intervals have
      a CV near 1, a timer-driven script's is near 0).
    * ``behavioural_anomaly``: IsolationForest. The score is always stored; the rule is off
      (``anomaly_rule=False``) because without labelled data from the target site there is no
      evidence it improves precision or recall over the explicit rules.
    """

    min_session_s: float = 10.0
    short_session_min_page_views: int = 2
    short_session_min_interactions: int = 2
    max_clicks_per_second: float = 10.0
    rapid_click_gap_s: float = 0.2
    rapid_click_min_pairs: int = 3
    min_distinct_interactions: int = 3
    few_interactions_min_events: int = 10
    crawler_user_agent: bool = True
    pointer_checks: bool = True
    pointer_min_events: int = 5
    pointer_max_variance: float = 1e-9
    pointer_max_interval_cv: float = 0.05
    anomaly_rule: bool = False
    anomaly_contamination: float = 0.01
    random_state: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.anomaly_contamination <= 0.5:
            raise ValueError("anomaly_contamination must be in (0, 0.5]")
        for name in (
            "short_session_min_page_views",
            "short_session_min_interactions",
            "rapid_click_min_pairs",
            "few_interactions_min_events",
            "pointer_min_events",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.pointer_min_events < 3:
            raise ValueError("pointer_min_events must be at least 3 (two intervals)")

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as a plain dict (for run metadata)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> BotThresholds:
        """Build thresholds from a mapping (e.g. a ``dg.Config``), ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
