"""The segment assets through Dagster: config, degenerate inputs, artifact, stable ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from signal_pipeline import db
from signal_pipeline.defs.segments.assets import cluster_model, segment_profiles, session_segments
from signal_pipeline.resources import ArtifactStoreResource, WarehouseResource
from signal_pipeline.segments import ClusterModel, adjusted_rand, assign_sessions
from signal_pipeline.segments.profiles import PROFILE_HEAD_COLUMNS, PROFILE_TAIL_COLUMNS
from signal_pipeline.segments.synthetic import PERSONAS, synthetic_session_features

SEGMENT_ASSETS = [cluster_model, session_segments, segment_profiles]


def write_features(database: Path, frame: pd.DataFrame) -> None:
    """Replace `session_features` in `database` with `frame`."""
    with db.open_db(database) as con:
        con.register("features_frame", frame)
        con.execute("CREATE OR REPLACE TABLE session_features AS SELECT * FROM features_frame")
        con.unregister("features_frame")


def materialize(
    database: Path,
    cluster_config: dict[str, Any] | None = None,
    profiles_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize the three segment assets on `database` (artifacts beside it)."""
    ops: dict[str, Any] = {}
    if cluster_config:
        ops["cluster_model"] = {"config": cluster_config}
    if profiles_config:
        ops["segment_profiles"] = {"config": profiles_config}
    return dg.materialize(
        SEGMENT_ASSETS,
        resources={
            "duckdb": WarehouseResource(database=str(database)),
            "artifacts": ArtifactStoreResource(directory=str(database.parent / "models")),
        },
        run_config={"ops": ops} if ops else None,
        raise_on_error=False,
    )


def asset_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """Metadata values of one asset's materialization in `result`."""
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def query(database: Path, sql: str) -> pd.DataFrame:
    """Run a read-only query."""
    with db.open_db(database, read_only=True) as con:
        return con.execute(sql).df()


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The description of the run's first step failure."""
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.event_specific_data.error.message  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def personas_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, Any]:
    """3,000 synthetic sessions clustered once through the assets with default config."""
    database = tmp_path_factory.mktemp("segments_assets") / "signal.duckdb"
    features, personas = synthetic_session_features(3_000, seed=31)
    write_features(database, features)
    result = materialize(database)
    assert result.success
    return database, personas, result


def test_default_materialization_clusters_profiles_and_registers(personas_db):
    database, personas, result = personas_db
    segments = query(database, "SELECT * FROM session_segments")
    assert len(segments) == 3_000
    joined = personas.merge(segments, on="session_id")
    assert adjusted_rand(joined["persona"], joined["segment_id"]) >= 0.85
    assert segments["is_noise"].any()  # noise is kept as its own segment, not dropped
    assert set(segments.loc[segments["is_noise"], "segment_id"]) == {"noise"}
    meta = asset_metadata(result, "cluster_model")
    assert meta["version"] == 1 and meta["clusters"] >= 3
    curve = meta["k_distance_points"]
    assert curve["distances"] == sorted(curve["distances"]) and curve["knee_eps"] > 0
    assert "chosen" in meta["eps_scan"] and "k-distance curve" in meta["k_distance_curve"]
    assert -1 <= meta["silhouette_sample"] <= 1
    registry = query(database, "SELECT * FROM cluster_model_versions")
    assert registry["version"].tolist() == [1]
    assert registry["previous_version"].isna().all()


def test_profiles_have_the_documented_columns_and_reference_shape(personas_db):
    database, _, result = personas_db
    profiles = query(database, "SELECT * FROM segment_profiles")
    columns = profiles.columns.tolist()
    assert columns[: len(PROFILE_HEAD_COLUMNS)] == list(PROFILE_HEAD_COLUMNS)
    assert columns[-len(PROFILE_TAIL_COLUMNS) :] == list(PROFILE_TAIL_COLUMNS)
    for feature in ("mean_dwell_per_page_s", "urgency_score", "cta_ctr"):
        assert f"mean_{feature}" in columns and f"median_{feature}" in columns
    assert profiles["sessions"].sum() == 3_000
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["segment_id"].iloc[-1] == "noise"
    assert profiles.loc[profiles["segment_id"] == "noise", "action_flag"].item() == "none"
    named = profiles[profiles["segment_id"] != "noise"]
    assert named["segment_name"].is_unique
    # The synthetic deep comparers are the high-urgency segment, the bouncers the UX problem.
    deep = named.loc[named["mean_mean_dwell_per_page_s"].idxmax()]
    bouncers = named.loc[named["mean_total_session_time_s"].idxmin()]
    assert deep["action_flag"] == "content_reinforcement"
    assert bouncers["action_flag"] == "ux_review"
    assert bouncers["segment_name"] == "rapid bouncer"
    assert json.loads(deep["device_mix"]).keys() <= {"desktop", "mobile", "tablet"}
    assert "pattern" in asset_metadata(result, "segment_profiles")["segment_table"]


