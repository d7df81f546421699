"""Behavioural segmentation of validated sessions: fit, assign, match, name, profile, evaluate.

Pure Python/NumPy/scikit-learn; the Dagster assets live in `signal_pipeline.defs.segments`.
"""

from signal_pipeline.segments.assign import assign_sessions
from signal_pipeline.segments.config import (
    NOISE_SEGMENT_ID,
    NOISE_SEGMENT_NAME,
    ClusterConfig,
)
from signal_pipeline.segments.evaluation import (
    adjusted_rand,
    persona_recovery,
    silhouette_on_sample,
)
from signal_pipeline.segments.fit import FitResult, fit_cluster_model
from signal_pipeline.segments.matching import (
    MembershipChurn,
    SegmentMatch,
    centroid_shift,
    match_segments,
    membership_churn,
)
from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.naming import name_for_profile, name_segments
from signal_pipeline.segments.profiles import ActionFlagRules, profile_segments

__all__ = [
    "NOISE_SEGMENT_ID",
    "NOISE_SEGMENT_NAME",
    "ActionFlagRules",
    "ClusterConfig",
    "ClusterModel",
    "FitResult",
    "MembershipChurn",
    "SegmentMatch",
    "adjusted_rand",
    "assign_sessions",
    "centroid_shift",
    "fit_cluster_model",
    "match_segments",
    "membership_churn",
    "name_for_profile",
    "name_segments",
    "persona_recovery",
    "profile_segments",
    "silhouette_on_sample",
]
