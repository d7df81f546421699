"""Stable segment identity across re-fits, and how much the segmentation moved.

Matching: the centroids of the new clusters, expressed in the *previous* model's scaled space,
are paired with the previous segments' centroids by the Hungarian algorithm on Euclidean
distance (`scipy.optimize.linear_sum_assignment`). A pair farther apart than `cutoff` is not a
match. A matched cluster keeps the previous segment id (and, in `fit`, its name); an unmatched
cluster gets `seg-<n>` with `n` taken from the previous model's `next_segment_number`, so an id
is never reused; previous segments left unmatched are reported as vanished.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from signal_pipeline.segments.config import SEGMENT_ID_PREFIX
from signal_pipeline.segments.model_artifact import ClusterModel

FIRST_SEGMENT_NUMBER = 1


@dataclass(frozen=True)
class SegmentMatch:
    """Outcome of matching new clusters to previous segments.

    `cluster_segment_ids[i]` is the segment id of new cluster `i`; `matched` maps a new cluster
    to the previous segment id it inherits and `distances` the centroid distance of each
    inherited id.
    """

    cluster_segment_ids: tuple[str, ...]
    matched: dict[int, str]
    distances: dict[str, float]
    new_segment_ids: tuple[str, ...]
    vanished_segment_ids: tuple[str, ...]
    next_segment_number: int


def segment_id(number: int) -> str:
    """The segment id for a segment number (`seg-<n>`)."""
    return f"{SEGMENT_ID_PREFIX}{number}"


def models_comparable(
    previous: ClusterModel, feature_names: tuple[str, ...], log_transform: tuple[str, ...]
) -> bool:
    """Whether centroids of a model with these features can be placed in `previous`'s space."""
    return tuple(previous.feature_names) == tuple(feature_names) and set(
        previous.scaler.log_transform
    ) == set(log_transform)


def match_segments(
    previous: ClusterModel | None,
    new_centroids: np.ndarray,
    cutoff: float,
    *,
    comparable: bool = True,
) -> SegmentMatch:
    """Give each new cluster a segment id, keeping previous ids for close-enough clusters.

    `new_centroids` (new clusters × features) must be in `previous`'s scaled space. With
    `comparable=False` (features changed) nothing is matched but numbering still continues
    after the previous model's, so no id is reused.
    """
    from scipy.optimize import linear_sum_assignment

    new_centroids = np.asarray(new_centroids, dtype=float)
    n_new = len(new_centroids)
    next_number = FIRST_SEGMENT_NUMBER if previous is None else previous.next_segment_number
    matched: dict[int, str] = {}
    distances: dict[str, float] = {}
    if previous is not None and comparable and n_new and previous.n_clusters:
        old_centroids = previous.centroids_scaled()
        if old_centroids.shape[1] != new_centroids.shape[1]:
            raise ValueError("new centroids do not have the previous model's feature count")
        distance = np.linalg.norm(new_centroids[:, None, :] - old_centroids[None, :, :], axis=2)
        distance = np.where(np.isfinite(distance), distance, np.inf)
        # Pairs beyond the cutoff cost more than any admissible pairing, so they are only
        # chosen when nothing else is left, and are then discarded below.
        penalty = np.where(distance <= cutoff, distance, cutoff * (n_new + previous.n_clusters + 1))
        rows, cols = linear_sum_assignment(penalty)
        for row, col in zip(rows, cols, strict=True):
            if distance[row, col] <= cutoff:
                old_id = previous.cluster_segment_ids[col]
                matched[int(row)] = old_id
                distances[old_id] = float(distance[row, col])
    ids: list[str] = []
    new_ids: list[str] = []
    for cluster in range(n_new):
        if cluster in matched:
            ids.append(matched[cluster])
        else:
            fresh = segment_id(next_number)
            next_number += 1
            ids.append(fresh)
            new_ids.append(fresh)
    previous_ids = () if previous is None else previous.cluster_segment_ids
    vanished = tuple(seg for seg in previous_ids if seg not in distances)
    return SegmentMatch(
        cluster_segment_ids=tuple(ids),
        matched=matched,
        distances=distances,
        new_segment_ids=tuple(new_ids),
        vanished_segment_ids=vanished,
        next_segment_number=next_number,
    )


@dataclass(frozen=True)
class MembershipChurn:
    """Sessions assigned by both versions, how many changed segment, and the share."""

    sessions_in_both: int
    sessions_changed: int
    churn: float


def membership_churn(previous: pd.DataFrame, current: pd.DataFrame) -> MembershipChurn:
    """Share of sessions present in both assignments whose `segment_id` changed (NaN if none)."""
    joined = previous[["session_id", "segment_id"]].merge(
        current[["session_id", "segment_id"]], on="session_id", suffixes=("_prev", "_new")
    )
    in_both = len(joined)
    changed = int((joined["segment_id_prev"] != joined["segment_id_new"]).sum())
    churn = changed / in_both if in_both else float("nan")
    return MembershipChurn(sessions_in_both=in_both, sessions_changed=changed, churn=churn)


def centroid_shift(previous: ClusterModel, current: ClusterModel) -> pd.DataFrame:
    """Centroid distance, in `previous`'s scaled space, of every segment id both models share.

    Empty when the models cluster different features.
    """
    columns = ["segment_id", "centroid_shift"]
    if not models_comparable(previous, current.feature_names, current.scaler.log_transform):
        return pd.DataFrame(columns=columns)
    old = dict(zip(previous.cluster_segment_ids, previous.centroids_scaled(), strict=True))
    new_scaled = previous.scaler.scale_transformed(
        current.centroids_transformed[:, _column_order(previous, current)]
    )
    rows = [
        (seg, float(np.linalg.norm(new_scaled[i] - old[seg])))
        for i, seg in enumerate(current.cluster_segment_ids)
        if seg in old
    ]
    return pd.DataFrame(rows, columns=columns)


def _column_order(previous: ClusterModel, current: ClusterModel) -> list[int]:
    """Indices reordering `current`'s feature columns into `previous`'s order."""
    position = {name: i for i, name in enumerate(current.feature_names)}
    return [position[name] for name in previous.feature_names]
