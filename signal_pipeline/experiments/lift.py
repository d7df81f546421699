"""The per-segment lift table: every segment (and all sessions) × metric × treatment variant.

Input: one row per validated session with `experiment`, `variant`, `segment_id`,
`segment_name`, `session_date`, the stratification columns (default `device_type`, `campaign`)
and the outcome columns (`cta_clicks`, `converted`). Sessions without an experiment or variant
are not part of any comparison.

Per row of the output (columns: `LIFT_COLUMNS`):
- raw: rate per arm with Wilson intervals, absolute lift (Newcombe interval), relative lift
  (Katz log interval), pooled two-proportion z-test p-value;
- adjusted for the strata: Mantel–Haenszel risk difference (Sato interval), MH odds ratio, CMH
  p-value, and a logistic regression odds ratio with the strata as covariates;
- `q_value`: Benjamini–Hochberg across the segments of one experiment, variant and metric,
  applied to the adjusted (CMH) p-values; `significant` = q < alpha;
- with a treatment start date: the analysis window is sessions on/after it, the pre-period lift
  is a placebo check, and the difference in differences (raw, and adjusted by OLS with the
  strata) answers "did the metric rise only after the start?";
- power to detect `target_relative_lift`, sessions needed per arm, minimum detectable lift, and a
  `status` of "not enough data" (then no estimates are given), "underpowered" or "ok".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from signal_pipeline.experiments import power as pw
from signal_pipeline.experiments.multiple_testing import benjamini_hochberg
from signal_pipeline.experiments.proportions import (
    newcombe_difference_interval,
    ratio_interval,
    two_proportion_p_value,
    wilson_interval,
)
from signal_pipeline.experiments.regression import (
    MISSING_LEVEL,
    adjusted_odds_ratio,
    covariate_dummies,
    difference_in_differences,
)
from signal_pipeline.experiments.stratified import mantel_haenszel

OVERALL_SEGMENT_ID = "__all__"
OVERALL_SEGMENT_NAME = "all sessions"
CONTROL_NAMES = ("control", "baseline", "holdout", "original", "default", "a")
"""Variant names recognised as the control arm (case-insensitive), in order of preference."""

NOT_ENOUGH_DATA = "not enough data"
UNDERPOWERED = "underpowered"
OK = "ok"

#: Session-level outcomes: the session (the unit of randomisation) is the binomial trial.
METRICS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "cta_click_through": lambda f: (f["cta_clicks"].fillna(0).to_numpy() > 0).astype(int),
    "conversion": lambda f: f["converted"].fillna(False).astype(bool).to_numpy().astype(int),
}

#: The output table's columns and DuckDB types (the table is created from this list).
LIFT_COLUMNS: dict[str, str] = {
    "experiment": "VARCHAR",
    "control_variant": "VARCHAR",
    "treatment_variant": "VARCHAR",
    "metric": "VARCHAR",
    "segment_id": "VARCHAR",
    "segment_name": "VARCHAR",
    "is_overall": "BOOLEAN",
    "window_start": "DATE",
    "window_end": "DATE",
    "control_sessions": "BIGINT",
    "control_successes": "BIGINT",
    "control_rate": "DOUBLE",
    "control_ci_low": "DOUBLE",
    "control_ci_high": "DOUBLE",
    "treatment_sessions": "BIGINT",
    "treatment_successes": "BIGINT",
    "treatment_rate": "DOUBLE",
    "treatment_ci_low": "DOUBLE",
    "treatment_ci_high": "DOUBLE",
    "abs_lift": "DOUBLE",
    "abs_lift_ci_low": "DOUBLE",
    "abs_lift_ci_high": "DOUBLE",
    "rel_lift": "DOUBLE",
    "rel_lift_ci_low": "DOUBLE",
    "rel_lift_ci_high": "DOUBLE",
    "p_value_raw": "DOUBLE",
    "strata": "INTEGER",
    "adjusted_abs_lift": "DOUBLE",
    "adjusted_ci_low": "DOUBLE",
    "adjusted_ci_high": "DOUBLE",
    "mh_odds_ratio": "DOUBLE",
    "logit_odds_ratio": "DOUBLE",
    "logit_or_ci_low": "DOUBLE",
    "logit_or_ci_high": "DOUBLE",
    "logit_p_value": "DOUBLE",
    "p_value": "DOUBLE",
    "q_value": "DOUBLE",
    "significant": "BOOLEAN",
    "confound_shift": "DOUBLE",
    "pre_period_lift": "DOUBLE",
    "pre_period_ci_low": "DOUBLE",
    "pre_period_ci_high": "DOUBLE",
    "did_estimate": "DOUBLE",
    "did_ci_low": "DOUBLE",
    "did_ci_high": "DOUBLE",
    "did_p_value": "DOUBLE",
    "did_adjusted": "DOUBLE",
    "did_adjusted_ci_low": "DOUBLE",
    "did_adjusted_ci_high": "DOUBLE",
    "did_adjusted_p_value": "DOUBLE",
    "counterfactual": "VARCHAR",
    "power_at_target": "DOUBLE",
    "sessions_needed_per_arm": "DOUBLE",
    "min_detectable_lift": "DOUBLE",
    "status": "VARCHAR",
    "note": "VARCHAR",
}


@dataclass(frozen=True)
class LiftSettings:
    """How the lift is estimated (the asset's and the CLI's options)."""

    treatment_start: date | None = None
    """Sessions from this date are the analysis window; earlier ones the pre-period (DiD)."""
    control_variant: str | None = None
    """Name of the control arm; None = recognised by name (CONTROL_NAMES), else the first."""
    alpha: float = 0.05
    power: float = 0.8
    target_relative_lift: float = 0.10
    """Lift (relative to the control rate) that power and sample size are computed for."""
    min_sessions_per_arm: int = 30
    min_outcomes: int = 5
    """Fewest successes and fewest failures (both arms pooled) for any estimate."""
    strata: tuple[str, ...] = ("device_type", "campaign")

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.power < 1.0:
            raise ValueError("alpha and power must be in (0, 1)")
        if self.target_relative_lift <= 0.0:
            raise ValueError("target_relative_lift must be positive")
        if self.min_sessions_per_arm < 2 or self.min_outcomes < 1:
            raise ValueError("min_sessions_per_arm must be ≥ 2 and min_outcomes ≥ 1")


def choose_control(variants: list[str], configured: str | None) -> str:
    """The control arm among `variants` (ValueError when a configured one is absent)."""
    if configured is not None:
        if configured not in variants:
            raise ValueError(f"control variant {configured!r} not among {sorted(variants)}")
        return configured
    by_name = {v.lower(): v for v in variants}
    for name in CONTROL_NAMES:
        if name in by_name:
            return by_name[name]
    return sorted(variants)[0]


def empty_lift_table() -> pd.DataFrame:
    """The lift table with no rows (no session carries an experiment)."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in LIFT_COLUMNS})


