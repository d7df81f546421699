"""Turn live feature rows into scores: segment, action flag and bot reasons per session.

Segment assignment is :func:`signal_pipeline.segments.assign.assign_sessions` with the persisted
model (the same code path as ``session_segments``); bot reasons come from the rules of
:mod:`signal_pipeline.bots.session_rules` applied to the bot signals the live query returns.
A session that breaks a bot rule is still scored, but its ``action_flag`` is ``none``: nothing
should be triggered for a bot.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from signal_pipeline.bots.session_rules import reasons_from_flags, rule_flags
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
    """One row per session of ``features`` (live query output) with :data:`SCORE_COLUMNS`.

    Uses the model's kept nearest-core index (:attr:`ScoringModel.index`), so a small batch
    costs no index build."""
    assigned = assign_sessions(scoring.model, features, index=scoring.index)
    flags = rule_flags(bot_signals(features), thresholds)
    is_bot = flags.to_numpy(dtype=bool).reshape(len(features), len(flags.columns)).any(axis=1)
    segment_ids = assigned["segment_id"].to_numpy(dtype=object)
    segment_flags = np.array([scoring.action_flags.get(s) for s in segment_ids], dtype=object)
    action = np.where(is_bot, FLAG_NONE, segment_flags)
    return pd.DataFrame(
        {
            "session_id": features["session_id"].to_numpy(),
            "person_id": features["person_id"].to_numpy(),
            "session_start": features["session_start"].to_numpy(),
            "urgency_score": features["urgency_score"].to_numpy(dtype=float),
            "engagement_depth_index": features["engagement_depth_index"].to_numpy(dtype=float),
            "segment_id": segment_ids,
            "segment_name": assigned["segment_name"].to_numpy(dtype=object),
            "is_noise": assigned["is_noise"].to_numpy(dtype=bool),
            "noise_reason": assigned["noise_reason"].to_numpy(dtype=object),
            "action_flag": action,
            "is_bot": is_bot,
            "bot_reasons": reasons_from_flags(flags),
            "cluster_version": scoring.version,
        },
        columns=list(SCORE_COLUMNS),
    )


def _text_or_none(value: object) -> str | None:
    # pandas' string columns hold a missing value as NaN: JSON has null for it
    return None if value is None or pd.isna(value) else str(value)


def _finite_or_none(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def score_records(scores: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready dicts (ISO timestamps, plain Python values, NaN as None)."""
    starts = [
        None if pd.isna(start) else pd.Timestamp(start).isoformat()
        for start in scores["session_start"].tolist()
    ]
    columns = {
        "session_id": scores["session_id"].tolist(),
        "person_id": [_text_or_none(v) for v in scores["person_id"].tolist()],
        "session_start": starts,
        "urgency_score": [_finite_or_none(v) for v in scores["urgency_score"].tolist()],
        "engagement_depth_index": [
            _finite_or_none(v) for v in scores["engagement_depth_index"].tolist()
        ],
        "segment_id": [_text_or_none(v) for v in scores["segment_id"].tolist()],
        "segment_name": [_text_or_none(v) for v in scores["segment_name"].tolist()],
        "is_noise": [bool(v) for v in scores["is_noise"].tolist()],
        "noise_reason": [_text_or_none(v) for v in scores["noise_reason"].tolist()],
        "action_flag": [_text_or_none(v) for v in scores["action_flag"].tolist()],
        "is_bot": [bool(v) for v in scores["is_bot"].tolist()],
        "bot_reasons": [
            [] if r is None else [str(x) for x in r] for r in scores["bot_reasons"].tolist()
        ],
        "cluster_version": [int(v) for v in scores["cluster_version"].tolist()],
    }
    rows = zip(*columns.values(), strict=True)
    return [dict(zip(SCORE_COLUMNS, row, strict=True)) for row in rows]
