"""Fitting and assigning segments on synthetic personas, including degenerate inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from signal_pipeline.segments import (
    NOISE_SEGMENT_ID,
    NOISE_SEGMENT_NAME,
    ClusterConfig,
    adjusted_rand,
    assign_sessions,
    fit_cluster_model,
)
from signal_pipeline.segments.assign import REASON_NO_CLUSTERS, REASON_NON_FINITE
from signal_pipeline.segments.eps_tuning import knee_index, tune_eps
from signal_pipeline.segments.sampling import proportional_quotas, stratified_sample_positions
from signal_pipeline.segments.synthetic import NOISE_PERSONA, synthetic_session_features


@pytest.fixture(scope="module")
def personas_4k() -> tuple[pd.DataFrame, pd.DataFrame]:
    """4,000 sessions: three personas plus 5 % uniform noise."""
    return synthetic_session_features(4_000, seed=11)


def _fit(frame: pd.DataFrame, **config):
    return fit_cluster_model(frame, ClusterConfig(**config), version=1, window=None, previous=None)


def _ari(personas: pd.DataFrame, assignments: pd.DataFrame) -> float:
    joined = personas.merge(assignments, on="session_id")
    return adjusted_rand(joined["persona"], joined["segment_id"])


@pytest.mark.parametrize("algorithm", ["dbscan", "hdbscan"])
def test_three_personas_are_recovered(personas_4k, algorithm):
    features, personas = personas_4k
    result = _fit(features, algorithm=algorithm)
    assert _ari(personas, result.assignments) >= 0.85
    assert len(result.assignments) == len(features)
    assert result.assignments["session_id"].tolist() == features["session_id"].tolist()


def test_noise_is_its_own_segment_and_never_dropped(personas_4k):
    features, personas = personas_4k
    assignments = _fit(features).assignments
    noise = assignments[assignments["is_noise"]]
    assert len(noise) > 0
    assert set(noise["segment_id"]) == {NOISE_SEGMENT_ID}
    assert set(noise["segment_name"]) == {NOISE_SEGMENT_NAME}
    assert (noise["cluster"] == -1).all()
    # Most uniform background sessions end up as noise.
    background = personas.loc[personas["persona"] == NOISE_PERSONA, "session_id"]
    assert assignments.set_index("session_id").loc[background, "is_noise"].mean() > 0.7


def test_eps_is_auto_tuned_and_curve_returned(personas_4k):
    features, _ = personas_4k
    result = _fit(features)
    curve = result.k_distance
    assert curve is not None
    assert np.all(np.diff(curve.distances) >= 0)
    assert result.model.eps == pytest.approx(curve.knee_eps)
    assert curve.distances[0] <= result.model.eps <= curve.distances[-1]
    assert curve.as_metadata()["knee_eps"] == curve.knee_eps


def test_knee_of_an_elbow_curve_is_at_the_elbow():
    flat = np.linspace(1.0, 1.2, 800)
    steep = np.linspace(1.3, 20.0, 200)
    assert 780 <= knee_index(np.concatenate([flat, steep])) <= 830


def test_knee_of_a_flat_curve_is_floored():
    curve = tune_eps(np.zeros((50, 3)), 5, max_queries=100, random_state=0)
    assert curve.knee_eps > 0


def test_fixed_eps_is_used_as_given(personas_4k):
    features, _ = personas_4k
    result = _fit(features, eps=0.7)
    assert result.model.eps == 0.7
    assert result.model.params["eps_auto"] is False


def test_assign_sessions_reproduces_the_fit_assignment(personas_4k):
    features, _ = personas_4k
    result = _fit(features)
    again = assign_sessions(result.model, features)
    agreement = (again["segment_id"] == result.assignments["segment_id"]).mean()
    # Core and border points are reassigned identically; only border ties between clusters
    # may differ.
    assert agreement >= 0.99
    assert again.columns.tolist() == result.assignments.columns.tolist()


def test_sampled_fit_agrees_with_full_fit():
    features, personas = synthetic_session_features(9_000, seed=5)
    full = _fit(features)
    sampled = _fit(features, max_fit_sessions=3_000)
    assert sampled.fit_rows <= 3_000
    assert any("stratified sample" in m for m in sampled.messages)
    assert adjusted_rand(full.assignments["segment_id"], sampled.assignments["segment_id"]) > 0.9
    assert _ari(personas, sampled.assignments) >= 0.85


def test_memory_guard_shrinks_the_fit_and_keeps_quality(personas_4k):
    features, personas = personas_4k
    result = _fit(features, max_neighbor_pairs=200_000)
    assert any("memory guard" in m for m in result.messages)
    assert result.fit_rows < len(features)
    assert _ari(personas, result.assignments) >= 0.8


def test_memory_guard_with_fixed_eps_scales_min_samples(personas_4k):
    features, _ = personas_4k
    result = _fit(features, eps=0.5, max_neighbor_pairs=200_000)
    assert result.effective_min_samples < 10
    assert any("min_samples scaled" in m for m in result.messages)


def test_fit_is_deterministic(personas_4k):
    features, _ = personas_4k
    first = _fit(features, max_fit_sessions=2_000).assignments
    second = _fit(features, max_fit_sessions=2_000).assignments
    pd.testing.assert_frame_equal(first, second)


def test_zero_sessions_give_an_empty_result(personas_4k):
    features, _ = personas_4k
    result = _fit(features.iloc[0:0])
    assert result.model.n_clusters == 0
    assert result.assignments.empty
    assert any("no sessions" in m for m in result.messages)
    assert assign_sessions(result.model, features.head(3))["is_noise"].all()


def test_fewer_sessions_than_min_samples_are_all_noise(personas_4k):
    features, _ = personas_4k
    result = _fit(features.head(5))
    assert result.model.n_clusters == 0
    assert result.assignments["is_noise"].all()
    assert set(result.assignments["noise_reason"]) == {REASON_NO_CLUSTERS}
    assert any("fewer than min_samples" in m for m in result.messages)


@pytest.mark.parametrize("algorithm", ["dbscan", "hdbscan"])
def test_identical_rows_form_one_cluster(personas_4k, algorithm):
    features, _ = personas_4k
    same = pd.concat([features.head(1)] * 60, ignore_index=True)
    same["session_id"] = [f"dup{i}" for i in range(60)]
    result = _fit(same, algorithm=algorithm)
    assert result.model.n_clusters == 1
    assert not result.assignments["is_noise"].any()
    assert any("identical" in m for m in result.messages)


@pytest.mark.parametrize("scaling", ["standard", "robust", "minmax"])
def test_constant_feature_is_reported_and_harmless(personas_4k, scaling):
    features, personas = personas_4k
    constant = features.assign(hover_density_ms_per_min=250.0)
    result = _fit(constant, scaling=scaling)
    assert any("hover_density_ms_per_min" in m and "constant" in m for m in result.messages)
    assert np.isfinite(result.model.core_samples).all()
    column = result.model.feature_names.index("hover_density_ms_per_min")
    assert np.allclose(result.model.core_samples[:, column], 0.0)
    assert _ari(personas, result.assignments) >= 0.8


def test_non_finite_sessions_are_noise_with_counted_reason(personas_4k):
    features, _ = personas_4k
    broken = features.copy()
    broken.loc[[0, 1], "mean_dwell_per_page_s"] = np.nan
    broken.loc[2, "mean_scroll_depth_pct"] = np.inf
    broken.loc[3, "click_frequency_per_min"] = -np.inf
    result = _fit(broken)
    flagged = result.assignments.iloc[:4]
    assert flagged["is_noise"].all()
    assert set(flagged["noise_reason"]) == {REASON_NON_FINITE}
    assert result.noise_reasons()[REASON_NON_FINITE] == 4
    assert any(m.startswith("4 of 4000 sessions") for m in result.messages)
    assert result.assignments.iloc[4:]["is_noise"].mean() < 0.2


def test_missing_feature_column_is_a_clear_error(personas_4k):
    features, _ = personas_4k
    with pytest.raises(ValueError, match="cta_ctr"):
        _fit(features.drop(columns="cta_ctr"), features=("cta_ctr", "page_views"), log_transform=())


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        ClusterConfig(algorithm="kmeans")
    with pytest.raises(ValueError):
        ClusterConfig(features=("a",), log_transform=("b",))


def test_stratified_sample_keeps_strata_proportions():
    frame = pd.DataFrame({"device_type": ["desktop"] * 700 + ["mobile"] * 300})
    picked = stratified_sample_positions(frame, 100, random_state=3)
    assert len(picked) == 100
    assert (frame.iloc[picked]["device_type"] == "mobile").sum() == 30
    again = stratified_sample_positions(frame, 100, random_state=3)
    assert np.array_equal(picked, again)


def test_proportional_quotas_sum_exactly():
    quotas = proportional_quotas(np.array([5, 3, 2]), 7)
    assert quotas.sum() == 7
    assert (quotas <= np.array([5, 3, 2])).all()