def test_artifact_has_everything_to_assign_new_sessions(personas_db):
    _, _, result = personas_db
    model = ClusterModel.load(asset_metadata(result, "cluster_model")["artifact"])
    assert model.version == 1
    assert model.window is not None and model.window[0] <= model.window[1]
    assert len(model.feature_names) == model.core_samples.shape[1] > 0
    assert len(model.core_samples) == len(model.core_labels) > 0
    assert model.params["eps_auto"] is True and model.params["min_samples"] == 10
    assert model.scaler.method == "robust"
    fresh, fresh_personas = synthetic_session_features(500, seed=99)
    assigned = assign_sessions(model, fresh)
    joined = fresh_personas.merge(assigned, on="session_id")
    assert adjusted_rand(joined["persona"], joined["segment_id"]) >= 0.85


def test_every_clustering_parameter_reaches_the_model(tmp_path):
    database = tmp_path / "signal.duckdb"
    write_features(database, synthetic_session_features(1_200, seed=3)[0])
    features = ["mean_dwell_per_page_s", "mean_scroll_depth_pct", "hover_density_ms_per_min"]
    config = {
        "algorithm": "dbscan",
        "eps": 0.6,
        "min_samples": 7,
        "scaling": "standard",
        "features": features,
        "log_transform": ["mean_dwell_per_page_s"],
        "max_fit_sessions": 800,
        "max_neighbor_pairs": 5_000_000,
        "match_cutoff": 0.5,
        "random_state": 4,
    }
    result = materialize(database, config)
    assert result.success
    model = ClusterModel.load(asset_metadata(result, "cluster_model")["artifact"])
    assert model.feature_names == tuple(features)
    assert model.scaler.method == "standard"
    assert model.scaler.log_transform == ("mean_dwell_per_page_s",)
    assert model.eps == 0.6 and model.params["eps_auto"] is False
    for key in ("min_samples", "max_fit_sessions", "match_cutoff", "random_state"):
        assert model.params[key] == config[key]
    assert model.fit_sessions <= 800
    assert any(
        "stratified sample" in m
        for m in asset_metadata(result, "cluster_model")["model"]["messages"]
    )


def test_hdbscan_is_chosen_by_config(tmp_path):
    database = tmp_path / "signal.duckdb"
    features, personas = synthetic_session_features(1_500, seed=8)
    write_features(database, features)
    result = materialize(database, {"algorithm": "hdbscan", "min_cluster_size": 40})
    assert result.success
    model = ClusterModel.load(asset_metadata(result, "cluster_model")["artifact"])
    assert model.algorithm == "hdbscan" and model.params["min_cluster_size"] == 40
    joined = personas.merge(query(database, "SELECT * FROM session_segments"), on="session_id")
    assert adjusted_rand(joined["persona"], joined["segment_id"]) >= 0.8


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"algorithm": "kmeans"}, "algorithm must be one of"),
        ({"scaling": "zscore"}, "scaling must be one of"),
        ({"min_samples": 1}, "min_samples must be at least 2"),
        ({"features": ["no_such_column"]}, "no_such_column"),
    ],
)
def test_invalid_config_fails_with_a_clear_message(tmp_path, config, expected):
    database = tmp_path / "signal.duckdb"
    write_features(database, synthetic_session_features(50, seed=1)[0])
    result = materialize(database, config)
    assert not result.success
    assert expected in failure_message(result)


def _degenerate(kind: str) -> tuple[pd.DataFrame, str]:
    """A degenerate session_features frame and a phrase its clustering message must contain."""
    frame, _ = synthetic_session_features(400, seed=2)
    if kind == "no_sessions":
        return frame.head(0), "no sessions"
    if kind == "fewer_than_min_samples":
        return frame.head(5), "fewer than min_samples=10"
    if kind == "all_identical":
        same = frame.head(1)
        return pd.concat([same] * 60, ignore_index=True).assign(
            session_id=[f"x{i}" for i in range(60)]
        ), "identical"
    if kind == "constant_feature":
        return frame.assign(mean_scroll_depth_pct=50.0), "constant features"
    bad = frame.copy()
    bad.loc[:9, "mean_dwell_per_page_s"] = np.nan
    bad.loc[10:14, "hover_density_ms_per_min"] = np.inf
    return bad, "15 of 400 sessions have a missing or non-finite"


