"""The cluster model registry: one row per model version in ``cluster_model_versions``.

Besides where the artifact is and what it was fitted on, each row records how the segmentation
moved since the previous version: `previous_version`, the new and vanished segment ids, the
centroid shift of every segment id that was kept (JSON object id → distance in the previous
model's scaled space, and its maximum), and the membership churn (sessions assigned by both
versions and how many changed segment). A table created by an older version of this module
gains the new columns on the next registration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
CHANGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("previous_version", "INTEGER"),
    ("new_segment_ids", "JSON"),
    ("vanished_segment_ids", "JSON"),
    ("centroid_shift", "JSON"),
    ("max_centroid_shift", "DOUBLE"),
    ("churn_sessions_in_both", "BIGINT"),
    ("churn_sessions_changed", "BIGINT"),
)


@dataclass(frozen=True)
class VersionChanges:
    """How a new version differs from the previous one (all empty/None for the first)."""

    previous_version: int | None = None
    new_segment_ids: tuple[str, ...] = ()
    vanished_segment_ids: tuple[str, ...] = ()
    centroid_shift: dict[str, float] = field(default_factory=dict)
    membership_churn: float | None = None
    sessions_in_both: int | None = None
    sessions_changed: int | None = None

    @property
    def max_centroid_shift(self) -> float | None:
        """Largest centroid shift of a kept segment (None when nothing was kept)."""
        return max(self.centroid_shift.values()) if self.centroid_shift else None

    def as_metadata(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "previous_version": self.previous_version,
            "new_segment_ids": list(self.new_segment_ids),
            "vanished_segment_ids": list(self.vanished_segment_ids),
            "centroid_shift": dict(self.centroid_shift),
            "max_centroid_shift": self.max_centroid_shift,
            "membership_churn": self.membership_churn,
            "sessions_in_both": self.sessions_in_both,
            "sessions_changed": self.sessions_changed,
        }


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    """Create the registry table, or add the change columns to an older one."""
    con.execute(REGISTRY_DDL)
    for name, sql_type in CHANGE_COLUMNS:
        # Identifiers and types come from the constant above, never from data.
        con.execute(
            f"ALTER TABLE cluster_model_versions ADD COLUMN IF NOT EXISTS {name} {sql_type}"
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
    changes: VersionChanges,
) -> None:
    """Insert the registry row of a newly fitted model version."""
    ensure_registry(con)
    window = model.window or (None, None)
    params: dict[str, Any] = dict(model.params)
    con.execute(
        "INSERT INTO cluster_model_versions (version, fingerprint, artifact_path, window_start, "
        "window_end, sessions, clusters, noise_share, eps, params, baseline, membership_churn, "
        "previous_version, new_segment_ids, vanished_segment_ids, centroid_shift, "
        "max_centroid_shift, churn_sessions_in_both, churn_sessions_changed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            changes.membership_churn,
            changes.previous_version,
            json.dumps(list(changes.new_segment_ids)),
            json.dumps(list(changes.vanished_segment_ids)),
            json.dumps(changes.centroid_shift),
            changes.max_centroid_shift,
            changes.sessions_in_both,
            changes.sessions_changed,
        ],
    )