def _strata_keys(frame: pd.DataFrame, strata: tuple[str, ...]) -> pd.Series:
    columns = [c for c in strata if c in frame.columns]
    if not columns:
        return pd.Series("all", index=frame.index)
    parts = [frame[c].astype("object").where(frame[c].notna(), MISSING_LEVEL).astype(str)
             for c in columns]  # fmt: skip
    key = parts[0]
    for part in parts[1:]:
        key = key + "|" + part
    return key


def _stratified_counts(
    y: np.ndarray, treated: np.ndarray, keys: pd.Series
) -> tuple[np.ndarray, ...]:
    table = pd.DataFrame({"key": keys.to_numpy(), "t": treated, "y": y})
    grouped = table.groupby(["key", "t"])["y"].agg(["sum", "count"]).unstack("t", fill_value=0)

    def column(stat: str, arm: int) -> np.ndarray:
        return (
            grouped[(stat, arm)].to_numpy(float)
            if (stat, arm) in grouped
            else np.zeros(len(grouped))
        )

    return column("sum", 1), column("count", 1), column("sum", 0), column("count", 0)


def _enough(y: np.ndarray, treated: np.ndarray, settings: LiftSettings) -> str | None:
    """None when the comparison has enough data, else the reason."""
    n1, n0 = int(treated.sum()), int((1 - treated).sum())
    if min(n1, n0) < settings.min_sessions_per_arm:
        return (
            f"{NOT_ENOUGH_DATA}: {n0} control / {n1} treatment sessions "
            f"(need ≥ {settings.min_sessions_per_arm} per arm)"
        )
    successes = int(y.sum())
    if min(successes, len(y) - successes) < settings.min_outcomes:
        return (
            f"{NOT_ENOUGH_DATA}: {successes} successes / {len(y) - successes} failures "
            f"(need ≥ {settings.min_outcomes} of each)"
        )
    return None


