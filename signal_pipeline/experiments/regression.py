"""Regression estimates with covariates: adjusted odds ratio (logit) and difference in differences.

Covariates are categorical columns (e.g. device type, campaign) turned into indicator columns;
levels with fewer than `min_level_sessions` sessions are pooled into one "(rare)" level so a
handful of sessions cannot make the fit degenerate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from signal_pipeline.experiments.proportions import z_value

RARE_LEVEL = "(rare)"
MISSING_LEVEL = "(none)"


@dataclass(frozen=True)
class Coefficient:
    """One model coefficient with its interval and two-sided p-value (NaN when not estimable)."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float

    @classmethod
    def missing(cls) -> Coefficient:
        """A coefficient that could not be estimated."""
        return cls(math.nan, math.nan, math.nan, math.nan)


def covariate_dummies(
    frame: pd.DataFrame,
    covariates: list[str],
    min_level_sessions: int = 20,
    outcome: np.ndarray | None = None,
) -> pd.DataFrame:
    """Indicator columns (first level dropped) of the categorical `covariates`.

    With `outcome`, levels in which the outcome never varies are pooled into "(rare)" too: their
    coefficient would run off to ±∞ (separation) and stop a logistic fit from converging. When
    the pooled "(rare)" level is itself too small or constant, it joins the most common level.
    """
    parts = []
    for column in covariates:
        if column not in frame.columns:
            continue
        values = frame[column].astype("object").where(frame[column].notna(), MISSING_LEVEL)
        values = values.astype(str).reset_index(drop=True)
        counts = values.value_counts()
        keep = values.map(counts) >= min_level_sessions
        if outcome is not None:
            spread = pd.Series(np.asarray(outcome, float)).groupby(values).agg(["min", "max"])
            varying = spread["min"] < spread["max"]
            keep &= values.map(varying).astype(bool)
        values = values.where(keep, RARE_LEVEL)
        rare = values == RARE_LEVEL
        if rare.any() and (
            int(rare.sum()) < min_level_sessions
            or (outcome is not None and np.ptp(np.asarray(outcome, float)[rare.to_numpy()]) == 0)
        ):
            common = values[~rare].mode()
            values = values.where(~rare, common.iloc[0] if len(common) else RARE_LEVEL)
        if values.nunique() < 2:
            continue
        parts.append(pd.get_dummies(values, prefix=column, drop_first=True, dtype=float))
    if not parts:
        return pd.DataFrame(index=pd.RangeIndex(len(frame)))
    return pd.concat(parts, axis=1)


def _drop_constant(design: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """Drop indicator columns that never vary (they would make the design singular)."""
    varying = [c for c in design.columns if c in keep or design[c].nunique() > 1]
    return design[varying]


def adjusted_odds_ratio(
    outcome: np.ndarray,
    treated: np.ndarray,
    covariates: pd.DataFrame,
    alpha: float = 0.05,
) -> Coefficient:
    """Odds ratio of treatment from a logistic regression on treatment + covariate indicators."""
    import statsmodels.api as sm

    y = np.asarray(outcome, float)
    if len(y) < 3 or y.min() == y.max() or np.unique(treated).size < 2:
        return Coefficient.missing()
    design = covariates.reset_index(drop=True).copy()
    design.insert(0, "treated", np.asarray(treated, float))
    design = sm.add_constant(_drop_constant(design, ["treated"]), has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(y, design).fit(disp=0, maxiter=100, method="newton")
    except (np.linalg.LinAlgError, ValueError):
        return Coefficient.missing()
    if not fit.mle_retvals.get("converged", False):
        return Coefficient.missing()
    beta = float(fit.params["treated"])
    se = float(fit.bse["treated"])
    if not np.isfinite(se) or se <= 0:
        return Coefficient.missing()
    z = z_value(alpha)
    return Coefficient(
        math.exp(beta),
        math.exp(beta - z * se),
        math.exp(beta + z * se),
        float(fit.pvalues["treated"]),
    )


def difference_in_differences(
    outcome: np.ndarray,
    treated: np.ndarray,
    post: np.ndarray,
    covariates: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> Coefficient:
    """(treated after − treated before) − (control after − control before), from OLS.

    The linear probability model y ~ treated + post + treated·post (+ covariates) with
    heteroskedasticity-robust (HC1) errors; without covariates the estimate is exactly the
    difference of the four cell means.
    """
    import statsmodels.api as sm

    y = np.asarray(outcome, float)
    treated = np.asarray(treated, float)
    post = np.asarray(post, float)
    cells = pd.crosstab(treated, post)
    if cells.shape != (2, 2) or (cells.to_numpy() < 2).any():
        return Coefficient.missing()
    design = pd.DataFrame({"treated": treated, "post": post, "did": treated * post})
    if covariates is not None and len(covariates.columns):
        design = pd.concat([design, covariates.reset_index(drop=True)], axis=1)
    design = sm.add_constant(_drop_constant(design, ["treated", "post", "did"]), has_constant="add")
    try:
        fit = sm.OLS(y, design).fit(method="qr", cov_type="HC1")
    except (np.linalg.LinAlgError, ValueError):
        return Coefficient.missing()
    estimate = float(fit.params["did"])
    se = float(fit.bse["did"])
    if not np.isfinite(se):
        return Coefficient.missing()
    z = z_value(alpha)
    return Coefficient(estimate, estimate - z * se, estimate + z * se, float(fit.pvalues["did"]))
