"""Fitting the behavioural cluster model (DBSCAN or HDBSCAN) on session features.

Flow of `fit_cluster_model`:

1. Select the configured features; sessions with a missing/non-finite value are excluded from
   fitting and assigned to noise (reason `non_finite_feature`, counted in `messages`).
2. Fit the scaler on all finite sessions (log transform first, see `scaling.py`).
3. Above `max_fit_sessions`, fit on a stratified sample (session_date × device_type, seeded);
   `min_samples` then counts sessions *of the sample*.
4. Identical scaled rows are collapsed into one row with a `sample_weight` equal to their
   multiplicity (DBSCAN honours it; the k-distance curve counts it).
5. `eps` = the knee of the k-distance curve (k = `min_samples`) unless configured; for DBSCAN
   the knee is then refined by a scan of knee × `eps_scan_factors` scored by the
   noise-penalised silhouette (`eps_selection.py`), on one neighbour graph.
6. DBSCAN memory guard: DBSCAN materialises every eps-neighbourhood, which grows quadratically
   on dense data. The mean neighbourhood size (at the largest eps the scan will try) is measured
   on a probe of up to 2,000 distinct rows; while rows × mean size exceeds `max_neighbor_pairs`
   (about 12 bytes each in the eps-graph), the fit rows are subsampled by r = sqrt(limit /
   estimate) (pairs shrink by about r²) and, for an auto eps, eps is re-tuned on the smaller
   sample with the same `min_samples` (as for step 3); for a configured eps, `min_samples` is
   multiplied by the kept fraction (floored at 3) so the density threshold — neighbours per
   volume at that eps — is unchanged. At most 4 rounds; every round is reported in `messages`.
   Rows left out are labelled by nearest-core assignment.
7. Fit (with an auto eps, DBSCAN runs on the scan's graph: `eps_selection.graph_dbscan`,
   sklearn's definition, border rows to their nearest core). DBSCAN core samples are kept as the
   model's core samples. HDBSCAN (`sklearn.cluster.HDBSCAN`, no sample weights, so fitted on the
   rows as they are) keeps every clustered row as an exemplar, and assignment uses the same
   `eps` rule.
8. Clusters are renumbered by size (largest = 0). Fit rows keep their labels; every other
   finite session joins the cluster of its nearest core sample within `eps` (`assign.py`).
9. Segment ids come from Hungarian matching against `previous` (`matching.py`); matched
   segments keep their name, new ones are named by the rules of `naming.py`.

Degenerate inputs (no sessions, fewer usable sessions than `min_samples`, all rows identical,
constant features) yield a model and assignments with a message instead of an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from signal_pipeline.segments.assign import (
    REASON_LOW_DENSITY,
    REASON_NO_CLUSTERS,
    REASON_NON_FINITE,
    labels_to_assignments,
    nearest_core_clusters,
    noise_reason_counts,
)
from signal_pipeline.segments.config import NOISE_CLUSTER, ClusterConfig
from signal_pipeline.segments.derived import with_derived_features
from signal_pipeline.segments.eps_selection import EpsScan, graph_dbscan, scan_eps
from signal_pipeline.segments.eps_tuning import MIN_EPS, KDistanceCurve, tune_eps
from signal_pipeline.segments.matching import SegmentMatch, match_segments, models_comparable
from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.naming import name_segments, numeric_means
from signal_pipeline.segments.sampling import stratified_sample_positions
from signal_pipeline.segments.scaling import feature_matrix, fit_scaler

NEIGHBOR_PROBE_SIZE = 2_000
MIN_SCALED_MIN_SAMPLES = 3
GUARD_MAX_ROUNDS = 4


@dataclass(frozen=True)
class FitResult:
    """A fitted model, the assignment of every input session, and what happened on the way."""

    model: ClusterModel
    assignments: pd.DataFrame
    k_distance: KDistanceCurve | None
    match: SegmentMatch
    messages: list[str] = field(default_factory=list)
    fit_rows: int = 0
    effective_min_samples: int = 0
    eps_scan: EpsScan | None = None

    def noise_reasons(self) -> dict[str, int]:
        """Number of noise sessions per reason."""
        return noise_reason_counts(self.assignments)

    def metadata(self) -> dict[str, Any]:
        """JSON-able summary for run metadata."""
        return {
            **self.model.summary(),
            "fit_rows": self.fit_rows,
            "effective_min_samples": self.effective_min_samples,
            "noise_reasons": self.noise_reasons(),
            "new_segment_ids": list(self.match.new_segment_ids),
            "vanished_segment_ids": list(self.match.vanished_segment_ids),
            "k_distance": None if self.k_distance is None else self.k_distance.as_metadata(),
            "eps_scan": None if self.eps_scan is None else self.eps_scan.as_metadata(),
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class _Clustering:
    """Labels of the fit rows plus the core samples used to assign everything else."""

    fit_labels: np.ndarray
    core_samples: np.ndarray
    core_labels: np.ndarray


def fit_cluster_model(
    features: pd.DataFrame,
    config: ClusterConfig,
    *,
    version: int,
    window: tuple[date, date] | None,
    previous: ClusterModel | None,
) -> FitResult:
    """Fit a segmentation model on `features` (a `session_features` frame); see module doc.

    Raises ValueError only for a configuration the data cannot satisfy (a configured feature
    column absent from the frame); degenerate data gives a result with explanatory messages.
    """
    messages: list[str] = []
    frame = with_derived_features(features)
    matrix = feature_matrix(frame, config.features)
    finite = matrix.finite_rows
    n_sessions, n_finite = len(frame), int(finite.sum())
    if n_sessions == 0:
        messages.append("no sessions: the model has no clusters")
    if n_finite < n_sessions:
        messages.append(
            f"{n_sessions - n_finite} of {n_sessions} sessions have a missing or non-finite "
            f"feature value: excluded from fitting and assigned to noise ({REASON_NON_FINITE})"
        )
    scaler, constant = fit_scaler(
        matrix.values[finite],
        method=config.scaling,
        feature_names=config.features,
        log_transform=config.log_transform,
    )
    if constant and n_finite:
        messages.append(f"constant features carry no information: {constant}")
    scaled_finite = scaler.transform(matrix.values[finite])

    labels = np.full(n_sessions, NOISE_CLUSTER, dtype=np.int64)
    k_curve: KDistanceCurve | None = None
    eps = config.eps if config.eps is not None else MIN_EPS
    clustering = _empty_clustering(len(config.features))
    fit_rows, effective_min_samples = 0, config.min_samples
    eps_scan: EpsScan | None = None
    if 0 < n_finite < config.min_samples:
        messages.append(
            f"only {n_finite} usable sessions, fewer than min_samples={config.min_samples}: "
            "no clusters, every session is noise"
        )
    elif n_finite >= config.min_samples:
        finite_positions = np.flatnonzero(finite)
        sample = _fit_sample(frame.iloc[finite_positions], config, messages)
        fit_rows = len(sample)
        sample_scaled = scaled_finite[sample]
        unique_rows, inverse, counts = np.unique(
            sample_scaled, axis=0, return_inverse=True, return_counts=True
        )
        inverse = inverse.reshape(-1)
        if len(unique_rows) < len(sample_scaled):
            messages.append(
                f"{len(sample_scaled)} fit rows collapse to {len(unique_rows)} distinct rows "
                "(duplicates weighted)"
            )
        k_curve = tune_eps(
            unique_rows,
            config.min_samples,
            max_queries=config.k_distance_max_queries,
            random_state=config.random_state,
            sample_weight=counts,
        )
        if config.eps is None:
            eps = k_curve.knee_eps
            messages.append(f"eps auto-tuned at the k-distance knee: {eps:.4g}")
        if len(unique_rows) == 1:
            messages.append("all usable sessions are identical: one cluster")
            clustering = _Clustering(
                fit_labels=np.zeros(len(sample), dtype=np.int64),
                core_samples=unique_rows,
                core_labels=np.zeros(1, dtype=np.int64),
            )
        elif config.algorithm == "dbscan":
            clustering, eps, effective_min_samples, fit_rows, eps_scan = _fit_dbscan(
                unique_rows, inverse, counts, eps, config, messages
            )
        else:
            clustering = _fit_hdbscan(sample_scaled, config)
        clustering = _relabel_by_size(clustering)
        finite_labels = np.full(n_finite, NOISE_CLUSTER, dtype=np.int64)
        rest = np.ones(n_finite, dtype=bool)
        rest[sample] = False
        finite_labels[sample] = clustering.fit_labels
        if rest.any():
            finite_labels[rest] = nearest_core_clusters(
                scaled_finite[rest],
                clustering.core_samples,
                clustering.core_labels,
                eps,
                chunk_size=config.assign_chunk_size,
                n_jobs=config.n_jobs,
            )
        labels[finite_positions] = finite_labels

    n_clusters = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    centroids = _centroids(
        scaler.transform_unscaled(matrix.values[finite]), labels[finite], n_clusters
    )
    comparable = previous is not None and models_comparable(
        previous, config.features, config.log_transform
    )
    if previous is not None and not comparable:
        messages.append("previous model clusters other features: no segment ids carried over")
    new_centroids_in_previous = (
        previous.scaler.scale_transformed(centroids) if comparable and previous else centroids
    )
    match = match_segments(
        previous, new_centroids_in_previous, config.match_cutoff, comparable=comparable
    )
    names = _segment_names(frame, labels, match, previous)
    sizes = tuple(int(n) for n in np.bincount(labels[labels >= 0], minlength=n_clusters))
    model = ClusterModel(
        version=version,
        algorithm=config.algorithm,
        params=_params(config, eps, effective_min_samples),
        scaler=scaler,
        eps=float(eps),
        core_samples=clustering.core_samples,
        core_labels=clustering.core_labels,
        cluster_segment_ids=match.cluster_segment_ids,
        segment_names=names,
        centroids_transformed=centroids,
        cluster_sizes=sizes,
        next_segment_number=match.next_segment_number,
        window=window,
        fit_sessions=fit_rows,
    )
    reasons = np.where(
        finite, REASON_LOW_DENSITY if n_clusters else REASON_NO_CLUSTERS, REASON_NON_FINITE
    ).astype(object)
    session_ids = frame["session_id"] if "session_id" in frame.columns else np.arange(n_sessions)
    assignments = labels_to_assignments(model, session_ids, labels, reasons)
    _summarise(assignments, match, n_clusters, messages)
    return FitResult(
        model=model,
        assignments=assignments,
        k_distance=k_curve,
        match=match,
        messages=messages,
        fit_rows=fit_rows,
        effective_min_samples=effective_min_samples,
        eps_scan=eps_scan,
    )


def _empty_clustering(n_features: int) -> _Clustering:
    """A clustering with no clusters and no core samples."""
    return _Clustering(
        fit_labels=np.empty(0, dtype=np.int64),
        core_samples=np.empty((0, n_features)),
        core_labels=np.empty(0, dtype=np.int64),
    )


def _fit_sample(finite_frame: pd.DataFrame, config: ClusterConfig, messages: list[str]):
    """Positions (within the finite rows) of the rows the model is fitted on."""
    if len(finite_frame) <= config.max_fit_sessions:
        return np.arange(len(finite_frame))
    messages.append(
        f"{len(finite_frame)} usable sessions exceed max_fit_sessions={config.max_fit_sessions}: "
        "fitted on a stratified sample (session_date × device_type), the rest assigned"
    )
    return stratified_sample_positions(
        finite_frame, config.max_fit_sessions, random_state=config.random_state
    )


def _fit_dbscan(
    unique_rows: np.ndarray,
    inverse: np.ndarray,
    counts: np.ndarray,
    eps: float,
    config: ClusterConfig,
    messages: list[str],
) -> tuple[_Clustering, float, int, int, EpsScan | None]:
    """DBSCAN on weighted distinct rows, behind the neighbourhood-memory guard.

    Returns the clustering (labels per original fit row), the eps and min_samples used, the
    number of rows DBSCAN saw and, for an auto eps, the eps scan around the knee
    (`eps_selection.py`). Rows the guard leaves out are labelled by nearest-core assignment.
    """
    from sklearn.cluster import DBSCAN

    min_samples = config.min_samples
    scan_factors = config.eps_scan_factors if config.eps is None else ()
    # The scan's neighbour graph is built at its largest candidate: guard that radius.
    radius_factor = max((*scan_factors, 1.0))
    rows, weights, row_inverse = unique_rows, counts.astype(float), inverse
    n_fit = int(counts.sum())
    keep = np.ones(len(inverse), dtype=bool)
    rng = np.random.default_rng(config.random_state)
    priority = rng.random(len(inverse))
    for _attempt in range(GUARD_MAX_ROUNDS):
        expected_pairs = _expected_neighbor_pairs(rows, eps * radius_factor, config.random_state)
        if expected_pairs <= config.max_neighbor_pairs:
            break
        fraction = float(np.sqrt(config.max_neighbor_pairs / expected_pairs))
        n_keep = max(int(keep.sum() * fraction), config.min_samples)
        keep = priority <= np.sort(priority)[n_keep - 1]
        kept_rows, kept_inverse, kept_counts = np.unique(
            inverse[keep], return_inverse=True, return_counts=True
        )
        rows, weights = unique_rows[kept_rows], kept_counts.astype(float)
        row_inverse = np.full(len(inverse), -1, dtype=np.int64)
        row_inverse[keep] = kept_inverse.reshape(-1)
        n_fit = int(keep.sum())
        if config.eps is None:
            eps = tune_eps(
                rows,
                config.min_samples,
                max_queries=config.k_distance_max_queries,
                random_state=config.random_state,
                sample_weight=weights,
            ).knee_eps
            action = f"eps re-tuned to {eps:.4g}"
        else:
            min_samples = max(
                MIN_SCALED_MIN_SAMPLES, round(config.min_samples * n_fit / len(inverse))
            )
            action = f"min_samples scaled to {min_samples} (eps is fixed)"
        messages.append(
            f"DBSCAN memory guard: ~{expected_pairs:.3g} neighbour pairs expected "
            f"(limit {config.max_neighbor_pairs:.3g}); fitting on {n_fit} rows, {action}"
        )
    eps_scan = None
    if scan_factors:
        eps_scan, edges = scan_eps(
            rows,
            weights,
            row_inverse[row_inverse >= 0],
            eps,
            min_samples,
            factors=scan_factors,
            score_sample=config.eps_scan_sample,
            random_state=config.random_state,
        )
        knee_eps, eps = eps, eps_scan.eps
        messages.append(
            f"eps chosen by the noise-penalised silhouette scan around the knee ({knee_eps:.4g}):"
            f" {eps:.4g} (factor {eps_scan.candidates[eps_scan.chosen].factor:g})"
        )
        found = graph_dbscan(edges, eps, min_samples, weights)
        del edges
        row_labels, core_index = found.labels, np.flatnonzero(found.is_core)
    else:
        model = DBSCAN(eps=eps, min_samples=min_samples).fit(rows, sample_weight=weights)
        row_labels, core_index = model.labels_, model.core_sample_indices_
    core_samples = rows[core_index]
    core_labels = row_labels[core_index].astype(np.int64)
    fit_labels = np.where(row_inverse >= 0, row_labels[np.maximum(row_inverse, 0)], -2)
    dropped = fit_labels == -2
    if dropped.any():
        fit_labels[dropped] = nearest_core_clusters(
            unique_rows[inverse[dropped]], core_samples, core_labels, eps
        )
    clustering = _Clustering(fit_labels.astype(np.int64), core_samples, core_labels)
    return clustering, eps, min_samples, n_fit, eps_scan


def _expected_neighbor_pairs(rows: np.ndarray, eps: float, random_state: int) -> float:
    """Estimated total eps-neighbourhood size DBSCAN materialises over distinct `rows`."""
    from sklearn.neighbors import KDTree

    if len(rows) == 0:
        return 0.0
    rng = np.random.default_rng(random_state)
    probe = rng.choice(len(rows), size=min(NEIGHBOR_PROBE_SIZE, len(rows)), replace=False)
    counts = KDTree(rows).query_radius(rows[probe], r=eps, count_only=True)
    return float(counts.mean()) * len(rows)


def _fit_hdbscan(sample_scaled: np.ndarray, config: ClusterConfig) -> _Clustering:
    """HDBSCAN on the fit rows; its clustered rows (deduplicated) serve as exemplars."""
    from sklearn.cluster import HDBSCAN

    min_cluster_size = min(config.min_cluster_size, len(sample_scaled))
    model = HDBSCAN(
        min_cluster_size=max(min_cluster_size, 2),
        min_samples=min(config.min_samples, len(sample_scaled)),
        copy=True,
    ).fit(sample_scaled)
    labels = model.labels_.astype(np.int64)
    clustered = labels >= 0
    exemplars, first = np.unique(sample_scaled[clustered], axis=0, return_index=True)
    return _Clustering(labels, exemplars, labels[clustered][first])


def _relabel_by_size(clustering: _Clustering) -> _Clustering:
    """Renumber clusters so cluster 0 has the most fit rows (ties by old label)."""
    labels = clustering.fit_labels
    present = labels[labels >= 0]
    if present.size == 0:
        return clustering
    sizes = np.bincount(present)
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    order = order[sizes[order] > 0]
    mapping = np.full(len(sizes), NOISE_CLUSTER, dtype=np.int64)
    mapping[order] = np.arange(len(order))

    def remap(values: np.ndarray) -> np.ndarray:
        return np.where(values >= 0, mapping[np.maximum(values, 0)], NOISE_CLUSTER)

    keep_core = remap(clustering.core_labels) >= 0
    return _Clustering(
        fit_labels=remap(labels),
        core_samples=clustering.core_samples[keep_core],
        core_labels=remap(clustering.core_labels)[keep_core],
    )


def _centroids(transformed: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean log-transformed feature vector of each cluster (clusters × features)."""
    centroids = np.zeros((n_clusters, transformed.shape[1]))
    for cluster in range(n_clusters):
        members = transformed[labels == cluster]
        if len(members):
            centroids[cluster] = members.mean(axis=0)
    return centroids


