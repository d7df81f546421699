"""Binomial proportions of two independent groups: Wilson and Newcombe intervals, z-test.

Conventions: group 1 is the treatment, group 0 the control; a difference is p1 − p0 and a
ratio p1 / p0. Every function returns NaN instead of raising on degenerate input (n = 0).
"""

from __future__ import annotations

import math


def z_value(alpha: float) -> float:
    """The two-sided standard normal quantile z_{1−α/2}."""
    from scipy.stats import norm

    return float(norm.ppf(1.0 - alpha / 2.0))


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN, NaN when n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    z = z_value(alpha)
    z2 = z * z
    centre = (successes + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(successes * (n - successes) / n + z2 / 4.0)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference_interval(
    x1: int, n1: int, x0: int, n0: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) of p1 − p0, from two Wilson intervals."""
    if n1 <= 0 or n0 <= 0:
        return math.nan, math.nan
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, alpha)
    l0, u0 = wilson_interval(x0, n0, alpha)
    diff = p1 - p0
    low = diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return low, high


def ratio_interval(
    x1: int, n1: int, x0: int, n0: int, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Risk ratio p1 / p0 and its Katz log interval; NaN when either group has no successes."""
    if n1 <= 0 or n0 <= 0 or x1 <= 0 or x0 <= 0:
        return math.nan, math.nan, math.nan
    ratio = (x1 / n1) / (x0 / n0)
    se = math.sqrt(1.0 / x1 - 1.0 / n1 + 1.0 / x0 - 1.0 / n0)
    z = z_value(alpha)
    return ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se)


def two_proportion_p_value(x1: int, n1: int, x0: int, n0: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (= χ² test without correction)."""
    from scipy.stats import norm

    if n1 <= 0 or n0 <= 0:
        return math.nan
    pooled = (x1 + x0) / (n1 + n0)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0)
    if variance <= 0.0:
        return 1.0  # every session has the same outcome: no evidence of a difference
    z = (x1 / n1 - x0 / n0) / math.sqrt(variance)
    return float(2.0 * norm.sf(abs(z)))
