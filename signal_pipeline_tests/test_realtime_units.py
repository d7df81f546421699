"""Live scoring units: query composition, model resolution and reload, action flags, auth."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from starlette.requests import Request

from signal_pipeline.realtime.feature_query import (
    LiveQueryError,
    chain_to,
    live_feature_sql,
)
from signal_pipeline.realtime.model_source import (
    ModelNotFoundError,
    ModelWatcher,
    read_segment_actions,
    resolve_artifact,
    write_segment_actions,
)
from signal_pipeline.realtime.service import _authorized
from signal_pipeline.segments.model_artifact import ClusterModel
from signal_pipeline.segments.scaling import FeatureScaler
from signal_pipeline.sql_models import DEFAULT_MODELS_DIR, load_models


def tiny_model(version: int) -> ClusterModel:
    """A two-feature model with one cluster (enough to save, load and reload)."""
    scaler = FeatureScaler("standard", ("a", "b"), (), np.zeros(2), np.ones(2))
    return ClusterModel(
        version=version,
        algorithm="dbscan",
        params={},
        scaler=scaler,
        eps=0.5,
        core_samples=np.zeros((1, 2)),
        core_labels=np.zeros(1, dtype=np.int64),
        cluster_segment_ids=("seg-1",),
        segment_names={"seg-1": "mixed browsing"},
        centroids_transformed=np.zeros((1, 2)),
        cluster_sizes=(1,),
        next_segment_number=2,
    )


def test_live_query_is_the_model_chain_in_dependency_order() -> None:
    models = load_models(external_tables=("raw_events", "session_bot_flags"))
    chain = chain_to(models, "session_features", "sessionized_events")
    assert {"session_features", "sessionized_events", "session_metrics"} <= set(chain)
    for position, name in enumerate(chain):  # every model comes after the models it reads
        assert {u for u in models[name].upstream if u in models} <= set(chain[:position])
    sql = live_feature_sql(models)
    for name in chain:  # every model's own SQL is in the query, verbatim
        assert models[name].sql.strip().rstrip(";") in sql
    assert "live_events" in sql and "bot_signal__user_agent" in sql


def test_a_model_reading_an_unknown_python_table_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, folder)
    path = folder / "session_features.sql"
    path.write_text(path.read_text() + "\nCROSS JOIN mystery_scores\n")
    models = load_models(
        folder, external_tables=("raw_events", "session_bot_flags", "mystery_scores")
    )
    with pytest.raises(LiveQueryError, match="mystery_scores"):
        live_feature_sql(models)


def test_newest_version_wins_and_a_new_one_is_reloaded(tmp_path: Path) -> None:
    tiny_model(1).save(tmp_path / "cluster_model_v0001.npz")
    tiny_model(3).save(tmp_path / "cluster_model_v0003.npz")
    (tmp_path / "cluster_model_v0009.npz.tmp").write_bytes(b"partial")
    assert resolve_artifact(tmp_path).name == "cluster_model_v0003.npz"
    watcher = ModelWatcher(tmp_path)
    assert watcher.current.version == 3 and watcher.refresh() is False
    write_segment_actions(tmp_path, 3, {"seg-1": {"segment_name": "x", "action_flag": "ux_review"}})
    assert watcher.refresh() is True
    assert watcher.current.action_flags == {"seg-1": "ux_review"}
    dataclasses.replace(tiny_model(1), version=4).save(tmp_path / "cluster_model_v0004.npz")
    assert watcher.refresh() is True
    assert watcher.current.version == 4 and watcher.current.action_flags == {}
    (tmp_path / "cluster_model_v0005.npz").write_bytes(b"not a model")
    assert watcher.refresh() is False  # a broken artifact keeps the previous model
    assert watcher.current.version == 4 and "cluster_model_v0005" in (watcher.last_error or "")


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no cluster_model"):
        resolve_artifact(tmp_path)
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_artifact(tmp_path / "missing.npz")


def test_action_flags_of_another_version_are_ignored(tmp_path: Path) -> None:
    path = write_segment_actions(
        tmp_path, 2, {"seg-1": {"segment_name": "a", "action_flag": "none"}}
    )
    assert read_segment_actions(path, 2) == {"seg-1": "none"}
    assert read_segment_actions(path, 3) == {}


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/score", "headers": raw})


def test_bearer_token_check() -> None:
    assert _authorized(_request({}), None)
    assert _authorized(_request({"Authorization": "Bearer s3"}), "s3")
    assert not _authorized(_request({}), "s3")
    assert not _authorized(_request({"Authorization": "Basic s3"}), "s3")
    assert not _authorized(_request({"Authorization": "Bearer s4"}), "s3")
