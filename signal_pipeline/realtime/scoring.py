"""Turn live feature rows into scores: segment, action flag and bot reasons per session.

Segment assignment is :func:`signal_pipeline.segments.assign.assign_sessions` with the persisted
model (the same code path as ``session_segments``); bot reasons come from the rules of
:mod:`signal_pipeline.bots.session_rules` applied to the bot signals the live query returns.
A session that breaks a bot rule is still scored, but its ``action_flag`` is ``none``: nothing
should be triggered for a bot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from signal_pipeline.bots.detect import reason_lists
from signal_pipeline.bots.session_rules import rule_flags
from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.realtime.feature_query import SIGNAL_PREFIX
from signal_pipeline.realtime.model_source import ScoringModel
from signal_pipeline.segments.assign import assign_sessions
from signal_pipeline.segments.profiles import FLAG_NONE

SCORE_COLUMNS = (
    "session_id",
    "person_id",
    "session_start",
    "urgency_score",
    "engagement_depth_index",
    "segment_id",
    "segment_name",
    "is_noise",
    "noise_reason",
    "action_flag",
    "is_bot",
    "bot_reasons",
    "cluster_version",
)


def bot_signals(features: pd.DataFrame) -> pd.DataFrame:
    """The ``bot_signal__*`` columns of the live query, under the rules' signal names."""
    columns = [c for c in features.columns if c.startswith(SIGNAL_PREFIX)]
    return features[columns].rename(columns=lambda c: c.removeprefix(SIGNAL_PREFIX))


def score_features(
    features: pd.DataFrame, scoring: ScoringModel, thresholds: BotThresholds
) -> pd.DataFrame:
    """One row per session of ``features`` (live query output) with :data:`SCORE_COLUMNS`."""
    assigned = assign_sessions(scoring.model, features)
    flags = rule_flags(bot_signals(features), thresholds)
    matrix = flags.to_numpy(dtype=bool).reshape(len(features), len(flags.columns))
    is_bot = matrix.any(axis=1)
    segment_flags = assigned["segment_id"].map(scoring.action_flags).astype(object)
    segment_flags = segment_flags.where(segment_flags.notna(), None)
    action = np.where(is_bot, FLAG_NONE, segment_flags.to_numpy(dtype=object))
    scores = pd.DataFrame(
        {
            "session_id": features["session_id"].to_numpy(),
            "person_id": features["person_id"].to_numpy(),
            "session_start": features["session_start"].to_numpy(),
            "urgency_score": features["urgency_score"].to_numpy(dtype=float),
            "engagement_depth_index": features["engagement_depth_index"].to_numpy(dtype=float),
            "segment_id": assigned["segment_id"].to_numpy(),
            "segment_name": assigned["segment_name"].to_numpy(),
            "is_noise": assigned["is_noise"].to_numpy(dtype=bool),
            "noise_reason": assigned["noise_reason"].to_numpy(),
            "action_flag": action,
            "is_bot": is_bot,
            "bot_reasons": [list(r) for r in reason_lists(matrix, list(flags.columns))],
            "cluster_version": scoring.version,
        },
        columns=list(SCORE_COLUMNS),
    )
    return scores


def score_records(scores: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready dicts (ISO timestamps, plain Python values, NaN as None)."""
    records = []
    for row in scores.itertuples(index=False):
        record = dict(zip(SCORE_COLUMNS, row, strict=True))
        start = record["session_start"]
        record["session_start"] = None if pd.isna(start) else pd.Timestamp(start).isoformat()
        reasons = record["bot_reasons"]
        record["bot_reasons"] = [] if reasons is None else [str(r) for r in reasons]
        for key in ("urgency_score", "engagement_depth_index"):
            value = float(record[key])
            record[key] = value if np.isfinite(value) else None
        for key in ("person_id", "segment_id", "segment_name", "noise_reason", "action_flag"):
            # pandas' string columns hold a missing value as NaN: JSON has null for it
            value = record[key]
            record[key] = None if value is None or pd.isna(value) else str(value)
        record["is_noise"] = bool(record["is_noise"])
        record["is_bot"] = bool(record["is_bot"])
        record["cluster_version"] = int(record["cluster_version"])
        records.append(record)
    return records