def _compare(
    post: pd.DataFrame, pre: pd.DataFrame | None, metric: str, control: str, settings: LiftSettings
) -> dict[str, object]:
    """One row: raw and adjusted lift of `metric` in `post`, placebo and DiD against `pre`."""
    y = METRICS[metric](post)
    treated = (post["variant"].to_numpy() != control).astype(int)
    x1, n1 = int(y[treated == 1].sum()), int(treated.sum())
    x0, n0 = int(y[treated == 0].sum()), int(len(y) - n1)
    row: dict[str, object] = {
        "control_sessions": n0,
        "control_successes": x0,
        "treatment_sessions": n1,
        "treatment_successes": x1,
    }
    if n0:
        row["control_rate"] = x0 / n0
        row["control_ci_low"], row["control_ci_high"] = wilson_interval(x0, n0, settings.alpha)
    if n1:
        row["treatment_rate"] = x1 / n1
        row["treatment_ci_low"], row["treatment_ci_high"] = wilson_interval(x1, n1, settings.alpha)
    reason = _enough(y, treated, settings)
    row.update(_power(x0, n0, n1, settings))
    if reason is not None:
        row["status"], row["note"] = NOT_ENOUGH_DATA, reason
        row["counterfactual"] = NOT_ENOUGH_DATA
        return row

    a = settings.alpha
    row["abs_lift"] = x1 / n1 - x0 / n0
    row["abs_lift_ci_low"], row["abs_lift_ci_high"] = newcombe_difference_interval(
        x1, n1, x0, n0, a
    )
    row["rel_lift"], low, high = ratio_interval(x1, n1, x0, n0, a)
    row["rel_lift"] = row["rel_lift"] - 1.0  # type: ignore[operator]
    row["rel_lift_ci_low"], row["rel_lift_ci_high"] = low - 1.0, high - 1.0
    row["p_value_raw"] = two_proportion_p_value(x1, n1, x0, n0)

    keys = _strata_keys(post, settings.strata)
    mh = mantel_haenszel(*_stratified_counts(y, treated, keys), alpha=a)
    row.update(
        strata=mh.strata,
        adjusted_abs_lift=mh.risk_difference,
        adjusted_ci_low=mh.rd_ci_low,
        adjusted_ci_high=mh.rd_ci_high,
        mh_odds_ratio=mh.odds_ratio,
        p_value=mh.p_value,
        confound_shift=mh.risk_difference - row["abs_lift"],  # type: ignore[operator]
    )
    dummies = covariate_dummies(post, list(settings.strata), outcome=y)
    logit = adjusted_odds_ratio(y, treated, dummies, a)
    row.update(
        logit_odds_ratio=logit.estimate,
        logit_or_ci_low=logit.ci_low,
        logit_or_ci_high=logit.ci_high,
        logit_p_value=logit.p_value,
    )
    row["status"] = OK if row.get("power_at_target", 0.0) >= settings.power else UNDERPOWERED  # type: ignore[operator]
    row["note"] = (
        ""
        if row["status"] == OK
        else (
            f"{UNDERPOWERED}: power {row['power_at_target']:.0%} for a "
            f"{settings.target_relative_lift:.0%} relative lift"
        )
    )
    row.update(_counterfactual(post, pre, metric, control, settings))
    return row


def _power(x0: int, n0: int, n1: int, settings: LiftSettings) -> dict[str, object]:
    if n0 == 0 or n1 == 0:
        return {}
    p0 = x0 / n0
    target = p0 * (1.0 + settings.target_relative_lift)
    if p0 <= 0.0 or target > 1.0:
        return {}
    return {
        "power_at_target": pw.power_two_proportions(p0, target, n0, n1, settings.alpha),
        "sessions_needed_per_arm": math.ceil(
            pw.sessions_per_arm(p0, target, settings.alpha, settings.power)
        ),
        "min_detectable_lift": pw.minimum_detectable_lift(
            p0, n0, n1, settings.alpha, settings.power
        ),
    }


def _counterfactual(
    post: pd.DataFrame, pre: pd.DataFrame | None, metric: str, control: str, settings: LiftSettings
) -> dict[str, object]:
    """Placebo (pre-period lift) and difference in differences; a one-phrase verdict."""
    if pre is None:
        return {"counterfactual": "no treatment start date"}
    y_pre = METRICS[metric](pre)
    t_pre = (pre["variant"].to_numpy() != control).astype(int)
    if _enough(y_pre, t_pre, settings) is not None:
        return {"counterfactual": f"{NOT_ENOUGH_DATA} before the start"}
    row: dict[str, object] = {}
    x1, n1 = int(y_pre[t_pre == 1].sum()), int(t_pre.sum())
    x0, n0 = int(y_pre[t_pre == 0].sum()), int(len(y_pre) - n1)
    row["pre_period_lift"] = x1 / n1 - x0 / n0
    row["pre_period_ci_low"], row["pre_period_ci_high"] = newcombe_difference_interval(
        x1, n1, x0, n0, settings.alpha
    )
    both = pd.concat([pre, post], ignore_index=True)
    y = np.concatenate([y_pre, METRICS[metric](post)])
    treated = (both["variant"].to_numpy() != control).astype(int)
    after = np.concatenate([np.zeros(len(pre)), np.ones(len(post))])
    raw = difference_in_differences(y, treated, after, alpha=settings.alpha)
    adjusted = difference_in_differences(
        y, treated, after, covariate_dummies(both, list(settings.strata)), settings.alpha
    )
    row.update(
        did_estimate=raw.estimate,
        did_ci_low=raw.ci_low,
        did_ci_high=raw.ci_high,
        did_p_value=raw.p_value,
        did_adjusted=adjusted.estimate,
        did_adjusted_ci_low=adjusted.ci_low,
        did_adjusted_ci_high=adjusted.ci_high,
        did_adjusted_p_value=adjusted.p_value,
    )
    placebo_clean = row["pre_period_ci_low"] <= 0.0 <= row["pre_period_ci_high"]  # type: ignore[operator]
    if not placebo_clean:
        verdict = "arms already differed before the start"
    elif adjusted.ci_low > 0.0:
        verdict = "rose only after the start"
    elif adjusted.ci_high < 0.0:
        verdict = "fell only after the start"
    elif math.isnan(adjusted.estimate):
        verdict = "difference in differences not estimable"
    else:
        verdict = "no change after the start"
    row["counterfactual"] = verdict
    return row


