"""The Python API of live scoring: events of one or many (possibly unfinished) sessions in,
urgency score, engagement depth index, segment and action flag out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.ingest import IngestReport, IngestSettings
from signal_pipeline.realtime.engine import FeatureBatch, LiveFeatureEngine, LiveFeatures
from signal_pipeline.realtime.model_source import ModelWatcher, ScoringModel
from signal_pipeline.realtime.scoring import score_features
from signal_pipeline.sql_models import ModelParams


def warm_up_body() -> bytes:
    """A small synthetic native session (page view, scroll, click) as JSON lines, timestamped
    an hour ago."""
    start = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s") - pd.Timedelta(hours=1)
    events = [
        ("page_view", 0, {"page_url": "/products/warm-up", "page_view_id": "warm-up-pv"}),
        ("scroll", 5, {"page_view_id": "warm-up-pv", "scroll_depth_pct": 40}),
        ("click", 9, {"page_view_id": "warm-up-pv", "element": "specs-tab", "x": 0.5, "y": 0.4}),
    ]
    lines = []
    for number, (event_type, offset_s, extra) in enumerate(events, start=1):
        record = {
            "event_id": f"warm-up-{number}",
            "ts": (start + pd.Timedelta(seconds=offset_s)).isoformat() + "Z",
            "event_type": event_type,
            "anonymous_id": "warm-up-visitor",
            "session_id": "warm-up-session",
            **extra,
        }
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class LiveScores:
    """Scores of the sessions in one batch of events, with how the events were judged
    (``path``: ``prepared`` request query or ``ingest``)."""

    scores: pd.DataFrame
    report: IngestReport
    rejected: list[dict[str, object]]
    model_version: int
    path: str = "ingest"


class LiveScorer:
    """Score events with the persisted cluster model (reloaded when a new version appears).

    ``model_path`` is an artifact file or the artifacts folder (see
    :mod:`signal_pipeline.realtime.model_source`). Thread-safe: each thread scores on its own
    private DuckDB connection.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        ingest: IngestSettings | None = None,
        params: ModelParams | None = None,
        thresholds: BotThresholds | None = None,
    ) -> None:
        self.watcher = ModelWatcher(model_path)
        self.thresholds = thresholds or BotThresholds()
        self.engine = LiveFeatureEngine(ingest=ingest, params=params, thresholds=self.thresholds)

    @property
    def model(self) -> ScoringModel:
        """The model currently used."""
        return self.watcher.current

    def _score(self, live: LiveFeatures) -> LiveScores:
        scoring = self.watcher.current
        return LiveScores(
            scores=score_features(live.features, scoring, self.thresholds),
            report=live.report,
            rejected=live.rejected,
            model_version=scoring.version,
            path=live.path,
        )

    def score_files(self, paths: Sequence[str | Path]) -> LiveScores:
        """Score every session in the event files ``paths`` (any ingest format)."""
        return self._score(self.engine.features_for_files(paths))

    def score_body(self, body: bytes) -> LiveScores:
        """Score the sessions in a request body (canonical events, JSON lines or a JSON array)."""
        return self.score_bodies([body])[0]

    def score_bodies(self, bodies: Sequence[bytes]) -> list[LiveScores]:
        """:meth:`score_body` of every body, computed together (one prepared execution and one
        assignment for the whole batch when the bodies share no identifier)."""
        if not bodies:
            return []
        return self._score_batch(self.engine.feature_batch(bodies))

    def _score_batch(self, batch: FeatureBatch) -> list[LiveScores]:
        scoring = self.watcher.current
        scores = score_features(batch.features, scoring, self.thresholds)
        order = np.argsort(batch.owner, kind="stable")
        bounds = np.searchsorted(batch.owner[order], np.arange(len(batch.verdicts) + 1))
        results = []
        for index, verdict in enumerate(batch.verdicts):
            rows = order[bounds[index] : bounds[index + 1]]
            results.append(
                LiveScores(
                    scores=scores.iloc[rows].reset_index(drop=True),
                    report=verdict.report,
                    rejected=verdict.rejected,
                    model_version=scoring.version,
                    path=verdict.path,
                )
            )
        return results

    def warm_up(self) -> bool:
        """Prepare this thread's connection and score a tiny synthetic session through it (so
        the first real request pays no start-up cost); True when the plan is cached."""
        result = self.score_body(warm_up_body())
        if len(result.scores) != 1:
            raise RuntimeError(f"warm-up scored {len(result.scores)} sessions, expected 1")
        return self.engine.plan_is_cached()

    def close(self) -> None:
        """Release the private databases."""
        self.engine.close()

    def __enter__(self) -> LiveScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
