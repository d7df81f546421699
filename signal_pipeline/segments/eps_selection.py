"""Choosing DBSCAN's `eps` among candidates around the k-distance knee.

The knee of the k-distance curve (`eps_tuning.py`) says where density drops, but on data whose
clusters lie close together a few sessions in between can chain two clusters at the knee's eps
(DBSCAN's single-link effect), while a slightly smaller eps separates them. So the knee is the
centre of a small scan rather than the answer:

1. candidates = knee × each of `factors` (e.g. 0.6 … 1.2);
2. the eps-neighbourhood graph of the fit rows is computed once, at the largest candidate, and
   DBSCAN runs on it for every candidate (`graph_dbscan`: entries beyond a candidate's eps are
   not neighbours), so the scan costs one neighbour search plus a linear pass per candidate;
3. each candidate is scored by the mean silhouette over a seeded sample of fit sessions in which
   a noise session counts 0 (so shrinking eps until half the data is noise does not pay, and
   merging two distinct groups lowers the separation term); fewer than two clusters score 0;
4. the best score wins; ties go to the candidate closest to the knee.

No constant of the scan is fitted to a data set: the factors bracket the knee symmetrically in
log-scale and the silhouette has no threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from signal_pipeline.segments.config import DEFAULT_EPS_SCAN_FACTORS

if TYPE_CHECKING:
    from scipy import sparse

DEFAULT_SCORE_SAMPLE = 2_000


@dataclass(frozen=True)
class EpsCandidate:
    """One scanned eps: its clusters, noise share and score on the scoring sample."""

    factor: float
    eps: float
    clusters: int
    noise_share: float
    score: float

    def as_metadata(self) -> dict[str, float | int]:
        """JSON-able form."""
        return {
            "factor": self.factor,
            "eps": self.eps,
            "clusters": self.clusters,
            "noise_share": self.noise_share,
            "score": self.score,
        }


@dataclass(frozen=True)
class EpsScan:
    """Every candidate and the index of the chosen one."""

    candidates: tuple[EpsCandidate, ...]
    chosen: int

    @property
    def eps(self) -> float:
        """The chosen eps."""
        return self.candidates[self.chosen].eps

    def as_metadata(self) -> dict[str, object]:
        """JSON-able summary for run metadata."""
        return {
            "chosen_eps": self.eps,
            "chosen_factor": self.candidates[self.chosen].factor,
            "candidates": [c.as_metadata() for c in self.candidates],
        }


def neighbor_graph(rows: np.ndarray, radius: float) -> sparse.csr_matrix:
    """Sparse distance graph of every pair of `rows` within `radius` (self included)."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(radius=radius, algorithm="auto").fit(rows)
    graph = index.radius_neighbors_graph(rows, mode="distance", sort_results=False).tocsr()
    graph.data = graph.data.astype(np.float32)
    graph.sort_indices()
    return graph


@dataclass(frozen=True)
class GraphClustering:
    """DBSCAN labels of the graph's rows (-1 = noise) and which rows are core points."""

    labels: np.ndarray
    is_core: np.ndarray


@dataclass(frozen=True)
class NeighborEdges:
    """The off-diagonal edges of an eps-graph, grouped by owner row (CSR order)."""

    n_rows: int
    owner: np.ndarray
    neighbor: np.ndarray
    distance: np.ndarray

    @classmethod
    def from_graph(cls, graph: sparse.csr_matrix) -> NeighborEdges:
        """Edges of a CSR distance graph with sorted indices, self-loops dropped."""
        n_rows = graph.shape[0]
        owner = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(graph.indptr))
        keep = graph.indices != owner
        return cls(n_rows, owner[keep], graph.indices[keep], graph.data[keep])