def segment_ids(frame: pd.DataFrame) -> pd.Series:
    """Segment id of each session as text ("(unassigned)" when missing)."""
    ids = frame["segment_id"].astype("object")
    return ids.where(ids.notna(), "(unassigned)").astype(str)


def _segments(frame: pd.DataFrame) -> list[tuple[str, str, bool, pd.Series]]:
    """(segment_id, name, is_overall, row mask) for all sessions, then each segment by id."""
    groups = [(OVERALL_SEGMENT_ID, OVERALL_SEGMENT_NAME, True, pd.Series(True, index=frame.index))]
    ids = segment_ids(frame)
    names = frame["segment_name"].astype("object").where(frame["segment_name"].notna(), "")
    first_name = names.groupby(ids, sort=True).first()
    for segment_id, name in first_name.items():
        groups.append((str(segment_id), str(name or segment_id), False, ids == segment_id))
    return groups


def experiment_lift_table(sessions: pd.DataFrame, settings: LiftSettings) -> pd.DataFrame:
    """The lift table (columns `LIFT_COLUMNS`) of every experiment in `sessions`."""
    enrolled = sessions[sessions["experiment"].notna() & sessions["variant"].notna()].copy()
    if enrolled.empty:
        return empty_lift_table()
    enrolled["session_date"] = pd.to_datetime(enrolled["session_date"]).dt.date
    rows: list[dict[str, object]] = []
    for experiment, frame in enrolled.groupby("experiment", sort=True):
        variants = sorted(frame["variant"].astype(str).unique())
        control = choose_control(variants, settings.control_variant)
        start = settings.treatment_start
        window = frame if start is None else frame[frame["session_date"] >= start]
        before = None if start is None else frame[frame["session_date"] < start]
        for variant in (v for v in variants if v != control):
            arms = window[window["variant"].isin([control, variant])]
            arms_pre = (
                None if before is None else before[before["variant"].isin([control, variant])]
            )
            for segment_id, name, overall, mask in _segments(arms):
                post = arms[mask.reindex(arms.index, fill_value=False)]
                pre = None
                if arms_pre is not None:
                    pre = arms_pre[segment_ids(arms_pre) == segment_id] if not overall else arms_pre
                for metric in METRICS:
                    row = {
                        "experiment": str(experiment),
                        "control_variant": control,
                        "treatment_variant": variant,
                        "metric": metric,
                        "segment_id": segment_id,
                        "segment_name": name,
                        "is_overall": overall,
                        "window_start": min(post["session_date"]) if len(post) else None,
                        "window_end": max(post["session_date"]) if len(post) else None,
                    }
                    row.update(_compare(post, pre, metric, control, settings))
                    rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=list(LIFT_COLUMNS))
    return _correct(table, settings.alpha)


def _correct(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """BH q-values per (experiment, treatment variant, metric) across the segments."""
    table["q_value"] = np.nan
    segment_rows = ~table["is_overall"].astype(bool)
    family = ["experiment", "treatment_variant", "metric"]
    for _, index in table[segment_rows].groupby(family).groups.items():
        p = table.loc[index, "p_value"].astype(float).to_numpy()
        table.loc[index, "q_value"] = benjamini_hochberg(p)
    overall = table["is_overall"].astype(bool)
    table.loc[overall, "q_value"] = table.loc[overall, "p_value"]
    q = table["q_value"].astype(float)
    table["significant"] = np.where(q.notna(), q < alpha, None)
    return table
