"""Turning a feature frame into the scaled matrix the clustering works in.

Steps, in order: select the configured columns as float64; mark rows with a missing or non-finite
value (they are excluded from fitting and assigned to noise); apply `sign(x)·log1p(|x|)` to the
log-transformed columns; scale per column.

Scalers (all affine per column, so centroids can be moved between models):
- `standard`: (x - mean) / std
- `robust`: (x - median) / IQR; a zero IQR (zero-inflated column) falls back to the std, a zero
  std to 1 — a constant column becomes all zeros, never NaN
- `minmax`: (x - min) / (max - min); a constant column becomes 0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from signal_pipeline.segments.derived import with_derived_features


@dataclass(frozen=True, eq=False)
class FeatureScaler:
    """Per-column affine scaling: `scaled = (transformed - center) / scale`."""

    method: str
    feature_names: tuple[str, ...]
    log_transform: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray

    def log_mask(self) -> np.ndarray:
        """Boolean mask of the columns that are log-transformed."""
        return np.array([name in self.log_transform for name in self.feature_names], dtype=bool)

    def transform_unscaled(self, values: np.ndarray) -> np.ndarray:
        """Apply only the log transform (the space centroids are stored in)."""
        return apply_log_transform(values, self.log_mask())

    def scale_transformed(self, transformed: np.ndarray) -> np.ndarray:
        """Scale already log-transformed values."""
        return (transformed - self.center) / self.scale

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Log-transform then scale raw feature values (rows × features)."""
        return self.scale_transformed(self.transform_unscaled(values))


@dataclass(frozen=True)
class FeatureMatrix:
    """Raw float feature values plus which rows are usable (all values finite)."""

    values: np.ndarray
    finite_rows: np.ndarray


def missing_feature_columns(features: pd.DataFrame, feature_names: tuple[str, ...]) -> list[str]:
    """Configured features that are neither in the frame nor derivable from it."""
    available = with_derived_features(features.head(0)).columns
    return [name for name in feature_names if name not in available]


def feature_matrix(features: pd.DataFrame, feature_names: tuple[str, ...]) -> FeatureMatrix:
    """Select `feature_names` as a float64 matrix and flag the rows with only finite values.

    Raises ValueError naming the columns when a configured feature is absent.
    """
    missing = missing_feature_columns(features, feature_names)
    if missing:
        raise ValueError(f"feature columns missing from the input: {missing}")
    frame = with_derived_features(features)
    columns = [
        pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for name in feature_names
    ]
    values = (
        np.column_stack(columns) if columns else np.empty((len(frame), 0), dtype=float)
    ).reshape(len(frame), len(feature_names))
    finite_rows = np.isfinite(values).all(axis=1)
    return FeatureMatrix(values=values, finite_rows=finite_rows)


def apply_log_transform(values: np.ndarray, log_mask: np.ndarray) -> np.ndarray:
    """`sign(x)·log1p(|x|)` on the masked columns; defined for every finite value."""
    out = np.array(values, dtype=float, copy=True)
    if log_mask.any():
        cols = out[:, log_mask]
        out[:, log_mask] = np.sign(cols) * np.log1p(np.abs(cols))
    return out


def fit_scaler(
    values: np.ndarray,
    *,
    method: str,
    feature_names: tuple[str, ...],
    log_transform: tuple[str, ...],
) -> tuple[FeatureScaler, list[str]]:
    """Fit a scaler on finite raw values; return it and the names of constant columns."""
    log_mask = np.array([name in log_transform for name in feature_names], dtype=bool)
    transformed = apply_log_transform(values, log_mask)
    n_features = len(feature_names)
    if len(transformed) == 0:
        center, scale = np.zeros(n_features), np.ones(n_features)
        return FeatureScaler(method, feature_names, log_transform, center, scale), []
    spread = transformed.max(axis=0) - transformed.min(axis=0)
    constant = spread == 0
    if method == "standard":
        center = transformed.mean(axis=0)
        scale = transformed.std(axis=0)
    elif method == "robust":
        center = np.median(transformed, axis=0)
        q25, q75 = np.percentile(transformed, [25, 75], axis=0)
        scale = q75 - q25
        std = transformed.std(axis=0)
        scale = np.where(scale > 0, scale, std)
    elif method == "minmax":
        center = transformed.min(axis=0)
        scale = spread
    else:
        raise ValueError(f"unknown scaling {method!r}")
    # A constant column maps exactly to 0 (floating-point mean/std could leave 1e-16 residues).
    center = np.where(constant, transformed[0], center)
    scale = np.where(constant | ~(scale > 0), 1.0, scale)
    constant_names = [name for name, flag in zip(feature_names, constant, strict=True) if flag]
    scaler = FeatureScaler(method, feature_names, log_transform, center, scale)
    return scaler, constant_names
