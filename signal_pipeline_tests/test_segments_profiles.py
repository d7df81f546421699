"""Segment naming rules, profiles, action flags and evaluation measures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from signal_pipeline.segments import (
    ClusterConfig,
    fit_cluster_model,
    name_for_profile,
    name_segments,
    persona_recovery,
    profile_segments,
    silhouette_on_sample,
)
from signal_pipeline.segments.naming import FALLBACK_NAME
from signal_pipeline.segments.profiles import (
    FLAG_CONTENT_REINFORCEMENT,
    FLAG_NONE,
    FLAG_UX_REVIEW,
    ActionFlagRules,
    action_flag,
)
from signal_pipeline.segments.synthetic import NOISE_PERSONA, synthetic_session_features

OVERALL = pd.Series(
    {
        "total_session_time_s": 300.0,
        "page_views": 4.0,
        "mean_dwell_per_page_s": 60.0,
        "mean_scroll_depth_pct": 50.0,
        "comparison_views": 1.0,
        "pricing_hover_density_ms_per_min": 1000.0,
        "specs_dwell_share": 0.2,
    }
)


def _profile(**changes: float) -> pd.Series:
    return pd.Series({**OVERALL, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"total_session_time_s": 20.0, "page_views": 1.0}, "rapid bouncer"),
        (
            {"mean_dwell_per_page_s": 90.0, "mean_scroll_depth_pct": 70.0, "comparison_views": 3.0},
            "deep comparer",
        ),
        (
            {"pricing_hover_density_ms_per_min": 3000.0, "mean_scroll_depth_pct": 30.0},
            "pricing hoverer",
        ),
        ({"specs_dwell_share": 0.5}, "specs-focused evaluator"),
        ({"mean_dwell_per_page_s": 90.0, "mean_scroll_depth_pct": 70.0}, "engaged reader"),
        ({}, FALLBACK_NAME),
        # High pricing hover but deep scrolling is not the pricing-hoverer pattern.
        (
            {"pricing_hover_density_ms_per_min": 3000.0, "mean_scroll_depth_pct": 80.0},
            FALLBACK_NAME,
        ),
    ],
)
def test_naming_rules_on_crafted_profiles(changes, expected):
    assert name_for_profile(_profile(**changes), OVERALL) == expected


def test_rules_needing_a_missing_column_are_skipped():
    without_comparisons = OVERALL.drop("comparison_views")
    segment = _profile(mean_dwell_per_page_s=90.0, mean_scroll_depth_pct=70.0).drop(
        "comparison_views"
    )
    assert name_for_profile(segment, without_comparisons) == "engaged reader"


def test_duplicate_names_are_disambiguated_and_taken_names_avoided():
    bouncer = _profile(total_session_time_s=20.0, page_views=1.0)
    means = pd.DataFrame([bouncer, bouncer, _profile()], index=[0, 1, 2])
    names = name_segments(means, OVERALL, taken=["rapid bouncer"])
    assert names == {0: "rapid bouncer 2", 1: "rapid bouncer 3", 2: FALLBACK_NAME}


def _crafted_sessions() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 200
    features = pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(n)],
            "page_views": np.r_[np.full(100, 4), np.full(100, 1)],
            "cta_clicks": np.r_[np.full(50, 1), np.full(50, 0), np.full(100, 0)],
            "mean_dwell_per_page_s": np.r_[np.full(100, 60.0), np.full(100, 5.0)],
            "mean_scroll_depth_pct": np.r_[np.full(100, 70.0), np.full(100, 10.0)],
            "total_session_time_s": np.r_[np.full(100, 240.0), np.full(100, 5.0)],
            "converted": np.r_[np.full(20, True), np.full(180, False)],
            "is_bounce": np.r_[np.full(100, False), np.full(100, True)],
            "urgency_score": np.r_[rng.uniform(0.6, 1.0, 100), rng.uniform(0.0, 0.2, 100)],
            "device_type": ["desktop"] * 150 + ["mobile"] * 49 + [None],
            "campaign": "brand",
        }
    )
    assignments = pd.DataFrame(
        {
            "session_id": features["session_id"],
            "segment_id": ["seg-1"] * 100 + ["seg-2"] * 100,
            "segment_name": ["deep comparer"] * 100 + ["rapid bouncer"] * 100,
        }
    )
    return features, assignments


def test_profile_metrics_by_hand():
    features, assignments = _crafted_sessions()
    profiles = profile_segments(features, assignments).set_index("segment_id")
    engaged, bouncers = profiles.loc["seg-1"], profiles.loc["seg-2"]
    assert engaged["sessions"] == 100 and engaged["share"] == 0.5
    assert engaged["cta_ctr"] == pytest.approx(50 / 400)  # pooled, not a mean of ratios
    assert engaged["conversion_rate"] == pytest.approx(0.2)
    assert engaged["conversion_lift"] == pytest.approx(0.2 / 0.1)
    assert bouncers["conversion_lift"] == 0
    assert engaged["avg_dwell_per_page_s"] == 60.0
    assert bouncers["avg_scroll_depth_pct"] == 10.0
    assert engaged["median_total_session_time_s"] == 240.0
    assert engaged["urgency_p25"] <= engaged["urgency_p50"] <= engaged["urgency_p75"]
    assert json.loads(bouncers["device_mix"]) == {"(none)": 0.01, "desktop": 0.5, "mobile": 0.49}
    assert json.loads(engaged["campaign_mix"]) == {"brand": 1.0}
    assert engaged["action_flag"] == FLAG_CONTENT_REINFORCEMENT
    assert bouncers["action_flag"] == FLAG_UX_REVIEW


def test_profiles_put_noise_last_and_sum_to_all_sessions():
    features, _ = synthetic_session_features(2_000, seed=31)
    result = fit_cluster_model(features, ClusterConfig(), version=1, window=None, previous=None)
    profiles = profile_segments(features, result.assignments)
    assert profiles["sessions"].sum() == len(features)
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["segment_id"].iloc[-1] == "noise"
    assert {"mean_cta_ctr", "median_mean_scroll_depth_pct", "action_flag"} <= set(profiles)
    # The low-urgency single-page persona is the UX-review segment.
    bouncer = profiles[profiles["segment_name"] == "rapid bouncer"]
    assert bouncer["action_flag"].tolist() == [FLAG_UX_REVIEW]


def test_action_flag_rules():
    rules = ActionFlagRules()
    assert action_flag(2.0, 0.1, 0.0, rules) == FLAG_CONTENT_REINFORCEMENT
    assert action_flag(0.5, 2.0, 0.8, rules) == FLAG_UX_REVIEW
    assert action_flag(0.5, 2.0, 0.3, rules) == FLAG_NONE  # over-represented but not dominant
    assert action_flag(float("nan"), float("nan"), float("nan"), rules) == FLAG_NONE


def test_persona_recovery_and_silhouette():
    features, personas = synthetic_session_features(3_000, seed=32)
    result = fit_cluster_model(features, ClusterConfig(), version=1, window=None, previous=None)
    planted = personas[personas["persona"] != NOISE_PERSONA]
    recovery = persona_recovery(features, result.assignments, planted).set_index("persona")
    assert len(recovery) == 3
    assert recovery["best_segment_id"].nunique() == 3
    assert (recovery["jaccard"] > 0.8).all()
    for metric in ("avg_dwell_per_page_s", "avg_scroll_depth_pct"):
        assert (recovery[f"rel_error_{metric}"] < 0.1).all()
    assert recovery.loc["deep_comparer", "rel_error_cta_ctr"] < 0.15
    assert recovery.loc["deep_comparer", "rel_error_conversion_lift"] < 0.3
    silhouette = silhouette_on_sample(
        result.model, features, result.assignments, max_sessions=1_000
    )
    assert 0.3 < silhouette <= 1.0


def test_silhouette_is_nan_without_two_clusters():
    features, _ = synthetic_session_features(300, seed=33, weights=(1.0, 0.0, 0.0))
    result = fit_cluster_model(features, ClusterConfig(), version=1, window=None, previous=None)
    assert result.model.n_clusters == 1
    assert np.isnan(silhouette_on_sample(result.model, features, result.assignments))
