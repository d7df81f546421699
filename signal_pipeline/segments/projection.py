"""A 2-D picture of sessions by segment: PCA of standardized features, as data or a PNG chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SCATTER_FEATURES = (
    "mean_dwell_per_page_s",
    "mean_scroll_depth_pct",
    "mean_scroll_velocity_pct_per_s",
    "click_frequency_per_min",
    "hover_density_ms_per_min",
    "pricing_hover_density_ms_per_min",
    "comparison_views",
    "cta_ctr",
    "urgency_score",
    "engagement_depth_index",
)


def projection(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Columns ``pc1, pc2, segment_name``: PCA of standardized ``features`` (NaN/inf as 0)."""
    from sklearn.decomposition import PCA  # lazily: only charts need it

    values = frame[list(features)].to_numpy(dtype=float)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    spread = values.std(axis=0)
    spread[spread == 0] = 1.0
    scaled = (values - values.mean(axis=0)) / spread
    n_components = max(1, min(2, scaled.shape[1], scaled.shape[0]))
    points = PCA(n_components=n_components, random_state=0).fit_transform(scaled)
    if points.shape[1] < 2:
        points = np.column_stack([points, np.zeros(len(points))])
    return pd.DataFrame(
        {"pc1": points[:, 0], "pc2": points[:, 1], "segment_name": frame["segment_name"].values}
    )


def segment_scatter_markdown(frame: pd.DataFrame, max_points: int = 3000) -> str | None:
    """A PNG scatter (markdown) of up to ``max_points`` sessions coloured by segment.

    ``frame`` holds session features plus ``segment_name``; None when there are < 3 sessions.
    """
    from signal_pipeline.charts import figure_png, new_figure, png_markdown

    if len(frame) < 3:
        return None
    sample = frame.sample(n=min(max_points, len(frame)), random_state=0)
    features = [c for c in SCATTER_FEATURES if c in sample.columns]
    points = projection(sample, features)
    fig, ax = new_figure(7.0, 4.2)
    for name, group in points.groupby("segment_name", sort=True):
        ax.scatter(group["pc1"], group["pc2"], s=6, alpha=0.6, label=f"{name} ({len(group)})")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(f"Sessions by segment (PCA of {len(features)} features)")
    ax.legend(fontsize=7, markerscale=2)
    return png_markdown(figure_png(fig), "sessions by segment")
