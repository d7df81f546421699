"""Bot-detection quality against ground-truth labels (e.g. the simulator's ``labels.csv``).

Labels are one row per *labelled* session: ``session_id``, ``is_bot`` and ``bot_kind`` (empty for
humans); ``anonymous_id``, ``session_start`` and ``session_end`` are used when present. A flagged
session is matched to its label by

1. its ``session_id``, with the ``#cap<k>`` suffix of sessions cut at the session cap removed
   (every part of a capped session belongs to the one labelled session), else
2. for sessions whose id was derived (the events carried no tracker session id): the labelled
   session of the same ``anonymous_id`` that was open at the flagged session's start.

A labelled session counts as *flagged* when any of its matched parts is flagged. Sessions with no
label and labels with no session are counted, never guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

LABEL_COLUMNS = ("session_id", "is_bot", "bot_kind")
CAP_SUFFIX_PATTERN = r"#cap\d+$"
TRUE_TEXT = frozenset({"true", "1", "yes", "t", "y"})


def read_bot_labels(path: str | Path) -> pd.DataFrame:
    """Read a labels CSV: ``session_id, is_bot, bot_kind`` (+ optional identity/time columns).

    ``is_bot`` may be a boolean, 0/1 or true/false text; ``bot_kind`` is '' for humans and
    ``'unknown'`` for bots without a kind. Raises ``ValueError`` when a required column is
    missing.
    """
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("session_id", "is_bot") if c not in labels.columns]
    if missing:
        raise ValueError(f"labels file {path} lacks column(s) {missing}")
    is_bot = labels["is_bot"].str.strip().str.lower().isin(TRUE_TEXT)
    kind = labels["bot_kind"].str.strip() if "bot_kind" in labels else pd.Series("", labels.index)
    frame = pd.DataFrame(
        {
            "session_id": labels["session_id"].astype(str),
            "is_bot": is_bot.to_numpy(dtype=bool),
            "bot_kind": np.where(is_bot, kind.replace("", "unknown"), ""),
        }
    )
    if "anonymous_id" in labels:
        frame["anonymous_id"] = labels["anonymous_id"].replace("", None)
    for column in ("session_start", "session_end"):
        if column in labels:
            parsed = pd.to_datetime(labels[column].replace("", None), utc=True, format="ISO8601")
            frame[column] = parsed.dt.tz_convert(None).astype("datetime64[us]")
    return frame


def match_sessions_to_labels(sessions: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    """For each row of ``sessions`` the labelled ``session_id`` it belongs to (NaN: no label).

    ``sessions`` needs ``session_id``; ``anonymous_id`` and ``session_start`` enable matching of
    derived-id sessions (see the module docstring).
    """
    base_ids = sessions["session_id"].astype(str).str.replace(CAP_SUFFIX_PATTERN, "", regex=True)
    known = set(labels["session_id"])
    matched = base_ids.where(base_ids.isin(known))
    by_time = {"anonymous_id", "session_start", "session_end"}
    if matched.notna().all() or not (
        by_time <= set(labels.columns) and {"anonymous_id", "session_start"} <= set(sessions)
    ):
        return matched
    todo = sessions.loc[matched.isna(), ["anonymous_id", "session_start"]].copy()
    todo["row"] = todo.index
    todo["session_start"] = pd.to_datetime(todo["session_start"]).astype("datetime64[us]")
    todo = todo.dropna().sort_values("session_start")
    spans = labels.dropna(subset=["anonymous_id", "session_start", "session_end"])
    spans = spans.rename(
        columns={"session_id": "label_id", "session_start": "label_start"}
    ).sort_values("label_start")
    joined = pd.merge_asof(
        todo,
        spans[["anonymous_id", "label_start", "session_end", "label_id"]],
        left_on="session_start",
        right_on="label_start",
        by="anonymous_id",
        direction="backward",
    )
    inside = joined["session_start"] <= joined["session_end"]
    found = joined.loc[inside, ["row", "label_id"]]
    matched.loc[found["row"].to_numpy()] = found["label_id"].to_numpy()
    return matched


@dataclass(frozen=True)
class BotDetectionQuality:
    """Confusion counts and rates of bot flags against ground truth, per labelled session."""

    labelled_sessions: int
    bots: int
    humans: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    recall_by_kind: dict[str, float]
    bots_by_kind: dict[str, int]
    false_positive_reasons: dict[str, int] = field(default_factory=dict)
    unlabelled_sessions: int = 0
    labels_without_session: int = 0

    @property
    def precision(self) -> float:
        """Flagged labelled sessions that are bots (1.0 when nothing is flagged)."""
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        """Bots that are flagged (1.0 when there are no bots)."""
        return self.true_positives / self.bots if self.bots else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Humans that are flagged (0.0 when there are no humans)."""
        return self.false_positives / self.humans if self.humans else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Counts, rates and per-kind figures as plain JSON-able values."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "false_positive_rate": self.false_positive_rate,
        }

    def to_markdown(self) -> str:
        """A markdown summary: overall rates, then recall per bot kind."""
        lines = [
            "| figure | value |",
            "| --- | --- |",
            f"| precision | {self.precision:.4f} |",
            f"| recall | {self.recall:.4f} |",
            f"| false-positive rate (humans) | {self.false_positive_rate:.4f} |",
            f"| bots flagged | {self.true_positives} / {self.bots} |",
            f"| humans flagged | {self.false_positives} / {self.humans} |",
            f"| sessions without label | {self.unlabelled_sessions} |",
            f"| labels without session | {self.labels_without_session} |",
            "",
            "| bot kind | bots | recall |",
            "| --- | --- | --- |",
        ]
        for kind in sorted(self.bots_by_kind):
            lines.append(
                f"| {kind} | {self.bots_by_kind[kind]} | {self.recall_by_kind[kind]:.4f} |"
            )
        return "\n".join(lines)


