"""Live scoring keeps the model's nearest-core index: same assignments as building it per call,
built once per model, and JSON records equal to the scores they come from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from signal_pipeline.realtime.model_source import ScoringModel
from signal_pipeline.realtime.scoring import SCORE_COLUMNS, score_records
from signal_pipeline.segments.assign import assign_sessions, core_index, nearest_core_clusters
from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.scaling import FeatureScaler


def random_model(seed: int, n_core: int = 300) -> ClusterModel:
    """A three-feature model whose core samples form three labelled blobs."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -2.0]])
    labels = rng.integers(0, 3, n_core)
    core = centres[labels] + rng.normal(0, 0.4, (n_core, 3))
    scaler = FeatureScaler("standard", ("a", "b", "c"), (), np.zeros(3), np.ones(3))
    return ClusterModel(
        version=3,
        algorithm="dbscan",
        params={},
        scaler=scaler,
        eps=0.6,
        core_samples=core,
        core_labels=labels.astype(np.int64),
        cluster_segment_ids=("s0", "s1", "s2"),
        segment_names={"s0": "zero", "s1": "one", "s2": "two"},
        centroids_transformed=centres,
        cluster_sizes=tuple(int(n) for n in np.bincount(labels, minlength=3)),
        next_segment_number=3,
    )


def test_kept_index_assigns_like_a_fresh_one() -> None:
    for seed in (1, 2):
        model = random_model(seed)
        rng = np.random.default_rng(seed + 10)
        points = rng.uniform(-2, 7, (500, 3))
        fresh = nearest_core_clusters(points, model.core_samples, model.core_labels, model.eps)
        kept = nearest_core_clusters(
            points,
            model.core_samples,
            model.core_labels,
            model.eps,
            index=core_index(model.core_samples),
        )
        assert (fresh >= 0).any() and (fresh < 0).any()  # both clusters and noise occur
        np.testing.assert_array_equal(fresh, kept)
        features = pd.DataFrame(points, columns=["a", "b", "c"]).assign(
            session_id=[f"s{i}" for i in range(len(points))]
        )
        features.loc[3, "a"] = np.nan
        pd.testing.assert_frame_equal(
            assign_sessions(model, features),
            assign_sessions(model, features, index=core_index(model.core_samples)),
        )


def test_scoring_model_builds_its_index_once() -> None:
    scoring = ScoringModel(model=random_model(5), path=Path("cluster_model_v0003.npz"))
    first = scoring.index
    assert first is not None and scoring.index is first
    empty = dataclasses.replace(
        random_model(5), core_samples=np.zeros((0, 3)), core_labels=np.zeros(0, dtype=np.int64)
    )
    assert ScoringModel(model=empty, path=Path("x.npz")).index is None


def test_score_records_are_json_values_of_the_scores() -> None:
    scores = pd.DataFrame(
        {
            "session_id": ["a", "b"],
            "person_id": pd.array(["p1", None], dtype="string"),
            "session_start": pd.to_datetime(["2024-05-01 10:00:00", None]),
            "urgency_score": [0.25, np.nan],
            "engagement_depth_index": [1.0, np.inf],
            "segment_id": ["s1", "noise"],
            "segment_name": ["one", "Noise"],
            "is_noise": np.array([False, True]),
            "noise_reason": [None, "low_density"],
            "action_flag": [None, "none"],
            "is_bot": np.array([False, True]),
            "bot_reasons": [[], ["rapid_clicks"]],
            "cluster_version": [3, 3],
        },
        columns=list(SCORE_COLUMNS),
    )
    first, second = score_records(scores)
    assert first == {
        "session_id": "a",
        "person_id": "p1",
        "session_start": "2024-05-01T10:00:00",
        "urgency_score": 0.25,
        "engagement_depth_index": 1.0,
        "segment_id": "s1",
        "segment_name": "one",
        "is_noise": False,
        "noise_reason": None,
        "action_flag": None,
        "is_bot": False,
        "bot_reasons": [],
        "cluster_version": 3,
    }
    assert second["person_id"] is None and second["session_start"] is None
    assert second["urgency_score"] is None and second["engagement_depth_index"] is None
    assert second["bot_reasons"] == ["rapid_clicks"] and second["is_bot"] is True
    assert type(second["cluster_version"]) is int
