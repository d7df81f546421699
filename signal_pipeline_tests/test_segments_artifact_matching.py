"""Model persistence without pickle, and stable segment identity across re-fits."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from signal_pipeline.segments import (
    ClusterConfig,
    ClusterModel,
    assign_sessions,
    centroid_shift,
    fit_cluster_model,
    match_segments,
    membership_churn,
)
from signal_pipeline.segments.synthetic import PERSONAS, PersonaShape, synthetic_session_features

WINDOW = (date(2025, 1, 1), date(2025, 1, 7))


@pytest.fixture(scope="module")
def first_fit():
    features, personas = synthetic_session_features(3_000, seed=21)
    result = fit_cluster_model(features, ClusterConfig(), version=1, window=WINDOW, previous=None)
    return features, personas, result


def test_save_load_round_trip_gives_identical_assignments(first_fit, tmp_path):
    features, _, result = first_fit
    path = result.model.save(tmp_path / "models" / "cluster_model_v1.npz")
    loaded = ClusterModel.load(path)
    assert loaded.version == 1
    assert loaded.window == WINDOW
    assert loaded.feature_names == result.model.feature_names
    assert loaded.segment_names == result.model.segment_names
    assert loaded.next_segment_number == result.model.next_segment_number
    assert np.array_equal(loaded.core_samples, result.model.core_samples)
    pd.testing.assert_frame_equal(
        assign_sessions(loaded, features), assign_sessions(result.model, features)
    )
    assert not list(tmp_path.joinpath("models").glob("*.tmp"))


def test_baseline_survives_round_trip(first_fit, tmp_path):
    from dataclasses import replace

    model = replace(first_fit[2].model, baseline={"noise_share": {"mean": 0.05, "std": 0.01}})
    loaded = ClusterModel.load(model.save(tmp_path / "m.npz"))
    assert loaded.baseline == {"noise_share": {"mean": 0.05, "std": 0.01}}


def test_load_rejects_a_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, header_json=np.frombuffer(b'{"format": "x"}', np.uint8))
    with pytest.raises(ValueError, match="not a cluster model"):
        ClusterModel.load(path)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, header_json=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ValueError):
        ClusterModel.load(path)


def _persona_segments(personas: pd.DataFrame, assignments: pd.DataFrame) -> dict[str, str]:
    joined = personas.merge(assignments, on="session_id")
    return joined.groupby("persona")["segment_id"].agg(lambda s: s.mode().iloc[0]).to_dict()


def test_refit_on_shifted_data_keeps_ids_and_names(first_fit):
    _, personas, first = first_fit
    shifted, shifted_personas = synthetic_session_features(3_000, seed=22, shift=1.1)
    second = fit_cluster_model(
        shifted, ClusterConfig(), version=2, window=WINDOW, previous=first.model
    )
    assert second.match.vanished_segment_ids == ()
    assert _persona_segments(shifted_personas, second.assignments) == _persona_segments(
        personas, first.assignments
    )
    for seg in first.model.cluster_segment_ids:
        assert second.model.segment_names[seg] == first.model.segment_names[seg]
    shifts = centroid_shift(first.model, second.model)
    assert set(shifts["segment_id"]) == set(first.model.cluster_segment_ids)
    assert (shifts["centroid_shift"] < ClusterConfig().match_cutoff).all()
    assert (shifts["centroid_shift"] > 0).all()


def test_genuinely_new_cluster_gets_a_fresh_id(first_fit):
    _, _, first = first_fit
    newcomer = PersonaShape("video_watcher", 3, 240, 55, 0.4, 200, 0.0, 0.8, 0, 0.0, 0.2, 0.0, 0.3)
    features, _ = synthetic_session_features(
        3_600, seed=23, personas=(*PERSONAS, newcomer), weights=(0.25, 0.25, 0.3, 0.2)
    )
    second = fit_cluster_model(
        features, ClusterConfig(), version=2, window=WINDOW, previous=first.model
    )
    assert len(second.match.new_segment_ids) >= 1
    previous_numbers = [int(s.split("-")[1]) for s in first.model.cluster_segment_ids]
    for fresh in second.match.new_segment_ids:
        assert fresh not in first.model.cluster_segment_ids
        assert int(fresh.split("-")[1]) > max(previous_numbers)
    assert set(first.model.cluster_segment_ids) <= set(second.model.cluster_segment_ids)
    assert len(set(second.model.segment_names.values())) == second.model.n_clusters


def test_vanished_segment_is_reported_and_its_number_not_reused(first_fit):
    _, _, first = first_fit
    features, _ = synthetic_session_features(
        3_000, seed=24, personas=PERSONAS[:2], weights=(0.5, 0.5)
    )
    second = fit_cluster_model(
        features, ClusterConfig(), version=2, window=WINDOW, previous=first.model
    )
    assert len(second.match.vanished_segment_ids) >= 1
    assert second.model.next_segment_number >= first.model.next_segment_number


def test_match_segments_by_hand():
    features, _ = synthetic_session_features(1_500, seed=25)
    previous = fit_cluster_model(
        features, ClusterConfig(), version=1, window=None, previous=None
    ).model
    old = previous.centroids_scaled()
    far = np.full((1, old.shape[1]), 50.0)
    new = np.vstack([old[::-1] + 0.01, far])
    match = match_segments(previous, new, cutoff=1.0)
    assert match.cluster_segment_ids[: len(old)] == previous.cluster_segment_ids[::-1]
    assert match.new_segment_ids == (f"seg-{previous.next_segment_number}",)
    assert match.vanished_segment_ids == ()
    none_close = match_segments(previous, new[-1:], cutoff=1.0)
    assert set(none_close.vanished_segment_ids) == set(previous.cluster_segment_ids)
    first = match_segments(None, new[:2], cutoff=1.0)
    assert first.cluster_segment_ids == ("seg-1", "seg-2")
    assert first.next_segment_number == 3


def test_membership_churn_counts_changed_sessions():
    before = pd.DataFrame({"session_id": ["a", "b", "c", "d"], "segment_id": ["x", "x", "y", "y"]})
    after = pd.DataFrame({"session_id": ["b", "c", "d", "e"], "segment_id": ["x", "x", "y", "y"]})
    churn = membership_churn(before, after)
    assert churn.sessions_in_both == 3
    assert churn.sessions_changed == 1
    assert churn.churn == pytest.approx(1 / 3)
    assert np.isnan(membership_churn(before.head(0), after).churn)
