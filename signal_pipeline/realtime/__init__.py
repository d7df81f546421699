"""Real-time scoring: assign live (possibly unfinished) sessions to segments.

Features come from the SQL models themselves (one definition), composed into one query over the
request's events in a private DuckDB; segments from the persisted cluster model.
"""

from signal_pipeline.realtime.api import LiveScorer, LiveScores
from signal_pipeline.realtime.feature_query import live_feature_sql
from signal_pipeline.realtime.model_source import (
    ModelNotFoundError,
    ModelWatcher,
    ScoringModel,
    load_scoring_model,
    write_segment_actions,
)
from signal_pipeline.realtime.scoring import SCORE_COLUMNS, score_features, score_records

__all__ = [
    "SCORE_COLUMNS",
    "LiveScorer",
    "LiveScores",
    "ModelNotFoundError",
    "ModelWatcher",
    "ScoringModel",
    "live_feature_sql",
    "load_scoring_model",
    "score_features",
    "score_records",
    "write_segment_actions",
]