def _reason_lists(values: pd.Series) -> list[list[str]]:
    return [list(v) if v is not None and not isinstance(v, float) else [] for v in values]


def bot_detection_quality(flags: pd.DataFrame, labels: pd.DataFrame) -> BotDetectionQuality:
    """Precision, recall, false-positive rate and recall per bot kind of ``flags`` on ``labels``.

    ``flags``: one row per session with ``session_id`` and ``is_bot`` (``bot_reasons``,
    ``anomaly_score`` optional; ``anonymous_id`` and ``session_start`` enable matching of
    derived-id sessions). ``labels``: as returned by :func:`read_bot_labels`.
    """
    label_id = match_sessions_to_labels(flags, labels)
    known = flags.assign(label_id=label_id.to_numpy()).dropna(subset=["label_id"])
    flagged_ids = set(known.loc[known["is_bot"].astype(bool), "label_id"])
    seen = labels["session_id"].isin(set(known["label_id"]))
    truth = labels.loc[seen]
    predicted = truth["session_id"].isin(flagged_ids).to_numpy()
    is_bot = truth["is_bot"].to_numpy(dtype=bool)
    kinds = truth["bot_kind"].to_numpy()
    bots_by_kind = {str(k): int(((kinds == k) & is_bot).sum()) for k in sorted(set(kinds[is_bot]))}
    recall_by_kind = {
        k: float(predicted[(kinds == k) & is_bot].mean()) for k in bots_by_kind if bots_by_kind[k]
    }
    false_positive_reasons: dict[str, int] = {}
    if "bot_reasons" in known:
        human_ids = set(truth.loc[~truth["is_bot"], "session_id"])
        wrong = known[known["label_id"].isin(human_ids) & known["is_bot"].astype(bool)]
        for reasons in _reason_lists(wrong["bot_reasons"]):
            for reason in reasons:
                false_positive_reasons[reason] = false_positive_reasons.get(reason, 0) + 1
    return BotDetectionQuality(
        labelled_sessions=len(truth),
        bots=int(is_bot.sum()),
        humans=int((~is_bot).sum()),
        true_positives=int((predicted & is_bot).sum()),
        false_positives=int((predicted & ~is_bot).sum()),
        false_negatives=int((~predicted & is_bot).sum()),
        true_negatives=int((~predicted & ~is_bot).sum()),
        recall_by_kind=recall_by_kind,
        bots_by_kind=bots_by_kind,
        false_positive_reasons=dict(sorted(false_positive_reasons.items())),
        unlabelled_sessions=int(label_id.isna().sum()),
        labels_without_session=int((~seen).sum()),
    )
