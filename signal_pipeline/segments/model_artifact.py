"""The fitted cluster model and its pickle-free persistence.

A model is everything needed to assign new sessions without refitting: the feature names, the
log transform and scaler, the core samples (in scaled space) with their cluster labels, `eps`, the
segment id and name of every cluster, and the bookkeeping that keeps segment ids stable across
versions (`next_segment_number` is never reused).

On disk it is one `.npz` file (written to a temporary file, then atomically renamed): numeric
arrays as arrays, everything else as a UTF-8 JSON header stored as a uint8 array. Loading uses
`allow_pickle=False`, so a model file can never execute code.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from signal_pipeline.segments.config import NOISE_SEGMENT_ID, NOISE_SEGMENT_NAME
from signal_pipeline.segments.scaling import FeatureScaler

ARTIFACT_FORMAT = "signal_pipeline.cluster_model"
ARTIFACT_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """A fitted segmentation model (see the module docstring)."""

    version: int
    algorithm: str
    params: dict[str, Any]
    scaler: FeatureScaler
    eps: float
    core_samples: np.ndarray
    core_labels: np.ndarray
    cluster_segment_ids: tuple[str, ...]
    segment_names: dict[str, str]
    centroids_transformed: np.ndarray
    cluster_sizes: tuple[int, ...]
    next_segment_number: int
    window: tuple[date, date] | None = None
    fit_sessions: int = 0
    baseline: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the clustered features, in column order."""
        return self.scaler.feature_names

    @property
    def n_clusters(self) -> int:
        """Number of (non-noise) clusters."""
        return len(self.cluster_segment_ids)

    def segment_id_of(self, cluster: int) -> str:
        """Segment id of a cluster label (`-1` is noise)."""
        return NOISE_SEGMENT_ID if cluster < 0 else self.cluster_segment_ids[cluster]

    def segment_name_of(self, segment_id: str) -> str:
        """Human-readable name of a segment id."""
        if segment_id == NOISE_SEGMENT_ID:
            return NOISE_SEGMENT_NAME
        return self.segment_names[segment_id]

    def centroids_scaled(self) -> np.ndarray:
        """Cluster centroids in this model's scaled space (clusters × features)."""
        return self.scaler.scale_transformed(self.centroids_transformed)

    def save(self, path: str | Path) -> Path:
        """Write the model to `path` (a single .npz file, atomically); return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": ARTIFACT_FORMAT,
            "format_version": ARTIFACT_FORMAT_VERSION,
            "version": self.version,
            "algorithm": self.algorithm,
            "params": self.params,
            "scaling": self.scaler.method,
            "feature_names": list(self.scaler.feature_names),
            "log_transform": list(self.scaler.log_transform),
            "eps": self.eps,
            "cluster_segment_ids": list(self.cluster_segment_ids),
            "segment_names": self.segment_names,
            "cluster_sizes": list(self.cluster_sizes),
            "next_segment_number": self.next_segment_number,
            "window": None if self.window is None else [d.isoformat() for d in self.window],
            "fit_sessions": self.fit_sessions,
            "baseline": self.baseline,
        }
        header_bytes = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), np.uint8)
        arrays = {
            "header_json": header_bytes,
            "scaler_center": np.asarray(self.scaler.center, dtype=float),
            "scaler_scale": np.asarray(self.scaler.scale, dtype=float),
            "core_samples": np.asarray(self.core_samples, dtype=float),
            "core_labels": np.asarray(self.core_labels, dtype=np.int64),
            "centroids_transformed": np.asarray(self.centroids_transformed, dtype=float),
        }
        handle, temp_name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez_compressed(stream, **arrays)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | Path) -> ClusterModel:
        """Read a model written by `save` (no pickle is ever loaded)."""
        with np.load(Path(path), allow_pickle=False) as archive:
            header = json.loads(archive["header_json"].tobytes().decode("utf-8"))
            if header.get("format") != ARTIFACT_FORMAT:
                raise ValueError(f"{path} is not a cluster model artifact")
            if header.get("format_version") != ARTIFACT_FORMAT_VERSION:
                raise ValueError(f"unsupported model format version {header.get('format_version')}")
            scaler = FeatureScaler(
                method=header["scaling"],
                feature_names=tuple(header["feature_names"]),
                log_transform=tuple(header["log_transform"]),
                center=archive["scaler_center"],
                scale=archive["scaler_scale"],
            )
            window = header["window"]
            return cls(
                version=int(header["version"]),
                algorithm=header["algorithm"],
                params=header["params"],
                scaler=scaler,
                eps=float(header["eps"]),
                core_samples=archive["core_samples"],
                core_labels=archive["core_labels"],
                cluster_segment_ids=tuple(header["cluster_segment_ids"]),
                segment_names=dict(header["segment_names"]),
                centroids_transformed=archive["centroids_transformed"].reshape(
                    -1, len(scaler.feature_names)
                ),
                cluster_sizes=tuple(int(n) for n in header["cluster_sizes"]),
                next_segment_number=int(header["next_segment_number"]),
                window=None if window is None else tuple(date.fromisoformat(d) for d in window),
                fit_sessions=int(header["fit_sessions"]),
                baseline={k: dict(v) for k, v in header["baseline"].items()},
            )

    def summary(self) -> dict[str, Any]:
        """JSON-able description for run metadata (no arrays)."""
        return {
            "version": self.version,
            "algorithm": self.algorithm,
            "params": self.params,
            "eps": self.eps,
            "features": list(self.feature_names),
            "n_clusters": self.n_clusters,
            "n_core_samples": len(self.core_labels),
            "segments": {
                seg: {"name": self.segment_names[seg], "fit_sessions": size}
                for seg, size in zip(self.cluster_segment_ids, self.cluster_sizes, strict=True)
            },
            "window": None if self.window is None else [d.isoformat() for d in self.window],
            "fit_sessions": self.fit_sessions,
            "baseline": self.baseline,
        }


def scaler_as_dict(scaler: FeatureScaler) -> dict[str, Any]:
    """JSON-able form of a scaler (for metadata)."""
    raw = asdict(scaler)
    raw["center"] = [float(v) for v in scaler.center]
    raw["scale"] = [float(v) for v in scaler.scale]
    return raw
