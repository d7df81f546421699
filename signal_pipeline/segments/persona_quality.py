"""Quality of a segmentation against the simulator's planted personas (`labels.csv`).

Figures, over the human sessions (label `is_bot` false) that the segmentation assigned:
- `ari_humans`: adjusted Rand index between segment ids (noise is one label) and personas;
- per persona, the best-matching segment (largest Jaccard overlap) and the relative error of its
  average dwell, scroll depth, pooled CTA CTR and conversion lift against the persona's own
  sessions (`evaluation.persona_recovery`; the lift base is the all-human-session rate);
- `max_rel_error`: the largest of those errors over every persona and metric.

Targets (the issue's acceptance figures): ARI ≥ `ARI_TARGET`, every error ≤ `REL_ERROR_TARGET`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signal_pipeline.segments.evaluation import RECOVERY_METRICS, adjusted_rand, persona_recovery

ARI_TARGET = 0.85
REL_ERROR_TARGET = 0.15
LABEL_COLUMNS = ("session_id", "persona", "is_bot")


@dataclass(frozen=True)
class PersonaQuality:
    """ARI over human sessions and the per-persona recovery table."""

    human_sessions: int
    ari_humans: float
    recovery: pd.DataFrame

    @property
    def max_rel_error(self) -> float:
        """Largest relative error over every persona and recovery metric (NaN if none)."""
        columns = [f"rel_error_{m}" for m in RECOVERY_METRICS]
        values = self.recovery[columns].to_numpy(dtype=float) if len(self.recovery) else []
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        return float(finite.max()) if finite.size else float("nan")

    @property
    def meets_targets(self) -> bool:
        """Whether ARI and every recovery error meet the targets."""
        return bool(
            self.ari_humans >= ARI_TARGET
            and np.isfinite(self.max_rel_error)
            and self.max_rel_error <= REL_ERROR_TARGET
        )

    def as_metadata(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "human_sessions": self.human_sessions,
            "ari_humans": self.ari_humans,
            "ari_target": ARI_TARGET,
            "max_rel_error": self.max_rel_error,
            "rel_error_target": REL_ERROR_TARGET,
            "meets_targets": self.meets_targets,
            "recovery": [
                {key: _json_value(value) for key, value in row.items()}
                for row in self.recovery.to_dict(orient="records")
            ],
        }


def read_persona_labels(path: str | Path) -> pd.DataFrame:
    """`session_id, persona, is_bot` of a simulator `labels.csv` (clear error when unusable)."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"persona labels file not found: {source}")
    labels = pd.read_csv(source, dtype={"session_id": str, "persona": str})
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise ValueError(f"{source} lacks the label columns {missing}")
    is_bot = labels["is_bot"].astype(str).str.lower().isin(["true", "1"])
    return pd.DataFrame(
        {"session_id": labels["session_id"], "persona": labels["persona"], "is_bot": is_bot}
    )


def persona_quality(
    features: pd.DataFrame, assignments: pd.DataFrame, labels: pd.DataFrame
) -> PersonaQuality:
    """Quality figures of `assignments` (one row per session) against planted `labels`."""
    humans = labels.loc[~labels["is_bot"], ["session_id", "persona"]]
    assigned = assignments[["session_id", "segment_id", "segment_name"]].astype({"session_id": str})
    humans = humans[humans["session_id"].isin(assigned["session_id"])]
    if humans.empty:
        return PersonaQuality(0, float("nan"), pd.DataFrame())
    joined = humans.merge(assigned, on="session_id", validate="one_to_one")
    frame = features.astype({"session_id": str})
    frame = frame[frame["session_id"].isin(humans["session_id"])]
    human_assignments = assigned[assigned["session_id"].isin(humans["session_id"])]
    recovery = persona_recovery(frame, human_assignments, humans)
    return PersonaQuality(
        human_sessions=len(joined),
        ari_humans=adjusted_rand(joined["persona"], joined["segment_id"]),
        recovery=recovery,
    )


def _json_value(value: object) -> object:
    """NaN/inf as None, NumPy scalars as Python scalars."""
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
