"""The cluster model registry: one row per model version in ``cluster_model_versions``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from signal_pipeline.db import table_exists
from signal_pipeline.segments.model_artifact import ClusterModel

REGISTRY_TABLE = "cluster_model_versions"

REGISTRY_DDL = (
    "CREATE TABLE IF NOT EXISTS cluster_model_versions ("
    "version INTEGER PRIMARY KEY, fingerprint VARCHAR NOT NULL, artifact_path VARCHAR NOT NULL, "
    "window_start DATE, window_end DATE, sessions BIGINT, clusters INTEGER, "
    "noise_share DOUBLE, eps DOUBLE, params JSON, baseline JSON, membership_churn DOUBLE)"
)


@dataclass(frozen=True)
class RegisteredModel:
    """A registry row: where the artifact is and what it was fitted on."""

    version: int
    fingerprint: str
    artifact_path: Path
    window_start: date | None
    window_end: date | None
    baseline: dict[str, dict[str, float]]

    def load(self) -> ClusterModel:
        """Load the persisted model (clear error when the artifact file is gone)."""
        if not self.artifact_path.exists():
            raise FileNotFoundError(
                f"cluster model v{self.version} artifact missing: {self.artifact_path} "
                "(re-materialize cluster_model)"
            )
        return ClusterModel.load(self.artifact_path)


def latest_model(con: duckdb.DuckDBPyConnection) -> RegisteredModel | None:
    """The newest registered model version, or None before the first fit."""
    if not table_exists(con, REGISTRY_TABLE):
        return None
    row = con.execute(
        "SELECT version, fingerprint, artifact_path, window_start, window_end, baseline "
        "FROM cluster_model_versions ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return RegisteredModel(
        version=int(row[0]),
        fingerprint=str(row[1]),
        artifact_path=Path(row[2]),
        window_start=row[3],
        window_end=row[4],
        baseline=json.loads(row[5]) if row[5] else {},
    )


def register_model(
    con: duckdb.DuckDBPyConnection,
    model: ClusterModel,
    *,
    fingerprint: str,
    artifact_path: Path,
    noise_share: float,
    membership_churn: float | None,
) -> None:
    """Insert the registry row of a newly fitted model version."""
    con.execute(REGISTRY_DDL)
    window = model.window or (None, None)
    params: dict[str, Any] = dict(model.params)
    con.execute(
        "INSERT INTO cluster_model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            model.version,
            fingerprint,
            str(artifact_path),
            window[0],
            window[1],
            model.fit_sessions,
            model.n_clusters,
            noise_share,
            float(model.eps),
            json.dumps(params, default=str),
            json.dumps(model.baseline),
            membership_churn,
        ],
    )
