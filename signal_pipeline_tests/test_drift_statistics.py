"""Drift statistics units: daily signals, the σ guard, CUSUM rows, alarm state and change point."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signal_pipeline import db
from signal_pipeline.drift.signals import WINSOR_QUANTILE, check_signals, daily_signals
from signal_pipeline.drift.statistics import (
    cusum_table,
    earliest_alarm,
    guarded_k,
    guarded_sigma,
    signal_status,
)

START = date(2026, 1, 1)


def long_series(values: list[float], signal: str = "mean_dwell_s") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": [START + timedelta(days=i) for i in range(len(values))],
            "signal": signal,
            "value": values,
            "sessions": 100,
        }
    )


def test_guarded_sigma_widens_for_few_baseline_days() -> None:
    # n = 14: sqrt(15/14) * sqrt(13 / chi2_{0.10, 13}) with chi2_{0.10, 13} = 7.042 (tables).
    expected = np.sqrt(15 / 14) * np.sqrt(13 / 7.042)
    assert guarded_sigma(1.0, 14, 0.9) == pytest.approx(expected, 1e-3)
    widening = [guarded_sigma(2.0, n) / 2.0 for n in (7, 14, 30, 365)]
    assert widening == sorted(widening, reverse=True)
    assert 1.0 < widening[-1] < 1.1
    assert guarded_sigma(2.0, 14, confidence=0) == 2.0
    assert guarded_sigma(0.0, 14) == 0.0  # degenerate: left for the CUSUM to report
    with pytest.raises(ValueError):
        guarded_sigma(1.0, 14, confidence=1.0)


def test_rows_are_causal_so_any_partition_recomputes_the_same() -> None:
    rng = np.random.default_rng(0)
    values = list(rng.normal(10, 1, 40))
    baseline = {"mean_dwell_s": {"mean": 10.0, "std": 1.0, "days": 14}}
    full = cusum_table(long_series(values), baseline, 3, START, k=0.5, h=5)
    for cut in (14, 25, 39):
        part = cusum_table(long_series(values[: cut + 1]), baseline, 3, START, k=0.5, h=5)
        pd.testing.assert_frame_equal(part.iloc[-1:], full.iloc[cut : cut + 1].set_axis([cut]))
    assert (full["model_version"] == 3).all()


def test_days_before_the_baseline_window_are_not_monitored() -> None:
    baseline = {"mean_dwell_s": {"mean": 10.0, "std": 1.0, "days": 14}}
    table = cusum_table(
        long_series([50.0, 50.0, 10.0, 10.0]), baseline, 1, START + timedelta(days=2), k=0.5, h=5
    )
    assert table["cusum_pos"].isna().tolist() == [True, True, False, False]
    # The sums use the guarded σ and k of a 14-day baseline: C+ of a +3 day is 3/σ' − k'.
    step = cusum_table(long_series([13.0]), baseline, 1, START, k=0.5, h=5)
    sigma, allowance = guarded_sigma(1.0, 14), guarded_k(0.5, 14)
    assert step["cusum_pos"].iloc[0] == pytest.approx(3.0 / sigma - allowance)
    assert step["cusum_k"].iloc[0] == pytest.approx(allowance)
    assert not table["alarm"].any()
    no_model = cusum_table(long_series([10.0, 11.0]), {}, 0, None, k=0.5, h=5)
    assert no_model["cusum_pos"].isna().all() and not no_model["alarm"].any()


def test_status_reports_alarm_start_change_point_and_direction() -> None:
    values = [10.0] * 10 + [10.4, 18.0, 18.5, 17.8]  # step up on day 11, a small blip before
    baseline = {"mean": 10.0, "std": 1.0, "days": 60}
    status = signal_status(
        long_series(values), "mean_dwell_s", baseline, START, START + timedelta(days=13), k=0.5, h=5
    )
    assert status.alarm_start == str(START + timedelta(days=11))
    assert status.change_point == str(START + timedelta(days=11))
    assert status.direction == "up" and status.alarm_now
    assert status.cusum_sigma == pytest.approx(guarded_sigma(1.0, 60))
    quiet = signal_status(
        long_series(values), "mean_dwell_s", baseline, START, START + timedelta(days=9), k=0.5, h=5
    )
    assert quiet.alarm_start is None and not quiet.alarm_now
    assert quiet.as_of == str(START + timedelta(days=9))


def test_earliest_alarm_over_signals() -> None:
    up = [10.0] * 5 + [20.0] * 3
    down = [10.0] * 6 + [0.0] * 2
    base = {"mean": 10.0, "std": 1.0, "days": 60}
    as_of = START + timedelta(days=7)
    series = {"mean_dwell_s": up, "cta_ctr": down, "mean_urgency": [10.0] * 8}
    statuses = [
        signal_status(long_series(values, name), name, base, START, as_of, k=0.5, h=5)
        for name, values in series.items()
    ]
    alarm = earliest_alarm(statuses)
    assert alarm is not None
    assert alarm.alarm_start == str(START + timedelta(days=5))
    assert alarm.change_point == str(START + timedelta(days=5))
    assert alarm.signals == ["cta_ctr", "mean_dwell_s"]
    assert alarm.delay_days == 0
    assert earliest_alarm(statuses[2:]) is None  # urgency alone: quiet


def test_daily_signals_are_robust_to_one_outlier_session(db_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = []
    for offset in range(3):
        n = 200
        frames.append(
            pd.DataFrame(
                {
                    "session_date": START + timedelta(days=offset),
                    "mean_dwell_per_page_s": rng.gamma(2.0, 9.0, n),
                    "mean_scroll_velocity_pct_per_s": rng.gamma(1.5, 4.0, n),
                    "cta_clicks": rng.integers(0, 3, n),
                    "page_views": rng.integers(1, 8, n),
                    "urgency_score": rng.uniform(0, 1, n),
                }
            )
        )
    features = pd.concat(frames, ignore_index=True)
    features.loc[features.index[-1], "mean_scroll_velocity_pct_per_s"] = 10_000.0  # day 3
    with db.open_db(db_path) as con:
        con.register("features_frame", features)
        con.execute("CREATE TABLE session_features AS SELECT * FROM features_frame")
        series = daily_signals(con)
        only_day_2 = daily_signals(
            con, ["cta_ctr"], first=START + timedelta(days=1), last=START + timedelta(days=1)
        )
    wide = series.pivot(index="day", columns="signal", values="value")
    scroll = wide["mean_scroll_velocity"]
    # The outlier would add 10,000 / 200 = 50 to a plain mean; the winsorized mean stays put.
    assert abs(scroll.iloc[2] - scroll.iloc[:2].mean()) < 2.0
    day3 = features[features["session_date"] == START + timedelta(days=2)]
    values = day3["mean_dwell_per_page_s"]
    lo, hi = values.quantile(WINSOR_QUANTILE), values.quantile(1 - WINSOR_QUANTILE)
    assert wide["mean_dwell_s"].iloc[2] == pytest.approx(values.clip(lo, hi).mean())
    day2 = features[features["session_date"] == START + timedelta(days=1)]
    assert only_day_2["value"].tolist() == pytest.approx(
        [day2["cta_clicks"].sum() / day2["page_views"].sum()]
    )
    assert set(series["sessions"]) == {200}


def test_unknown_or_empty_signal_lists_are_rejected() -> None:
    with pytest.raises(ValueError, match="known"):
        check_signals(["mean_dwell_s", "bogus"])
    with pytest.raises(ValueError):
        check_signals([])
    assert check_signals(["cta_ctr", "cta_ctr"]) == ("cta_ctr",)


def test_guarded_k_absorbs_the_baseline_mean_error() -> None:
    # z_0.90 = 1.2816 (tables): k + 1.2816 / sqrt(n).
    assert guarded_k(0.5, 14, 0.9) == pytest.approx(0.5 + 1.2816 / np.sqrt(14), 1e-4)
    assert guarded_k(0.5, 10_000, 0.9) == pytest.approx(0.5, abs=0.02)
    assert guarded_k(0.5, 14, confidence=0) == 0.5
    assert guarded_k(0.5, 1) == 0.5
