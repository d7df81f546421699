"""Power and sample size of a two-proportion comparison (normal approximation, Cohen's h)."""

from __future__ import annotations

import math

from signal_pipeline.experiments.proportions import z_value


def cohens_h(p_treatment: float, p_control: float) -> float:
    """Effect size h = 2·asin(√p_t) − 2·asin(√p_c)."""
    return 2.0 * math.asin(math.sqrt(p_treatment)) - 2.0 * math.asin(math.sqrt(p_control))


def power_two_proportions(
    p_control: float, p_treatment: float, n_control: int, n_treatment: int, alpha: float = 0.05
) -> float:
    """Power of the two-sided test at level alpha to detect p_t against p_c with these sizes."""
    from scipy.stats import norm

    if n_control <= 0 or n_treatment <= 0 or not 0.0 <= p_treatment <= 1.0:
        return math.nan
    h = abs(cohens_h(p_treatment, p_control))
    scale = h * math.sqrt(n_control * n_treatment / (n_control + n_treatment))
    z = z_value(alpha)
    return float(norm.cdf(scale - z) + norm.cdf(-scale - z))


def sessions_per_arm(
    p_control: float, p_treatment: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Sessions needed in each of two equal arms (NaN when there is no effect to detect)."""
    from scipy.stats import norm

    if not (0.0 <= p_treatment <= 1.0 and 0.0 <= p_control <= 1.0):
        return math.nan
    h = abs(cohens_h(p_treatment, p_control))
    if h == 0.0:
        return math.nan
    # Each arm of n sessions: the estimate of h has variance 2 / n.
    return 2.0 * ((z_value(alpha) + float(norm.ppf(power))) / h) ** 2


def minimum_detectable_lift(
    p_control: float, n_control: int, n_treatment: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute rise over p_c detectable with this power (one tail; NaN if none)."""
    from scipy.stats import norm

    if n_control <= 0 or n_treatment <= 0 or not 0.0 <= p_control <= 1.0:
        return math.nan
    h = (z_value(alpha) + float(norm.ppf(power))) / math.sqrt(
        n_control * n_treatment / (n_control + n_treatment)
    )
    angle = math.asin(math.sqrt(p_control)) + h / 2.0
    if angle > math.pi / 2.0:
        return math.nan
    return math.sin(angle) ** 2 - p_control