def graph_dbscan(
    edges: NeighborEdges, eps: float, min_samples: int, weights: np.ndarray
) -> GraphClustering:
    """DBSCAN at `eps` on the edges of a distance graph built at a radius ≥ `eps` (vectorised).

    Same definition as `sklearn.cluster.DBSCAN` with `sample_weight`: a row is core when the
    weights of the rows within `eps` (itself included) sum to at least `min_samples`; clusters
    are the connected components of core rows; a non-core row within `eps` of a core row joins
    the cluster of its *nearest* core row (sklearn takes whichever cluster reaches it first;
    nearest is deterministic and is the rule `assign.py` applies to new sessions).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n_rows = edges.n_rows
    within = edges.distance <= eps
    owner, neighbor = edges.owner[within], edges.neighbor[within]
    weights = np.asarray(weights, dtype=float)
    degree = weights + np.bincount(owner, weights=weights[neighbor], minlength=n_rows)
    is_core = degree >= min_samples - 1e-9
    labels = np.full(n_rows, -1, dtype=np.int64)
    if not is_core.any():
        return GraphClustering(labels, is_core)
    core_neighbor = is_core[neighbor]
    core_edge = core_neighbor & is_core[owner]
    adjacency = sparse.csr_matrix(
        (
            np.ones(int(core_edge.sum()), dtype=np.float64),
            neighbor[core_edge],
            np.concatenate([[0], np.cumsum(np.bincount(owner[core_edge], minlength=n_rows))]),
        ),
        shape=(n_rows, n_rows),
    )
    # Indices stay sorted through the masks, so scipy need not re-sort (or copy) the graph.
    adjacency.has_sorted_indices = True
    adjacency.has_canonical_format = True
    # The eps-graph is symmetric, so strong components are the undirected components (and
    # need no transposed copy of the graph).
    _, component = connected_components(adjacency, directed=True, connection="strong")
    _, labels[is_core] = np.unique(component[is_core], return_inverse=True)
    border = core_neighbor & ~is_core[owner]
    if border.any():
        b_owner, b_neighbor = owner[border], neighbor[border]
        b_distance = edges.distance[within][border]
        starts = np.flatnonzero(np.r_[True, b_owner[1:] != b_owner[:-1]])
        nearest = np.minimum.reduceat(b_distance, starts)
        group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(b_owner)]))
        is_nearest = np.flatnonzero(b_distance == nearest[group])
        _, first = np.unique(group[is_nearest], return_index=True)
        chosen = is_nearest[first]
        labels[b_owner[chosen]] = labels[b_neighbor[chosen]]
    return GraphClustering(labels, is_core)


def noise_penalized_silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette over all sampled sessions, noise (label < 0) counting 0."""
    from sklearn.metrics import silhouette_samples

    clustered = labels >= 0
    distinct = np.unique(labels[clustered])
    if len(distinct) < 2 or clustered.sum() <= len(distinct):
        return 0.0
    inner = distances[np.ix_(clustered, clustered)]
    values = silhouette_samples(inner, labels[clustered], metric="precomputed")
    return float(values.sum() / len(labels))


def scan_eps(
    rows: np.ndarray,
    weights: np.ndarray,
    row_of_session: np.ndarray,
    knee_eps: float,
    min_samples: int,
    *,
    factors: tuple[float, ...] = DEFAULT_EPS_SCAN_FACTORS,
    score_sample: int = DEFAULT_SCORE_SAMPLE,
    random_state: int = 0,
    edges: NeighborEdges | None = None,
) -> tuple[EpsScan, NeighborEdges]:
    """Scan `knee_eps × factors` on distinct `rows` (weights = multiplicity); see module doc.

    `row_of_session` maps each fit session to its distinct row (the scoring sample is drawn from
    sessions, so duplicates count as often as they occur). Returns the scan and the neighbour
    graph (at the largest candidate) for the final fit to reuse.
    """
    from sklearn.metrics import pairwise_distances

    ordered = sorted(set(factors) | {1.0})
    largest = knee_eps * max(ordered)
    if edges is None:
        edges = NeighborEdges.from_graph(neighbor_graph(rows, largest))
    rng = np.random.default_rng(random_state)
    n_sessions = len(row_of_session)
    picked = rng.choice(n_sessions, size=min(score_sample, n_sessions), replace=False)
    sample_rows = row_of_session[picked]
    distances = pairwise_distances(rows[sample_rows])
    candidates = []
    for factor in ordered:
        eps = knee_eps * factor
        labels = graph_dbscan(edges, eps, min_samples, weights).labels
        session_labels = labels[row_of_session]
        candidates.append(
            EpsCandidate(
                factor=float(factor),
                eps=float(eps),
                clusters=int(labels.max()) + 1 if labels.max() >= 0 else 0,
                noise_share=float((session_labels < 0).mean()) if n_sessions else 0.0,
                score=noise_penalized_silhouette(distances, labels[sample_rows]),
            )
        )
    best = max(c.score for c in candidates)
    ties = [i for i, c in enumerate(candidates) if c.score >= best - 1e-12]
    chosen = min(ties, key=lambda i: abs(np.log(candidates[i].factor)))
    return EpsScan(candidates=tuple(candidates), chosen=chosen), edges
