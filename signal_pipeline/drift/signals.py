"""Daily series of the key behavioural signals that the drift monitor watches.

Per-session behaviour is heavy-tailed (one session can scroll at 10,000 %/s), so a plain daily
mean jumps whenever one such session lands and a CUSUM on it raises false alarms. The "mean"
signals are therefore winsorized means: each day's per-session values are clipped to that day's
[``WINSOR_QUANTILE``, 1 − ``WINSOR_QUANTILE``] quantiles before averaging. They still move with
the bulk of the sessions (a 1.8× dwell shift moves them ~1.8×) but not with a single outlier.
CTA CTR is a ratio of daily sums (clicks / page views).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

WINSOR_QUANTILE = 0.05
"""Share clipped at each end of a day's per-session values before a winsorized mean."""


@dataclass(frozen=True)
class SignalSpec:
    """A daily signal: the winsorized mean of a ``session_features`` column, or a sum ratio."""

    column: str
    denominator: str | None = None
    """When set: sum(column) / sum(denominator) over the day (a rate), not a mean."""


#: Signal name → how it is computed from ``session_features`` (identifiers from code only).
SIGNALS: dict[str, SignalSpec] = {
    "mean_dwell_s": SignalSpec("mean_dwell_per_page_s"),
    "mean_scroll_velocity": SignalSpec("mean_scroll_velocity_pct_per_s"),
    "cta_ctr": SignalSpec("cta_clicks", denominator="page_views"),
    "mean_urgency": SignalSpec("urgency_score"),
}

DEFAULT_SIGNALS: tuple[str, ...] = tuple(SIGNALS)


def check_signals(names: Sequence[str]) -> tuple[str, ...]:
    """Validate signal names against the catalogue (a clear error names the known ones)."""
    unknown = [n for n in names if n not in SIGNALS]
    if unknown:
        raise ValueError(f"unknown drift signal(s) {unknown}; known: {sorted(SIGNALS)}")
    if not names:
        raise ValueError(f"no drift signal selected; known: {sorted(SIGNALS)}")
    return tuple(dict.fromkeys(names))


def _daily_sql(names: Sequence[str]) -> str:
    """One row per day: sessions and each signal (quantile bounds in a first pass)."""
    bounds, aggregates = [], []
    for i, name in enumerate(names):
        spec = SIGNALS[name]
        if spec.denominator:
            aggregates.append(
                f"sum(f.{spec.column}) / nullif(sum(f.{spec.denominator}), 0) AS {name}"
            )
            continue
        bounds.append(
            f"quantile_cont({spec.column}, $q) AS lo_{i}, "
            f"quantile_cont({spec.column}, 1 - $q) AS hi_{i}"
        )
        aggregates.append(f"avg(least(greatest(f.{spec.column}, b.lo_{i}), b.hi_{i})) AS {name}")
    bound_columns = ", ".join(["session_date", *bounds])
    return (
        "WITH f AS (SELECT * FROM session_features WHERE "
        "(CAST($first AS DATE) IS NULL OR session_date >= $first) "
        "AND (CAST($last AS DATE) IS NULL OR session_date <= $last)), "
        f"b AS (SELECT {bound_columns} FROM f GROUP BY session_date) "
        f"SELECT f.session_date AS day, count(*) AS sessions, {', '.join(aggregates)} "
        "FROM f JOIN b USING (session_date) GROUP BY f.session_date ORDER BY f.session_date"
    )


def daily_signals(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str] = DEFAULT_SIGNALS,
    first: date | None = None,
    last: date | None = None,
) -> pd.DataFrame:
    """One row per (day, signal) from ``session_features``: ``day, signal, value, sessions``.

    Days without sessions are absent (no value is invented for them).
    """
    names = check_signals(names)
    params: dict[str, object] = {"first": first, "last": last}
    if any(SIGNALS[n].denominator is None for n in names):
        params["q"] = WINSOR_QUANTILE
    wide = con.execute(_daily_sql(names), params).df()
    if wide.empty:
        return pd.DataFrame(
            {
                "day": pd.Series(dtype="object"),
                "signal": pd.Series(dtype="object"),
                "value": pd.Series(dtype="float64"),
                "sessions": pd.Series(dtype="int64"),
            }
        )
    long = wide.melt(id_vars=["day", "sessions"], value_vars=list(names), var_name="signal")
    long["day"] = pd.to_datetime(long["day"]).dt.date
    long["value"] = long["value"].astype("float64")
    return (
        long[["day", "signal", "value", "sessions"]]
        .sort_values(["signal", "day"])
        .reset_index(drop=True)
    )


def baseline_statistics(series: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof=1) of each signal's daily values over a window."""
    stats: dict[str, dict[str, float]] = {}
    for signal, group in series.groupby("signal"):
        values = group["value"].dropna().to_numpy(dtype=float)
        stats[str(signal)] = {
            "mean": float(values.mean()) if len(values) else float("nan"),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "days": len(values),
        }
    return stats