@pytest.mark.parametrize(
    "kind",
    ["no_sessions", "fewer_than_min_samples", "all_identical", "constant_feature", "non_finite"],
)
def test_degenerate_input_gives_a_defined_result_and_message(tmp_path, kind):
    database = tmp_path / "signal.duckdb"
    frame, phrase = _degenerate(kind)
    write_features(database, frame)
    result = materialize(database)
    assert result.success, kind
    messages = asset_metadata(result, "cluster_model")["model"]["messages"]
    assert any(phrase in m for m in messages), messages
    segments = query(database, "SELECT * FROM session_segments")
    assert len(segments) == len(frame)
    profiles = query(database, "SELECT * FROM segment_profiles")
    assert profiles["sessions"].sum() == len(frame)
    assert list(PROFILE_HEAD_COLUMNS) == profiles.columns[: len(PROFILE_HEAD_COLUMNS)].tolist()
    if kind == "fewer_than_min_samples":
        assert segments["noise_reason"].eq("no_clusters").all()
    if kind == "all_identical":
        assert segments["segment_id"].nunique() == 1 and not segments["is_noise"].any()
    if kind == "non_finite":
        reasons = segments.loc[segments["is_noise"], "noise_reason"].value_counts()
        assert reasons["non_finite_feature"] == 15


def test_missing_features_table_is_a_clear_failure(tmp_path):
    result = materialize(tmp_path / "signal.duckdb")
    assert not result.success
    assert "session_features does not exist" in failure_message(result)


def _segment_of_persona(database: Path, personas: pd.DataFrame) -> dict[str, tuple[str, str]]:
    joined = personas.merge(query(database, "SELECT * FROM session_segments"), on="session_id")
    top = joined.groupby("persona")[["segment_id", "segment_name"]].agg(lambda s: s.mode().iloc[0])
    return {p: (r.segment_id, r.segment_name) for p, r in top.iterrows()}


def test_reclusters_keep_ids_report_vanished_and_issue_new_ids(tmp_path):
    database = tmp_path / "signal.duckdb"
    first, personas = synthetic_session_features(2_000, seed=41)
    write_features(database, first)
    assert materialize(database).success
    before = _segment_of_persona(database, personas)

    # Version 2: the same sessions drifted (dwell × 1.1), one persona gone.
    shifted, shifted_personas = synthetic_session_features(
        2_000, seed=41, shift=1.1, personas=PERSONAS[:2], weights=(0.5, 0.5)
    )
    write_features(database, shifted)
    second = materialize(database)
    assert second.success
    after = _segment_of_persona(database, shifted_personas)
    for persona in ("deep_comparer", "pricing_hoverer"):
        assert after[persona] == before[persona]  # same segment_id and name
    gone = before["rapid_bouncer"][0]
    changes = asset_metadata(second, "cluster_model")["version_changes"]
    assert changes["previous_version"] == 1
    assert gone in changes["vanished_segment_ids"]
    kept = {before[p][0] for p in ("deep_comparer", "pricing_hoverer")}
    assert set(changes["centroid_shift"]) == kept
    assert all(0 < shift <= 1.0 for shift in changes["centroid_shift"].values())
    assert changes["sessions_in_both"] == 2_000 and 0 < changes["membership_churn"] < 1
    registry = query(
        database,
        "SELECT version, previous_version, vanished_segment_ids, centroid_shift, "
        "membership_churn, churn_sessions_changed FROM cluster_model_versions ORDER BY version",
    )
    row = registry.iloc[1]
    assert row["previous_version"] == 1 and gone in json.loads(row["vanished_segment_ids"])
    assert json.loads(row["centroid_shift"]) == pytest.approx(changes["centroid_shift"])
    assert row["membership_churn"] == pytest.approx(changes["membership_churn"])

    # Version 3: the bouncers come back; their old id is never reused.
    write_features(database, first)
    third = materialize(database)
    assert third.success
    again = _segment_of_persona(database, personas)
    assert again["rapid_bouncer"][0] not in {gone, *(v[0] for v in before.values())}
    assert again["rapid_bouncer"][0] in asset_metadata(third, "cluster_model")["new_segment_ids"]
    assert again["deep_comparer"] == before["deep_comparer"]


def test_same_input_keeps_the_current_version(personas_db):
    database, _, _ = personas_db
    again = materialize(database)
    assert again.success
    assert asset_metadata(again, "cluster_model")["refit"] is False
    assert query(database, "SELECT count(*) AS n FROM cluster_model_versions")["n"].item() == 1
