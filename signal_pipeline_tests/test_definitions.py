"""Definitions load, the asset graph is pinned, and `dagster definitions validate` passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from signal_pipeline.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The pinned asset graph: asset → its upstream assets.
EXPECTED_GRAPH: dict[str, set[str]] = {
    "staged_events": set(),
    "quarantined_events": set(),
    "raw_events": {"staged_events"},
    "identity_map": {"raw_events"},
    "event_sessions": {"raw_events"},
    "sessionized_events": {"event_sessions", "page_views", "identity_map"},
    "page_views": {"event_sessions", "identity_map", "raw_events"},
    "session_metrics": {"event_sessions", "page_views", "identity_map"},
    "session_bot_flags": {"session_metrics", "sessionized_events"},
    "sessions": {"session_metrics", "session_bot_flags"},
    "validated_sessions": {"sessions"},
    "session_features": {"validated_sessions"},
    "cluster_model": {"session_features"},
    "session_segments": {"cluster_model", "session_features"},
    "segment_profiles": {"session_segments", "session_features"},
    "drift_statistics": {"session_features", "cluster_model"},
    "segment_report": {
        "segment_profiles",
        "session_segments",
        "drift_statistics",
        "sessions",
        "page_views",
        "sessionized_events",
        "segment_experiment_lift",
    },
    "segment_experiment_lift": {"session_segments", "session_features"},
    "segment_membership": {"session_segments", "segment_profiles", "session_features", "sessions"},
}


def test_asset_graph_is_pinned() -> None:
    graph = defs().resolve_asset_graph()
    actual = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert actual == EXPECTED_GRAPH


def test_every_asset_has_a_description_group_and_kind() -> None:
    for spec in defs().resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.description and len(spec.description) > 20, name
        assert spec.group_name in {
            "ingest",
            "sessions",
            "quality",
            "features",
            "segments",
            "monitoring",
        }, name
        assert spec.kinds, name


def test_every_asset_has_owners_and_a_code_reference() -> None:
    for spec in defs().resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.owners, name
        references = spec.metadata.get("dagster/code_references")
        assert references is not None and references.code_references, name
        assert all(Path(ref.file_path).exists() for ref in references.code_references), name


def test_raw_events_is_daily_partitioned() -> None:
    raw = defs().resolve_assets_def("raw_events")
    assert isinstance(raw.partitions_def, dg.DailyPartitionsDefinition)


def test_jobs_exist() -> None:
    loaded = defs()
    for job in ("ingest_job", "land_and_process_job", "rebuild_features_job", "recluster_job"):
        assert loaded.resolve_job_def(job).name == job


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
