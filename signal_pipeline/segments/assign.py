"""Assigning sessions to the segments of a fitted model without refitting.

A session joins the cluster of its nearest core sample when that core sample lies within `eps`
(in the model's scaled space); otherwise it is noise. This is DBSCAN's own rule for border
points, so assigning the fit sample reproduces the fit up to ties between clusters. The same path
serves the sessions left out of a sampled fit, later batches and real-time scoring.

Memory is bounded: the nearest-core search runs over chunks of `chunk_size` rows against a
KD-tree of the core samples (threads via `n_jobs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from signal_pipeline.segments.config import NOISE_CLUSTER, NOISE_SEGMENT_ID, NOISE_SEGMENT_NAME
from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.scaling import feature_matrix

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

REASON_NON_FINITE = "non_finite_feature"
REASON_LOW_DENSITY = "low_density"
REASON_NO_CLUSTERS = "no_clusters"
ASSIGNMENT_COLUMNS = [
    "session_id",
    "cluster",
    "segment_id",
    "segment_name",
    "is_noise",
    "noise_reason",
]
#: Columns of the ``session_segments`` table (assignments plus the model version), either engine.
SEGMENT_COLUMNS = [
    "session_id",
    "segment_id",
    "segment_name",
    "cluster_version",
    "is_noise",
    "noise_reason",
]
DEFAULT_CHUNK_SIZE = 100_000


def core_index(core_samples: np.ndarray, *, n_jobs: int | None = None) -> NearestNeighbors:
    """The nearest-neighbour index over `core_samples` that `nearest_core_clusters` searches
    (build it once and pass it as `index` to score many small batches against one model)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1, algorithm="kd_tree", n_jobs=n_jobs).fit(core_samples)


def nearest_core_clusters(
    scaled: np.ndarray,
    core_samples: np.ndarray,
    core_labels: np.ndarray,
    eps: float,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_jobs: int | None = None,
    index: NearestNeighbors | None = None,
) -> np.ndarray:
    """Cluster label of each row's nearest core sample within `eps`, else `NOISE_CLUSTER`.

    `index` is `core_index(core_samples)` when the caller keeps one; built here otherwise."""
    labels = np.full(len(scaled), NOISE_CLUSTER, dtype=np.int64)
    if len(scaled) == 0 or len(core_samples) == 0:
        return labels
    if index is None:
        index = core_index(core_samples, n_jobs=n_jobs)
    for start in range(0, len(scaled), chunk_size):
        chunk = scaled[start : start + chunk_size]
        distance, nearest = index.kneighbors(chunk, n_neighbors=1)
        within = distance[:, 0] <= eps
        labels[start : start + len(chunk)] = np.where(
            within, core_labels[nearest[:, 0]], NOISE_CLUSTER
        )
    return labels


def labels_to_assignments(
    model: ClusterModel,
    session_ids: pd.Series | np.ndarray,
    labels: np.ndarray,
    noise_reasons: np.ndarray,
) -> pd.DataFrame:
    """Build the per-session assignment frame from cluster labels and noise reasons."""
    lookup_ids = np.array([*model.cluster_segment_ids, NOISE_SEGMENT_ID], dtype=object)
    lookup_names = np.array(
        [*(model.segment_names[s] for s in model.cluster_segment_ids), NOISE_SEGMENT_NAME],
        dtype=object,
    )
    position = np.where(labels < 0, len(model.cluster_segment_ids), labels)
    is_noise = labels < 0
    return pd.DataFrame(
        {
            "session_id": np.asarray(session_ids),
            "cluster": labels.astype(np.int64),
            "segment_id": lookup_ids[position],
            "segment_name": lookup_names[position],
            "is_noise": is_noise,
            "noise_reason": np.where(is_noise, noise_reasons, None),
        },
        columns=ASSIGNMENT_COLUMNS,
    )


def assign_sessions(
    model: ClusterModel,
    features: pd.DataFrame,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_jobs: int | None = None,
    index: NearestNeighbors | None = None,
) -> pd.DataFrame:
    """Assign every session of `features` to a segment of `model` (no refit).

    Returns one row per input row, in input order, with the columns `ASSIGNMENT_COLUMNS`.
    Sessions with a missing or non-finite feature are noise with reason `non_finite_feature`;
    sessions farther than `eps` from every core sample are noise with reason `low_density`.
    `index` is `core_index(model.core_samples)` kept by the caller (live scoring), else built.
    """
    matrix = feature_matrix(features, model.feature_names)
    labels = np.full(len(features), NOISE_CLUSTER, dtype=np.int64)
    finite = matrix.finite_rows
    if finite.any():
        scaled = model.scaler.transform(matrix.values[finite])
        labels[finite] = nearest_core_clusters(
            scaled,
            model.core_samples,
            model.core_labels,
            model.eps,
            chunk_size=chunk_size,
            n_jobs=n_jobs,
            index=index,
        )
    no_cluster_reason = REASON_LOW_DENSITY if model.n_clusters else REASON_NO_CLUSTERS
    reasons = np.where(finite, no_cluster_reason, REASON_NON_FINITE).astype(object)
    session_ids = (
        features["session_id"] if "session_id" in features.columns else np.arange(len(features))
    )
    return labels_to_assignments(model, session_ids, labels, reasons)


def noise_reason_counts(assignments: pd.DataFrame) -> dict[str, int]:
    """Number of noise sessions per reason."""
    counts = assignments.loc[assignments["is_noise"], "noise_reason"].value_counts()
    return {str(reason): int(n) for reason, n in counts.items()}
