"""Choosing DBSCAN's `eps` from the knee of the k-distance curve.

The k-distance of a point is the distance to its k-th nearest neighbour *counting the point
itself* (k = `min_samples`), which is exactly the smallest `eps` at which DBSCAN makes that point
a core point. Sorted ascending, the curve is flat inside dense regions and rises steeply for
outliers; the knee separates the two.

Knee method: maximum distance to the chord. Both axes are normalised to [0, 1]; the knee is the
point of the curve farthest *below* the straight line from the first to the last point (for an
increasing convex curve this equals kneedle's difference curve maximum). The method has no
tuning constant. To keep a handful of extreme outliers from stretching the y axis and pulling the
knee into the dense part, the chord ends at the 99.5th percentile of the curve when the curve has
at least 200 points (the tail beyond is kept in the returned curve). A flat curve (all distances
equal, e.g. identical rows) has no knee: its level is returned, floored at `MIN_EPS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_EPS = 1e-6
TAIL_QUANTILE = 0.995
MIN_POINTS_FOR_TAIL_TRIM = 200


@dataclass(frozen=True)
class KDistanceCurve:
    """Sorted k-distances of (a sample of) the fit points and the knee chosen on them."""

    k: int
    distances: np.ndarray
    knee_index: int
    knee_eps: float

    def as_metadata(self, max_points: int = 200) -> dict[str, object]:
        """A small JSON-able summary (the curve thinned to `max_points` quantiles)."""
        if len(self.distances) == 0:
            return {"k": self.k, "knee_index": self.knee_index, "knee_eps": self.knee_eps}
        positions = np.linspace(0, len(self.distances) - 1, min(max_points, len(self.distances)))
        thinned = self.distances[positions.round().astype(int)]
        return {
            "k": self.k,
            "n_points": len(self.distances),
            "knee_index": self.knee_index,
            "knee_eps": self.knee_eps,
            "quantiles": [float(q) for q in np.linspace(0, 1, len(thinned))],
            "distances": [float(d) for d in thinned],
        }


def k_distances(
    scaled: np.ndarray,
    k: int,
    *,
    max_queries: int,
    random_state: int,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted distance of each (sampled) point to its k-th neighbour, the point itself included.

    With `sample_weight` (rows deduplicated, weight = multiplicity) the k-th neighbour is found
    on the weighted cumulative count, so duplicates count as the neighbours they are.
    """
    from sklearn.neighbors import NearestNeighbors

    n_rows = len(scaled)
    if n_rows == 0:
        return np.empty(0)
    weights = np.ones(n_rows) if sample_weight is None else np.asarray(sample_weight, float)
    rng = np.random.default_rng(random_state)
    total_weight = round(float(weights.sum()))
    if total_weight > max_queries:
        # Sampling proportional to multiplicity = sampling the original (duplicated) rows.
        query_index = rng.choice(n_rows, size=max_queries, replace=True, p=weights / weights.sum())
    else:
        query_index = np.repeat(np.arange(n_rows), np.round(weights).astype(int))
    n_neighbors = min(k, n_rows)
    index = NearestNeighbors(n_neighbors=n_neighbors, algorithm="auto").fit(scaled)
    distances, neighbors = index.kneighbors(scaled[query_index], n_neighbors=n_neighbors)
    cumulative = np.cumsum(weights[neighbors], axis=1)
    reached = cumulative >= k
    # Rows whose whole neighbourhood (or the whole data set) is lighter than k use the farthest.
    position = np.where(reached.any(axis=1), reached.argmax(axis=1), n_neighbors - 1)
    kth = distances[np.arange(len(query_index)), position]
    return np.sort(kth)


def knee_index(sorted_distances: np.ndarray) -> int:
    """Index of the knee of an ascending curve by maximum distance below the chord."""
    n_points = len(sorted_distances)
    if n_points < 3:
        return max(n_points - 1, 0)
    end = n_points - 1
    if n_points >= MIN_POINTS_FOR_TAIL_TRIM:
        end = int(np.floor(TAIL_QUANTILE * (n_points - 1)))
    y = sorted_distances[: end + 1]
    span = y[-1] - y[0]
    if span <= 0:
        return end
    x_norm = np.linspace(0.0, 1.0, len(y))
    y_norm = (y - y[0]) / span
    gap_below_chord = x_norm - y_norm
    return int(np.argmax(gap_below_chord))


def tune_eps(
    scaled: np.ndarray,
    k: int,
    *,
    max_queries: int,
    random_state: int,
    sample_weight: np.ndarray | None = None,
) -> KDistanceCurve:
    """Compute the k-distance curve and the eps at its knee (floored at `MIN_EPS`)."""
    distances = k_distances(
        scaled, k, max_queries=max_queries, random_state=random_state, sample_weight=sample_weight
    )
    if len(distances) == 0:
        return KDistanceCurve(k=k, distances=distances, knee_index=0, knee_eps=MIN_EPS)
    index = knee_index(distances)
    eps = max(float(distances[index]), MIN_EPS)
    return KDistanceCurve(k=k, distances=distances, knee_index=index, knee_eps=eps)
