"""Daily series of the key behavioural signals that the drift monitor watches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import pandas as pd

#: Signal name → aggregate over one day's validated sessions (SQL from code, never from users).
SIGNAL_SQL: dict[str, str] = {
    "mean_dwell_s": "avg(mean_dwell_per_page_s)",
    "mean_scroll_velocity": "avg(mean_scroll_velocity_pct_per_s)",
    "cta_ctr": "sum(cta_clicks) / nullif(sum(page_views), 0)",
    "mean_urgency": "avg(urgency_score)",
}

DEFAULT_SIGNALS: tuple[str, ...] = tuple(SIGNAL_SQL)


def check_signals(names: Sequence[str]) -> tuple[str, ...]:
    """Validate signal names against the catalogue (a clear error names the known ones)."""
    unknown = [n for n in names if n not in SIGNAL_SQL]
    if unknown:
        raise ValueError(f"unknown drift signal(s) {unknown}; known: {sorted(SIGNAL_SQL)}")
    return tuple(names)


def daily_signals(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str] = DEFAULT_SIGNALS,
    first: date | None = None,
    last: date | None = None,
) -> pd.DataFrame:
    """One row per (day, signal) from ``session_features``: ``day, signal, value, sessions``.

    Days without sessions are absent (no value is invented for them).
    """
    check_signals(names)
    aggregates = ", ".join(f"{SIGNAL_SQL[n]} AS {n}" for n in names)
    wide = con.execute(
        f"SELECT session_date AS day, count(*) AS sessions, {aggregates} "
        "FROM session_features "
        "WHERE (CAST(? AS DATE) IS NULL OR session_date >= ?) "
        "AND (CAST(? AS DATE) IS NULL OR session_date <= ?) "
        "GROUP BY session_date ORDER BY session_date",
        [first, first, last, last],
    ).df()
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
