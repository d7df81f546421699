"""The lift statistics pinned against scipy / statsmodels on small hand-made tables."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from signal_pipeline.experiments import LiftSettings, experiment_lift_table
from signal_pipeline.experiments import power as pw
from signal_pipeline.experiments.lift import NOT_ENOUGH_DATA, choose_control
from signal_pipeline.experiments.multiple_testing import benjamini_hochberg
from signal_pipeline.experiments.proportions import (
    newcombe_difference_interval,
    ratio_interval,
    two_proportion_p_value,
    wilson_interval,
)
from signal_pipeline.experiments.regression import adjusted_odds_ratio, difference_in_differences
from signal_pipeline.experiments.stratified import mantel_haenszel

PAIRS = [(12, 40, 5, 38), (0, 25, 3, 30), (30, 30, 20, 31), (7, 200, 19, 180), (1, 3, 2, 9)]
STRATA = {  # treatment successes, treatment n, control successes, control n per stratum
    "a": np.array([12.0, 5, 30, 2]),
    "n1": np.array([40.0, 22, 90, 9]),
    "c": np.array([6.0, 3, 21, 1]),
    "n0": np.array([35.0, 30, 95, 12]),
}


@pytest.mark.parametrize("x,n", [(0, 10), (3, 10), (10, 10), (57, 400), (1, 1)])
def test_wilson_matches_statsmodels(x: int, n: int) -> None:
    low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
    assert wilson_interval(x, n) == pytest.approx((low, high), abs=1e-12)
    low, high = proportion_confint(x, n, alpha=0.1, method="wilson")
    assert wilson_interval(x, n, alpha=0.1) == pytest.approx((low, high), abs=1e-12)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.mark.parametrize("x1,n1,x0,n0", PAIRS)
def test_newcombe_ratio_and_z_test_match_statsmodels(x1: int, n1: int, x0: int, n0: int) -> None:
    expected = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
    assert newcombe_difference_interval(x1, n1, x0, n0) == pytest.approx(expected, abs=1e-10)
    if x1 and x0:
        ratio, low, high = ratio_interval(x1, n1, x0, n0)
        expected = confint_proportions_2indep(x1, n1, x0, n0, method="log", compare="ratio")
        assert ratio == pytest.approx((x1 / n1) / (x0 / n0))
        assert (low, high) == pytest.approx(expected, rel=1e-10)
    else:
        assert math.isnan(ratio_interval(x1, n1, x0, n0)[0])
    if 0 < x1 + x0 < n1 + n0:
        _, p = proportions_ztest([x1, x0], [n1, n0])
        assert two_proportion_p_value(x1, n1, x0, n0) == pytest.approx(p, rel=1e-10)
        table = np.array([[x1, n1 - x1], [x0, n0 - x0]])
        chi2_p = chi2_contingency(table, correction=False)[1]
        assert two_proportion_p_value(x1, n1, x0, n0) == pytest.approx(chi2_p, rel=1e-8)


def test_mantel_haenszel_odds_ratio_and_cmh_match_statsmodels() -> None:
    a, n1, c, n0 = STRATA["a"], STRATA["n1"], STRATA["c"], STRATA["n0"]
    tables = [np.array([[a[k], n1[k] - a[k]], [c[k], n0[k] - c[k]]]) for k in range(len(a))]
    reference = StratifiedTable(tables)
    mine = mantel_haenszel(a, n1, c, n0)
    assert mine.odds_ratio == pytest.approx(reference.oddsratio_pooled, rel=1e-12)
    assert (mine.or_ci_low, mine.or_ci_high) == pytest.approx(
        reference.oddsratio_pooled_confint(), rel=1e-10
    )
    test = reference.test_null_odds(correction=False)
    assert mine.cmh_statistic == pytest.approx(test.statistic, rel=1e-10)
    assert mine.p_value == pytest.approx(test.pvalue, rel=1e-10)
    assert mine.strata == 4


def test_mantel_haenszel_risk_difference() -> None:
    a, n1, c, n0 = STRATA["a"], STRATA["n1"], STRATA["c"], STRATA["n0"]
    weight = n1 * n0 / (n1 + n0)
    expected = float(np.sum(weight * (a / n1 - c / n0)) / weight.sum())
    mine = mantel_haenszel(a, n1, c, n0)
    assert mine.risk_difference == pytest.approx(expected, rel=1e-12)
    assert mine.rd_ci_low < mine.risk_difference < mine.rd_ci_high

    # One balanced stratum: Sato's variance is the unpooled Wald variance.
    one = mantel_haenszel(np.array([18]), np.array([60]), np.array([9]), np.array([60]))
    wald = confint_proportions_2indep(18, 60, 9, 60, method="wald", compare="diff")
    assert (one.rd_ci_low, one.rd_ci_high) == pytest.approx(wald, rel=1e-10)

    # Few large strata: Sato agrees with the Greenland–Robins (stratum-wise Wald) variance.
    big = {k: v * 200 for k, v in STRATA.items()}
    sato = mantel_haenszel(big["a"], big["n1"], big["c"], big["n0"])
    w = big["n1"] * big["n0"] / (big["n1"] + big["n0"])
    p1, p0 = big["a"] / big["n1"], big["c"] / big["n0"]
    gr_var = np.sum(w**2 * (p1 * (1 - p1) / big["n1"] + p0 * (1 - p0) / big["n0"])) / w.sum() ** 2
    sato_se = (sato.rd_ci_high - sato.rd_ci_low) / (2 * 1.959963984540054)
    assert sato_se == pytest.approx(math.sqrt(gr_var), rel=0.02)


def test_mantel_haenszel_ignores_strata_with_an_empty_arm() -> None:
    with_empty = mantel_haenszel(
        np.append(STRATA["a"], 4), np.append(STRATA["n1"], 10), np.append(STRATA["c"], 0),
        np.append(STRATA["n0"], 0),
    )  # fmt: skip
    plain = mantel_haenszel(STRATA["a"], STRATA["n1"], STRATA["c"], STRATA["n0"])
    assert with_empty.risk_difference == pytest.approx(plain.risk_difference)
    assert with_empty.p_value == pytest.approx(plain.p_value) and with_empty.strata == 4
    nothing = mantel_haenszel(np.array([1.0]), np.array([5.0]), np.array([0.0]), np.array([0.0]))
    assert nothing.strata == 0 and math.isnan(nothing.risk_difference)


def test_benjamini_hochberg_matches_statsmodels() -> None:
    p = np.array([0.001, 0.04, 0.03, 0.5, 0.012, 0.2, 0.049])
    expected = multipletests(p, method="fdr_bh")[1]
    assert benjamini_hochberg(p) == pytest.approx(expected, rel=1e-12)
    with_nan = benjamini_hochberg(np.array([0.01, np.nan, 0.04]))
    assert math.isnan(with_nan[1])
    assert with_nan[[0, 2]] == pytest.approx(multipletests([0.01, 0.04], method="fdr_bh")[1])


@pytest.mark.parametrize("p0,p1,n0,n1", [(0.3, 0.36, 400, 500), (0.05, 0.08, 1200, 900)])
def test_power_and_sample_size_match_statsmodels(p0: float, p1: float, n0: int, n1: int) -> None:
    h = proportion_effectsize(p1, p0)
    assert pw.cohens_h(p1, p0) == pytest.approx(h, rel=1e-12)
    expected = NormalIndPower().power(effect_size=h, nobs1=n1, alpha=0.05, ratio=n0 / n1)
    assert pw.power_two_proportions(p0, p1, n0, n1) == pytest.approx(expected, rel=1e-10)
    needed = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert pw.sessions_per_arm(p0, p1) == pytest.approx(needed, rel=1e-4)
    mde = pw.minimum_detectable_lift(p0, n0, n1)
    assert pw.power_two_proportions(p0, p0 + mde, n0, n1) == pytest.approx(0.8, abs=1e-3)
    assert math.isnan(pw.sessions_per_arm(p0, p0))


def test_regression_estimates_reduce_to_closed_forms() -> None:
    rng = np.random.default_rng(4)
    treated = rng.integers(0, 2, 600)
    post = rng.integers(0, 2, 600)
    y = (rng.random(600) < 0.2 + 0.1 * treated + 0.15 * treated * post).astype(int)
    # Treatment only: the logit odds ratio is the sample cross-product ratio.
    a, b = y[treated == 1].sum(), (1 - y[treated == 1]).sum()
    c, d = y[treated == 0].sum(), (1 - y[treated == 0]).sum()
    logit = adjusted_odds_ratio(y, treated, pd.DataFrame(index=range(600)))
    assert logit.estimate == pytest.approx(a * d / (b * c), rel=1e-6)
    assert logit.ci_low < logit.estimate < logit.ci_high
    # No covariates: the DiD is the difference of the four cell means.
    mean = {(t, p): y[(treated == t) & (post == p)].mean() for t in (0, 1) for p in (0, 1)}
    did = difference_in_differences(y, treated, post)
    assert did.estimate == pytest.approx((mean[1, 1] - mean[1, 0]) - (mean[0, 1] - mean[0, 0]))
    assert did.ci_low < did.estimate < did.ci_high


def _sessions(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """(segment, variant, device, sessions, with a CTA click) → one row per session."""
    records = []
    for segment, variant, device, n, clicks in rows:
        for i in range(n):
            records.append(
                {
                    "session_id": f"{segment}-{variant}-{device}-{i}",
                    "session_date": date(2026, 1, 1 + i % 6),
                    "experiment": "exp",
                    "variant": variant,
                    "device_type": device,
                    "campaign": None,
                    "cta_clicks": int(i < clicks),
                    "converted": i % 7 == 0,
                    "segment_id": segment,
                    "segment_name": f"segment {segment}",
                }
            )
    return pd.DataFrame(records)


def test_lift_table_by_hand_made_sessions() -> None:
    sessions = _sessions(
        [
            ("s1", "control", "desktop", 60, 12),
            ("s1", "B", "desktop", 60, 27),
            ("s2", "control", "mobile", 50, 10),
            ("s2", "B", "mobile", 12, 3),  # too few treatment sessions
        ]
    )
    table = experiment_lift_table(sessions, LiftSettings())
    cta = table[table["metric"] == "cta_click_through"].set_index("segment_id")
    s1 = cta.loc["s1"]
    assert s1["control_variant"] == "control" and s1["treatment_variant"] == "B"
    assert s1["abs_lift"] == pytest.approx(27 / 60 - 12 / 60)
    assert (s1["abs_lift_ci_low"], s1["abs_lift_ci_high"]) == pytest.approx(
        confint_proportions_2indep(27, 60, 12, 60, method="newcomb", compare="diff")
    )
    assert s1["adjusted_abs_lift"] == pytest.approx(s1["abs_lift"])  # one stratum
    s2 = cta.loc["s2"]
    assert s2["status"] == NOT_ENOUGH_DATA and "need ≥ 30 per arm" in s2["note"]
    assert math.isnan(s2["abs_lift"]) and math.isnan(s2["q_value"])
    # BH family of one tested segment: q = p; the overall row has q = its own p.
    assert s1["q_value"] == pytest.approx(s1["p_value"])
    overall = cta.loc["__all__"]
    assert overall["is_overall"] and overall["q_value"] == pytest.approx(overall["p_value"])
    # Overall: stratified by device (s1 desktop, s2 mobile), the MH estimate weighs both.
    assert overall["strata"] == 2 and overall["abs_lift"] != pytest.approx(
        overall["adjusted_abs_lift"]
    )
    assert experiment_lift_table(sessions.assign(experiment=None), LiftSettings()).empty


def test_treatment_start_splits_the_window_and_control_choice() -> None:
    sessions = _sessions([("s1", "control", "desktop", 120, 30), ("s1", "B", "desktop", 120, 30)])
    table = experiment_lift_table(sessions, LiftSettings(treatment_start=date(2026, 1, 4)))
    row = table[(table["segment_id"] == "s1") & (table["metric"] == "cta_click_through")].iloc[0]
    assert row["window_start"] == date(2026, 1, 4)
    assert row["control_sessions"] == int((sessions["session_date"] >= date(2026, 1, 4)).sum() / 2)
    assert not math.isnan(row["did_estimate"]) and not math.isnan(row["pre_period_lift"])
    assert choose_control(["B", "Baseline"], None) == "Baseline"
    assert choose_control(["x", "y"], None) == "x"
    with pytest.raises(ValueError, match="not among"):
        choose_control(["x", "y"], "control")
    with pytest.raises(ValueError):
        LiftSettings(alpha=1.5)
