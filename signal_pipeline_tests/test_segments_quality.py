"""Quality figures on the simulator's planted personas (2 seeds), and the benchmark smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signal_pipeline.pipeline import run_pipeline
from signal_pipeline.segments.persona_quality import ARI_TARGET, REL_ERROR_TARGET
from signal_pipeline.segments.synthetic import synthetic_session_features
from signal_pipeline.simulate import simulate
from signal_pipeline_tests.test_segments_assets import (
    asset_metadata,
    failure_message,
    materialize,
    write_features,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=[(11, 3000), (5, 3000)], ids=["seed11", "seed5"])
def simulated_pipeline(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated clickstream run through the whole pipeline (seed, sessions from params)."""
    seed, sessions = request.param
    out = tmp_path_factory.mktemp(f"sim_quality_{seed}")
    simulate(out / "sim", sessions=sessions, days=5, seed=seed)
    run_pipeline([str(out / "sim" / "events.jsonl")], out / "signal.duckdb", out / "models")
    return out


def test_planted_personas_are_recovered_and_reported(simulated_pipeline: Path) -> None:
    labels = str(simulated_pipeline / "sim" / "labels.csv")
    result = materialize(
        simulated_pipeline / "signal.duckdb",
        {"labels_path": labels, "random_state": 1},
        {"labels_path": labels},
    )
    assert result.success
    model_meta = asset_metadata(result, "cluster_model")
    profile_meta = asset_metadata(result, "segment_profiles")
    for meta in (model_meta, profile_meta):
        quality = meta["quality"]
        assert quality["human_sessions"] > 400
        assert meta["quality_ari_humans"] >= ARI_TARGET
        assert {row["persona"] for row in quality["recovery"]} == {
            "rapid_specs",
            "deep_comparer",
            "pricing_hoverer",
        }
        for row in quality["recovery"]:
            for metric in ("avg_dwell_per_page_s", "avg_scroll_depth_pct", "cta_ctr"):
                assert row[f"rel_error_{metric}"] <= REL_ERROR_TARGET, (row["persona"], metric)
            assert row["rel_error_conversion_lift"] <= REL_ERROR_TARGET, row["persona"]
        assert quality["meets_targets"] is True
        assert "persona" in meta["quality_recovery"]
    # Each persona has its own best-matching segment.
    assert len({row["best_segment_id"] for row in model_meta["quality"]["recovery"]}) == 3
    assert -1 <= model_meta["silhouette_sample"] <= 1


def test_unusable_labels_path_is_a_clear_failure(tmp_path: Path) -> None:
    database = tmp_path / "signal.duckdb"
    write_features(database, synthetic_session_features(300, seed=2)[0])
    result = materialize(database, {"labels_path": str(tmp_path / "missing.csv")})
    assert not result.success
    assert "persona labels file not found" in failure_message(result)


def test_benchmark_smoke_run_writes_its_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "clustering.json"
    command = [sys.executable, str(PROJECT_ROOT / "bench" / "bench_clustering.py")]
    run = subprocess.run(
        [*command, "--sizes", "2000", "--repeats", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "fit+assign s" in run.stdout and "2000" in run.stdout
    written = json.loads(out.read_text())
    [row] = written["rows"]
    assert row["sessions"] == 2000 and row["repeats"] == 1
    assert row["fit_assign_s"] == pytest.approx(row["fit_s"] + row["assign_s"])
    assert row["peak_rss_mb"] > 0 and row["clusters"] >= 3
    assert row["sklearn_status"] == "ran" and row["sklearn_fit_s"] > 0
