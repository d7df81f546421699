"""IsolationForest anomaly score over behavioural session signals.

The score is ``-IsolationForest.score_samples`` (in (0, 1]; about 0.5 for ordinary sessions,
higher = more anomalous), stored for every session. Features are log-scaled counts, durations and
rates so that one long session does not dominate; missing signals are imputed with neutral values
(no clicks → no rapid pairs; no pointer timing → CV 1, the value of random human timing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from signal_pipeline.bots.thresholds import BotThresholds

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest

LOG_FEATURES = (
    "session_duration_s",
    "event_count",
    "page_views",
    "clicks",
    "max_clicks_per_second",
    "distinct_interactions",
    "rapid_click_pairs",
    "active_events",
    "pointer_events",
)
NEUTRAL_SCORE = 0.5
N_ESTIMATORS = 200


def anomaly_features(signals: pd.DataFrame) -> np.ndarray:
    """The feature matrix (rows aligned to ``signals``) the IsolationForest is fitted on."""
    columns: list[np.ndarray] = []
    for name in LOG_FEATURES:
        if name in signals.columns:
            values = pd.to_numeric(signals[name], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
            columns.append(np.log1p(np.clip(np.nan_to_num(values, nan=0.0), 0.0, None)))
    if {"event_count", "session_duration_s"} <= set(signals.columns):
        events = pd.to_numeric(signals["event_count"], errors="coerce").fillna(0).to_numpy(float)
        minutes = pd.to_numeric(signals["session_duration_s"], errors="coerce").fillna(0)
        rate = events / np.maximum(minutes.to_numpy(float) / 60.0, 1.0 / 60.0)
        columns.append(np.log1p(rate))
    if "pointer_interval_cv" in signals.columns:
        cv = pd.to_numeric(signals["pointer_interval_cv"], errors="coerce").fillna(1.0)
        columns.append(np.clip(cv.to_numpy(float), 0.0, 5.0))
    if not columns:
        return np.zeros((len(signals), 0))
    return np.column_stack(columns)


def anomaly_model(thresholds: BotThresholds) -> IsolationForest:
    """An unfitted IsolationForest configured from ``thresholds``."""
    from sklearn.ensemble import IsolationForest

    return IsolationForest(
        n_estimators=N_ESTIMATORS,
        contamination=thresholds.anomaly_contamination,
        random_state=thresholds.random_state,
    )


def fit_anomaly_model(signals: pd.DataFrame, thresholds: BotThresholds) -> IsolationForest | None:
    """The IsolationForest fitted on ``signals`` (None when fewer than two rows or no features)."""
    return _fit(anomaly_features(signals), thresholds)


def _fit(features: np.ndarray, thresholds: BotThresholds) -> IsolationForest | None:
    if features.shape[0] < 2 or features.shape[1] == 0:
        return None
    return anomaly_model(thresholds).fit(features)


def model_scores(
    model: IsolationForest | None, features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly score and outlier flag of each row of ``features`` under a fitted ``model``.

    Without a model (too few sessions to compare) every score is :data:`NEUTRAL_SCORE` and
    nothing is an outlier.
    """
    n_rows = features.shape[0]
    if model is None or n_rows == 0:
        return np.full(n_rows, NEUTRAL_SCORE), np.zeros(n_rows, dtype=bool)
    raw_scores = model.score_samples(features)
    # IsolationForest.predict's rule (decision_function < 0) without scoring every row twice.
    return (-raw_scores).astype(float), raw_scores < model.offset_


def anomaly_scores(
    signals: pd.DataFrame, thresholds: BotThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Anomaly score and outlier flag (at ``anomaly_contamination``) for every session, from a
    model fitted on these sessions (see :func:`model_scores` for too few sessions)."""
    features = anomaly_features(signals)
    return model_scores(_fit(features, thresholds), features)
