"""Per-segment profiles: size, behaviour, outcomes, context mix and the action flag.

Headline metrics of a group of sessions (`headline_metrics`, shared with evaluation):
- `avg_dwell_per_page_s`: mean of `mean_dwell_per_page_s`
- `avg_scroll_depth_pct`: mean of `mean_scroll_depth_pct`
- `cta_ctr`: pooled, `sum(cta_clicks) / sum(page_views)` (not a mean of ratios)
- `conversion_rate`: share of converted sessions; `conversion_lift` = that rate / the rate over
  all sessions (NaN when nobody converted)

Action flags (the reference method's two segments), decided per segment from session-level
marks computed over *all* sessions:
- a session is *top urgency* when its `urgency_score` is at or above the all-session 85th
  percentile and above the all-session minimum (so a constant score marks nobody);
- a session is a *low-urgency rapid bounce* when its `urgency_score` is at or below the
  all-session median and it bounced (`is_bounce`) or lasted at most the all-session 25th
  percentile of `total_session_time_s`.
- `content_reinforcement` (segment A): the segment's share of top-urgency sessions is at least
  1.5× the all-session share (≈15 %);
- `ux_review` (segment B): the segment's share of low-urgency rapid bounces is at least 1.5× the
  all-session share *and* at least half of the segment;
- both qualify: the larger lift wins; neither: `none`;
- the noise segment is never flagged (`none`): it is what no pattern describes, so there is no
  common content or UX cause to act on; its rates stay in the row for inspection.

Columns (`PROFILE_HEAD_COLUMNS`, then `mean_<f>` and `median_<f>` of every numeric feature f,
then `PROFILE_TAIL_COLUMNS`); an empty input gives an empty frame with the head and tail columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from signal_pipeline.segments.config import NOISE_SEGMENT_ID
from signal_pipeline.segments.derived import with_derived_features

FLAG_CONTENT_REINFORCEMENT = "content_reinforcement"
FLAG_UX_REVIEW = "ux_review"
FLAG_NONE = "none"
NULL_CATEGORY = "(none)"
PROFILE_HEAD_COLUMNS: dict[str, str] = {
    "segment_id": "object",
    "segment_name": "object",
    "sessions": "int64",
    "share": "float64",
    "avg_dwell_per_page_s": "float64",
    "avg_scroll_depth_pct": "float64",
    "cta_ctr": "float64",
    "conversion_rate": "float64",
    "conversion_lift": "float64",
}
PROFILE_TAIL_COLUMNS: dict[str, str] = {
    "urgency_p25": "float64",
    "urgency_p50": "float64",
    "urgency_p75": "float64",
    "device_mix": "object",
    "campaign_mix": "object",
    "top_urgency_rate": "float64",
    "top_urgency_lift": "float64",
    "low_urgency_bounce_rate": "float64",
    "low_urgency_bounce_lift": "float64",
    "action_flag": "object",
}
IDENTITY_COLUMNS = ("session_id", "person_id", "session_start", "session_date")
ASSIGNMENT_ONLY_COLUMNS = ("cluster", "is_noise")


@dataclass(frozen=True)
class ActionFlagRules:
    """Thresholds of the action flags (see module docstring)."""

    top_urgency_quantile: float = 0.85
    low_urgency_quantile: float = 0.5
    short_session_quantile: float = 0.25
    min_lift: float = 1.5
    min_ux_review_rate: float = 0.5


def headline_metrics(sessions: pd.DataFrame, overall_conversion_rate: float) -> dict[str, float]:
    """Dwell, scroll, pooled CTA CTR, conversion rate and lift of a group of sessions."""

    def column_mean(name: str) -> float:
        if name not in sessions.columns or sessions.empty:
            return float("nan")
        return float(pd.to_numeric(sessions[name], errors="coerce").astype(float).mean())

    cta_ctr = float("nan")
    if {"cta_clicks", "page_views"} <= set(sessions.columns):
        page_views = float(pd.to_numeric(sessions["page_views"], errors="coerce").sum())
        if page_views > 0:
            cta_ctr = (
                float(pd.to_numeric(sessions["cta_clicks"], errors="coerce").sum()) / page_views
            )
    conversion_rate = column_mean("converted")
    lift = (
        conversion_rate / overall_conversion_rate
        if overall_conversion_rate and np.isfinite(overall_conversion_rate)
        else float("nan")
    )
    return {
        "avg_dwell_per_page_s": column_mean("mean_dwell_per_page_s"),
        "avg_scroll_depth_pct": column_mean("mean_scroll_depth_pct"),
        "cta_ctr": cta_ctr,
        "conversion_rate": conversion_rate,
        "conversion_lift": lift,
    }


def overall_conversion_rate(features: pd.DataFrame) -> float:
    """Share of converted sessions over all sessions (NaN without a `converted` column)."""
    if "converted" not in features.columns or features.empty:
        return float("nan")
    return float(pd.to_numeric(features["converted"], errors="coerce").astype(float).mean())


def session_action_marks(features: pd.DataFrame, rules: ActionFlagRules) -> pd.DataFrame:
    """Per-session `top_urgency` and `low_urgency_rapid_bounce` booleans (False if unknown)."""
    marks = pd.DataFrame(index=features.index)
    marks["top_urgency"] = False
    marks["low_urgency_rapid_bounce"] = False
    if "urgency_score" not in features.columns or features.empty:
        return marks
    urgency = pd.to_numeric(features["urgency_score"], errors="coerce").astype(float)
    if urgency.notna().sum() == 0:
        return marks
    top_cut = urgency.quantile(rules.top_urgency_quantile)
    marks["top_urgency"] = (urgency >= top_cut) & (urgency > urgency.min())
    low = urgency <= urgency.quantile(rules.low_urgency_quantile)
    rapid = pd.Series(False, index=features.index)
    if "is_bounce" in features.columns:
        rapid |= features["is_bounce"].fillna(False).astype(bool)
    if "total_session_time_s" in features.columns:
        total = pd.to_numeric(features["total_session_time_s"], errors="coerce").astype(float)
        rapid |= total <= total.quantile(rules.short_session_quantile)
    marks["low_urgency_rapid_bounce"] = low & rapid
    return marks


def action_flag(
    top_lift: float, bounce_lift: float, bounce_rate: float, rules: ActionFlagRules
) -> str:
    """The action flag of one segment from its lifts (see module docstring)."""
    content = np.isfinite(top_lift) and top_lift >= rules.min_lift
    ux = (
        np.isfinite(bounce_lift)
        and bounce_lift >= rules.min_lift
        and bounce_rate >= rules.min_ux_review_rate
    )
    if content and ux:
        return FLAG_CONTENT_REINFORCEMENT if top_lift >= bounce_lift else FLAG_UX_REVIEW
    if content:
        return FLAG_CONTENT_REINFORCEMENT
    return FLAG_UX_REVIEW if ux else FLAG_NONE


def category_mix(values: pd.Series) -> str:
    """JSON object of category → share of sessions (missing values as "(none)"), sorted."""
    shares = values.astype(object).where(values.notna(), NULL_CATEGORY).value_counts(normalize=True)
    return json.dumps({str(k): round(float(v), 6) for k, v in sorted(shares.items())})


def profile_segments(
    features: pd.DataFrame,
    assignments: pd.DataFrame,
    rules: ActionFlagRules = ActionFlagRules(),
) -> pd.DataFrame:
    """One row per segment of `assignments` profiling its sessions in `features`.

    Columns: segment_id, segment_name, sessions, share, the headline metrics, `mean_<f>` and
    `median_<f>` of every numeric feature f, urgency quartiles (`urgency_p25/p50/p75`),
    `device_mix` and `campaign_mix` (JSON), the action-flag inputs and `action_flag`. Segments
    are ordered by size, noise last. Sessions without a row in `features` are ignored.
    """
    frame = with_derived_features(features)
    frame = frame.drop(columns=[c for c in ("segment_id", "segment_name") if c in frame.columns])
    joined = assignments[["session_id", "segment_id", "segment_name"]].merge(
        frame, on="session_id", how="inner", validate="one_to_one"
    )
    numeric_columns = [
        c
        for c in joined.select_dtypes(include=["number", "bool"]).columns
        if c not in IDENTITY_COLUMNS and c not in ASSIGNMENT_ONLY_COLUMNS
    ]
    marks = session_action_marks(joined, rules)
    overall_top = float(marks["top_urgency"].mean()) if len(joined) else float("nan")
    overall_bounce = (
        float(marks["low_urgency_rapid_bounce"].mean()) if len(joined) else float("nan")
    )
    base_conversion = overall_conversion_rate(joined)
    rows = []
    for (segment_id, segment_name), group in joined.groupby(
        ["segment_id", "segment_name"], sort=False
    ):
        row: dict[str, object] = {
            "segment_id": segment_id,
            "segment_name": segment_name,
            "sessions": len(group),
            "share": len(group) / len(joined),
            **headline_metrics(group, base_conversion),
        }
        numeric = group[numeric_columns].astype(float)
        for column, value in numeric.mean().items():
            row[f"mean_{column}"] = float(value)
        for column, value in numeric.median().items():
            row[f"median_{column}"] = float(value)
        row.update(_urgency_quartiles(group))
        for context in ("device_type", "campaign"):
            if context in group.columns:
                row[f"{context.removesuffix('_type')}_mix"] = category_mix(group[context])
        top_rate = float(marks.loc[group.index, "top_urgency"].mean())
        bounce_rate = float(marks.loc[group.index, "low_urgency_rapid_bounce"].mean())
        top_lift = _ratio(top_rate, overall_top)
        bounce_lift = _ratio(bounce_rate, overall_bounce)
        row.update(
            {
                "top_urgency_rate": top_rate,
                "top_urgency_lift": top_lift,
                "low_urgency_bounce_rate": bounce_rate,
                "low_urgency_bounce_lift": bounce_lift,
                "action_flag": FLAG_NONE
                if segment_id == NOISE_SEGMENT_ID
                else action_flag(top_lift, bounce_lift, bounce_rate, rules),
            }
        )
        rows.append(row)
    profiles = pd.DataFrame(rows)
    if profiles.empty:
        empty = {**PROFILE_HEAD_COLUMNS, **PROFILE_TAIL_COLUMNS}
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})
    feature_columns = [c for c in profiles.columns if c.startswith(("mean_", "median_"))]
    profiles = profiles.reindex(
        columns=[*PROFILE_HEAD_COLUMNS, *feature_columns, *PROFILE_TAIL_COLUMNS]
    )
    order = profiles.assign(_noise=profiles["segment_id"] == NOISE_SEGMENT_ID).sort_values(
        ["_noise", "sessions", "segment_id"], ascending=[True, False, True], kind="stable"
    )
    return order.drop(columns="_noise").reset_index(drop=True)


def _urgency_quartiles(group: pd.DataFrame) -> dict[str, float]:
    """25th, 50th and 75th percentile of `urgency_score` (NaN when absent)."""
    if "urgency_score" not in group.columns:
        return {"urgency_p25": np.nan, "urgency_p50": np.nan, "urgency_p75": np.nan}
    urgency = pd.to_numeric(group["urgency_score"], errors="coerce").astype(float)
    q25, q50, q75 = urgency.quantile([0.25, 0.5, 0.75])
    return {"urgency_p25": float(q25), "urgency_p50": float(q50), "urgency_p75": float(q75)}


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 or not finite."""
    if not np.isfinite(denominator) or denominator == 0:
        return float("nan")
    return numerator / denominator
