"""CUSUM rows per (day, signal) against a model baseline, and each signal's alarm state.

The chart of every signal starts on the first day of the baseline window of the current model
(the days the model was fitted on) and runs forward without resets, so the statistics of a day
depend only on the series from the baseline start up to that day and on the baseline: any
partition recomputes to the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from signal_pipeline.drift.cusum import CusumResult, estimated_change_index, tabular_cusum

DEFAULT_SIGMA_CONFIDENCE = 0.9


def guarded_sigma(std: float, days: int, confidence: float = DEFAULT_SIGMA_CONFIDENCE) -> float:
    """The σ the CUSUM standardizes with: the baseline's sample σ widened for estimation error.

    A baseline of n daily values estimates μ and σ with error; a CUSUM that treats them as
    exact raises false alarms far sooner than its nominal in-control run length (on simulated
    stable days a 14-day baseline alarmed within 30 days on 2 of 3 seeds). Two standard terms:
    ``sqrt(1 + 1/n)`` (a new day's deviation from an estimated mean) and the upper
    ``confidence`` bound of σ from its χ² distribution, ``sqrt((n − 1) / χ²_{1−c, n−1})``
    (×1.36 for n = 14, ×1.21 for n = 30, → 1 as n grows). ``confidence <= 0`` uses the plain
    sample σ.
    """
    from scipy import stats

    if not np.isfinite(std) or std <= 0 or days < 2 or confidence <= 0:
        return float(std)
    if not confidence < 1:
        raise ValueError(f"confidence must be below 1, got {confidence}")
    dof = days - 1
    widening = np.sqrt(1 + 1 / days) * np.sqrt(dof / stats.chi2.ppf(1 - confidence, dof))
    return float(std * widening)


def guarded_k(k: float, days: int, confidence: float = DEFAULT_SIGMA_CONFIDENCE) -> float:
    """The allowance the CUSUM uses: ``k`` plus the baseline mean's possible bias, in σ.

    The mean of n baseline days is off by about σ/√n, and the same bias is added to every
    monitored day, so a plain CUSUM drifts towards h on stable data (on the simulator, a 14-day
    baseline 1σ above the long-run level alarmed on stable days). Widening the allowance by the
    ``confidence`` quantile of that error, ``z_c / √n`` (+0.34σ for n = 14 at 90%, +0.23σ for
    n = 30, → 0 as n grows), absorbs it. ``confidence <= 0`` or fewer than 2 days: plain ``k``.
    """
    from scipy import stats

    if days < 2 or confidence <= 0:
        return float(k)
    if not confidence < 1:
        raise ValueError(f"confidence must be below 1, got {confidence}")
    return float(k + stats.norm.ppf(confidence) / np.sqrt(days))


DRIFT_COLUMNS: tuple[str, ...] = (
    "day",
    "signal",
    "value",
    "sessions",
    "baseline_mean",
    "baseline_std",
    "baseline_days",
    "cusum_sigma",
    "cusum_k",
    "z",
    "cusum_pos",
    "cusum_neg",
    "alarm",
    "model_version",
)
"""Columns of ``drift_statistics``; the CUSUM columns are NULL before the baseline window.
``z = (value − baseline_mean) / cusum_sigma`` (see :func:`guarded_sigma`); the sums use the
allowance ``cusum_k`` (see :func:`guarded_k`)."""


@dataclass(frozen=True)
class SignalStatus:
    """One signal's state on ``as_of`` (the last day of a materialized range).

    ``alarm_start`` is the first day since the baseline start on which either sum exceeded h;
    ``change_point`` the estimated first day of the shift behind it (see
    :func:`estimated_change_index`) and ``direction`` "up" or "down".
    """

    signal: str
    as_of: str | None
    value: float | None
    z: float | None
    cusum_pos: float | None
    cusum_neg: float | None
    alarm_now: bool
    alarm_start: str | None
    change_point: str | None
    direction: str | None
    baseline_mean: float | None
    baseline_std: float | None
    cusum_sigma: float | None
    cusum_k: float | None
    message: str | None = None

    def as_json(self) -> dict[str, object]:
        """JSON-safe dict (NaN becomes None) for metadata."""
        return {
            key: (None if isinstance(value, float) and not np.isfinite(value) else value)
            for key, value in asdict(self).items()
        }


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in DRIFT_COLUMNS})


def signal_cusum(
    group: pd.DataFrame,
    baseline: Mapping[str, float],
    monitored_from: date | None,
    k: float,
    h: float,
    confidence: float = DEFAULT_SIGMA_CONFIDENCE,
) -> tuple[pd.DataFrame, CusumResult | None]:
    """One signal's rows (sorted by day) with its CUSUM from ``monitored_from`` onwards.

    Days before ``monitored_from`` (or every day without a baseline start) keep NaN sums.
    """
    group = group.sort_values("day").reset_index(drop=True)
    mean = float(baseline.get("mean", np.nan))
    std = float(baseline.get("std", np.nan))
    days = int(baseline.get("days", 0) or 0)
    sigma = guarded_sigma(std, days, confidence)
    allowance = guarded_k(k, days, confidence)
    n_rows = len(group)
    z = np.full(n_rows, np.nan)
    pos = np.full(n_rows, np.nan)
    neg = np.full(n_rows, np.nan)
    alarm = np.zeros(n_rows, dtype=bool)
    result = None
    if monitored_from is not None:
        monitored = (group["day"] >= monitored_from).to_numpy()
        result = tabular_cusum(
            group.loc[monitored, "value"].to_numpy(float), mean, sigma, k=allowance, h=h
        )
        z[monitored] = result.z
        pos[monitored] = result.cusum_pos
        neg[monitored] = result.cusum_neg
        alarm[monitored] = result.alarms
    rows = group.assign(
        baseline_mean=mean,
        baseline_std=std,
        baseline_days=days,
        cusum_sigma=sigma,
        cusum_k=allowance,
        z=z,
        cusum_pos=pos,
        cusum_neg=neg,
        alarm=alarm,
    )
    return rows, result


def cusum_table(
    series: pd.DataFrame,
    baselines: Mapping[str, Mapping[str, float]],
    version: int,
    monitored_from: date | None,
    *,
    k: float,
    h: float,
    confidence: float = DEFAULT_SIGMA_CONFIDENCE,
) -> pd.DataFrame:
    """CUSUM rows (``DRIFT_COLUMNS``) of every signal in the long ``series`` (day, signal, ...)."""
    frames = []
    for signal, group in series.groupby("signal", sort=True):
        baseline = baselines.get(str(signal), {})
        rows, _ = signal_cusum(group, baseline, monitored_from, k, h, confidence)
        frames.append(rows.assign(model_version=version))
    if not frames:
        return _empty_table()
    return pd.concat(frames, ignore_index=True)[list(DRIFT_COLUMNS)]


def _finite(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


def signal_status(
    rows: pd.DataFrame,
    signal: str,
    baseline: Mapping[str, float],
    monitored_from: date | None,
    as_of: date,
    *,
    k: float,
    h: float,
    confidence: float = DEFAULT_SIGMA_CONFIDENCE,
) -> SignalStatus:
    """The state of ``signal`` on ``as_of`` from its rows (day, value) up to that day."""
    upto = rows[rows["day"] <= as_of]
    table, result = signal_cusum(upto, baseline, monitored_from, k, h, confidence)
    message = result.message if result is not None else "no model baseline yet: not monitored"
    if table.empty:
        return SignalStatus(
            signal,
            None,
            None,
            None,
            None,
            None,
            False,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            message,
        )
    last = table.iloc[-1]
    alarm_start = change_point = direction = None
    if result is not None and result.first_alarm is not None:
        monitored_days = table.loc[table["day"] >= monitored_from, "day"].tolist()
        first = result.first_alarm
        alarm_start = str(monitored_days[first])
        change_point = str(monitored_days[estimated_change_index(result, first)])
        direction = "up" if result.cusum_pos[first] >= result.cusum_neg[first] else "down"
    return SignalStatus(
        signal=signal,
        as_of=str(last["day"]),
        value=_finite(last["value"]),
        z=_finite(last["z"]),
        cusum_pos=_finite(last["cusum_pos"]),
        cusum_neg=_finite(last["cusum_neg"]),
        alarm_now=bool(last["alarm"]),
        alarm_start=alarm_start,
        change_point=change_point,
        direction=direction,
        baseline_mean=_finite(last["baseline_mean"]),
        baseline_std=_finite(last["baseline_std"]),
        cusum_sigma=_finite(last["cusum_sigma"]),
        cusum_k=_finite(last["cusum_k"]),
        message=message,
    )


@dataclass(frozen=True)
class DriftAlarm:
    """The earliest alarm over all signals: what the drift sensor acts on."""

    alarm_start: str
    change_point: str
    signals: list[str]
    delay_days: int
    """Days from the estimated change point to the alarm (the detection delay, estimated)."""

    def as_json(self) -> dict[str, object]:
        """JSON dict for metadata."""
        return asdict(self)


def earliest_alarm(statuses: Sequence[SignalStatus]) -> DriftAlarm | None:
    """The first alarm start over every signal, its change point and every signal in alarm.

    With several signals alarming on the same first day, the latest change point is taken (the
    window after it is free of the shift for all of them).
    """
    alarmed = [s for s in statuses if s.alarm_start and s.change_point]
    if not alarmed:
        return None
    start = min(str(s.alarm_start) for s in alarmed)
    first = [s for s in alarmed if s.alarm_start == start]
    change = max(str(s.change_point) for s in first)
    return DriftAlarm(
        alarm_start=start,
        change_point=change,
        signals=sorted(s.signal for s in alarmed),
        delay_days=(date.fromisoformat(start) - date.fromisoformat(change)).days,
    )
