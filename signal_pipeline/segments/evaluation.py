"""Quality measures of a segmentation: agreement with planted labels, separation, recovery.

- `adjusted_rand`: sklearn's adjusted Rand index (noise counts as one label).
- `silhouette_on_sample`: silhouette in the model's scaled space over non-noise sessions, on a
  seeded sample of at most `max_sessions` (silhouette is quadratic in its input).
- `persona_recovery`: for each planted persona, the segment with the largest Jaccard overlap of
  sessions and the relative error |segment − persona| / |persona| of dwell, scroll depth, pooled
  CTA CTR and conversion lift (definitions in `profiles.headline_metrics`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.profiles import headline_metrics, overall_conversion_rate
from signal_pipeline.segments.scaling import feature_matrix

RECOVERY_METRICS = ("avg_dwell_per_page_s", "avg_scroll_depth_pct", "cta_ctr", "conversion_lift")
DEFAULT_SILHOUETTE_SESSIONS = 5_000


def adjusted_rand(
    labels_true: pd.Series | np.ndarray, labels_pred: pd.Series | np.ndarray
) -> float:
    """Adjusted Rand index between two labelings of the same sessions (1 = identical)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.asarray(labels_true), np.asarray(labels_pred)))


def silhouette_on_sample(
    model: ClusterModel,
    features: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    max_sessions: int = DEFAULT_SILHOUETTE_SESSIONS,
    random_state: int = 0,
) -> float:
    """Mean silhouette of non-noise sessions in scaled space (NaN with fewer than 2 clusters)."""
    from sklearn.metrics import silhouette_score

    joined = assignments[["session_id", "cluster", "is_noise"]].merge(
        features, on="session_id", how="inner", validate="one_to_one"
    )
    joined = joined[~joined["is_noise"].astype(bool)]
    matrix = feature_matrix(joined, model.feature_names)
    values = matrix.values[matrix.finite_rows]
    labels = joined["cluster"].to_numpy()[matrix.finite_rows]
    if len(values) > max_sessions:
        rng = np.random.default_rng(random_state)
        pick = rng.choice(len(values), size=max_sessions, replace=False)
        values, labels = values[pick], labels[pick]
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return float("nan")
    return float(silhouette_score(model.scaler.transform(values), labels))


def persona_recovery(
    features: pd.DataFrame, assignments: pd.DataFrame, personas: pd.DataFrame
) -> pd.DataFrame:
    """Best-matching segment per planted persona and the relative error of its key metrics.

    `personas` has `session_id` and `persona`. One row per persona: persona, sessions,
    best_segment_id, best_segment_name, jaccard, and for each metric m of `RECOVERY_METRICS`
    `persona_<m>`, `segment_<m>` and `rel_error_<m>` (NaN when the persona's value is 0).
    """
    joined = (
        assignments[["session_id", "segment_id", "segment_name"]]
        .merge(personas[["session_id", "persona"]], on="session_id", validate="one_to_one")
        .merge(features, on="session_id", validate="one_to_one")
    )
    base_rate = overall_conversion_rate(joined)
    overlap = pd.crosstab(joined["persona"], joined["segment_id"])
    persona_sizes = overlap.sum(axis=1)
    segment_sizes = overlap.sum(axis=0)
    rows = []
    for persona in overlap.index:
        union = persona_sizes[persona] + segment_sizes - overlap.loc[persona]
        jaccard = overlap.loc[persona] / union
        best = str(jaccard.idxmax())
        persona_rows = joined[joined["persona"] == persona]
        segment_rows = joined[joined["segment_id"] == best]
        truth = headline_metrics(persona_rows, base_rate)
        found = headline_metrics(segment_rows, base_rate)
        row: dict[str, object] = {
            "persona": persona,
            "sessions": int(persona_sizes[persona]),
            "best_segment_id": best,
            "best_segment_name": str(segment_rows["segment_name"].iloc[0]),
            "jaccard": float(jaccard[best]),
        }
        for metric in RECOVERY_METRICS:
            row[f"persona_{metric}"] = truth[metric]
            row[f"segment_{metric}"] = found[metric]
            row[f"rel_error_{metric}"] = _relative_error(found[metric], truth[metric])
        rows.append(row)
    return pd.DataFrame(rows)


def _relative_error(estimate: float, truth: float) -> float:
    """|estimate − truth| / |truth|, NaN when the truth is 0 or either is NaN."""
    if not np.isfinite(truth) or truth == 0 or not np.isfinite(estimate):
        return float("nan")
    return abs(estimate - truth) / abs(truth)