def _segment_names(
    frame: pd.DataFrame,
    labels: np.ndarray,
    match: SegmentMatch,
    previous: ClusterModel | None,
) -> dict[str, str]:
    """Inherited names for matched segments, rule-based unique names for the new ones."""
    names = {
        seg: previous.segment_names[seg]
        for seg in match.matched.values()
        if previous is not None and seg in previous.segment_names
    }
    new_clusters = [
        cluster for cluster, seg in enumerate(match.cluster_segment_ids) if seg not in names
    ]
    if not new_clusters:
        return names
    overall = numeric_means(frame)
    numeric = frame[overall.index].astype(float)
    cluster_means = numeric.groupby(labels).mean().reindex(new_clusters)
    fresh = name_segments(cluster_means, overall, taken=names.values())
    for cluster, name in fresh.items():
        names[match.cluster_segment_ids[int(cluster)]] = name
    return names


def _params(config: ClusterConfig, eps: float, effective_min_samples: int) -> dict[str, Any]:
    """JSON-able parameters of the fit."""
    return {
        "algorithm": config.algorithm,
        "features": list(config.features),
        "scaling": config.scaling,
        "log_transform": list(config.log_transform),
        "eps": float(eps),
        "eps_auto": config.eps is None,
        "min_samples": config.min_samples,
        "effective_min_samples": effective_min_samples,
        "min_cluster_size": config.min_cluster_size,
        "max_fit_sessions": config.max_fit_sessions,
        "max_neighbor_pairs": config.max_neighbor_pairs,
        "eps_scan_factors": list(config.eps_scan_factors),
        "eps_scan_sample": config.eps_scan_sample,
        "k_distance_max_queries": config.k_distance_max_queries,
        "match_cutoff": config.match_cutoff,
        "random_state": config.random_state,
    }


def _summarise(
    assignments: pd.DataFrame, match: SegmentMatch, n_clusters: int, messages: list[str]
) -> None:
    """Append the headline numbers of the fit to `messages`."""
    n_sessions = len(assignments)
    if n_sessions == 0:
        return
    noise_share = float(assignments["is_noise"].mean())
    messages.append(
        f"{n_clusters} clusters; noise share {noise_share:.1%} of {n_sessions} sessions"
    )
    if match.new_segment_ids:
        messages.append(f"new segment ids: {list(match.new_segment_ids)}")
    if match.vanished_segment_ids:
        messages.append(f"vanished segment ids: {list(match.vanished_segment_ids)}")
