"""Mantel–Haenszel estimates over strata (e.g. device type × campaign) of 2×2 tables.

Per stratum k: treatment has `a` successes of `n1`, control `c` of `n0`, `N = n1 + n0`.
Strata in which either arm is empty carry no information and are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from signal_pipeline.experiments.proportions import z_value


@dataclass(frozen=True)
class StratifiedEstimate:
    """Mantel–Haenszel risk difference and odds ratio with the CMH test of no association."""

    risk_difference: float
    rd_ci_low: float
    rd_ci_high: float
    odds_ratio: float
    or_ci_low: float
    or_ci_high: float
    cmh_statistic: float
    p_value: float
    """CMH χ² (1 df, no continuity correction) p-value: conditional independence."""
    strata: int
    """Strata with both arms present."""


def _informative(
    a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, ...]:
    keep = (n1 > 0) & (n0 > 0)
    return tuple(np.asarray(v, float)[keep] for v in (a, n1, c, n0))


def mantel_haenszel(
    a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray, alpha: float = 0.05
) -> StratifiedEstimate:
    """MH risk difference (Sato's variance), MH odds ratio (Robins–Breslow–Greenland CI), CMH.

    The risk difference is Σ wₖ (aₖ/n1ₖ − cₖ/n0ₖ) / Σ wₖ with wₖ = n1ₖ n0ₖ / Nₖ; Sato's (1989)
    variance is consistent for many sparse strata and for few large ones alike.
    """
    from scipy.stats import chi2

    a, n1, c, n0 = _informative(a, n1, c, n0)
    nan = math.nan
    if len(a) == 0:
        return StratifiedEstimate(nan, nan, nan, nan, nan, nan, nan, nan, 0)
    b, d = n1 - a, n0 - c
    total = n1 + n0
    z = z_value(alpha)

    weight = n1 * n0 / total
    rd = float(np.sum(a * n0 / total - c * n1 / total) / weight.sum())
    p_term = np.sum((n1**2 * c - n0**2 * a + n1 * n0 * (n0 - n1) / 2.0) / total**2)
    q_term = np.sum((a * (n0 - c) + c * (n1 - a)) / (2.0 * total))
    rd_var = (rd * p_term + q_term) / weight.sum() ** 2
    rd_se = math.sqrt(rd_var) if rd_var > 0 else nan
    rd_low, rd_high = (rd - z * rd_se, rd + z * rd_se) if rd_se == rd_se else (nan, nan)

    r = a * d / total
    s = b * c / total
    odds_ratio = float(r.sum() / s.sum()) if s.sum() > 0 else nan
    or_low = or_high = nan
    if r.sum() > 0 and s.sum() > 0:
        p = (a + d) / total
        q = (b + c) / total
        log_var = (
            np.sum(p * r) / (2 * r.sum() ** 2)
            + np.sum(p * s + q * r) / (2 * r.sum() * s.sum())
            + np.sum(q * s) / (2 * s.sum() ** 2)
        )
        log_se = math.sqrt(log_var)
        or_low = odds_ratio * math.exp(-z * log_se)
        or_high = odds_ratio * math.exp(z * log_se)

    successes = a + c
    failures = b + d
    usable = total > 1
    expected = n1 * successes / total
    variance = np.where(
        usable, n1 * n0 * successes * failures / (total**2 * np.maximum(total - 1, 1)), 0.0
    )
    if variance.sum() > 0:
        statistic = float(np.sum((a - expected)[usable]) ** 2 / variance.sum())
        p_value = float(chi2.sf(statistic, 1))
    else:
        statistic, p_value = nan, 1.0
    return StratifiedEstimate(
        risk_difference=rd,
        rd_ci_low=rd_low,
        rd_ci_high=rd_high,
        odds_ratio=odds_ratio,
        or_ci_low=or_low,
        or_ci_high=or_high,
        cmh_statistic=statistic,
        p_value=p_value,
        strata=len(a),
    )


def wald_p_value(estimate: float, low: float, high: float, alpha: float = 0.05) -> float:
    """Two-sided p-value of a symmetric Wald interval's estimate (NaN when undefined)."""
    from scipy.stats import norm

    se = (high - low) / (2.0 * z_value(alpha))
    if not se > 0:
        return math.nan
    return float(2.0 * norm.sf(abs(estimate) / se))
