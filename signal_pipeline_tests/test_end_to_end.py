"""End to end: the simulator's output through every asset into a temp-file DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from signal_pipeline import db
from signal_pipeline.cli import main
from signal_pipeline.pipeline import run_pipeline

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pipeline_db(simulated_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small simulated clickstream materialized through every asset."""
    out = tmp_path_factory.mktemp("e2e")
    database = out / "signal.duckdb"
    run_pipeline([str(simulated_small / "events.jsonl")], database, out / "models")
    return database


def count(database: Path, sql: str) -> int:
    with db.open_db(database, read_only=True) as con:
        row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_every_contract_table_exists_with_sensible_rows(
    pipeline_db: Path, simulated_small: Path
) -> None:
    summary = json.loads((simulated_small / "summary.json").read_text())
    labels = pd.read_csv(simulated_small / "labels.csv")
    events = count(pipeline_db, "SELECT count(*) FROM raw_events")
    assert events == summary["events"]  # every simulated event landed once
    assert count(pipeline_db, "SELECT count(*) FROM quarantined_events") == summary["bad_lines"]
    sessions = count(pipeline_db, "SELECT count(*) FROM sessions")
    assert sessions == len(labels)
    bots = count(pipeline_db, "SELECT count(*) FROM sessions WHERE is_bot")
    assert 0.5 * labels["is_bot"].sum() <= bots <= 2 * labels["is_bot"].sum()
    features = count(pipeline_db, "SELECT count(*) FROM session_features")
    assert features == sessions - bots
    assert count(pipeline_db, "SELECT count(*) FROM session_segments") == features
    segments = count(pipeline_db, "SELECT count(*) FROM segment_profiles")
    assert segments >= 2
    assert count(pipeline_db, "SELECT count(DISTINCT signal) FROM drift_statistics") == 4


def test_ingest_counts_reconcile(pipeline_db: Path, simulated_small: Path) -> None:
    lines = sum(1 for _ in (simulated_small / "events.jsonl").open("rb"))
    landed = count(pipeline_db, "SELECT count(*) FROM staged_events")
    quarantined = count(pipeline_db, "SELECT count(*) FROM quarantined_events")
    summary = json.loads((simulated_small / "summary.json").read_text())
    assert lines == landed + summary["duplicates"] + quarantined


def test_rerun_with_same_input_is_idempotent(
    pipeline_db: Path, simulated_small: Path, tmp_path: Path
) -> None:
    tables = ["raw_events", "sessions", "session_features", "session_segments", "segment_profiles"]

    def snapshot() -> dict[str, pd.DataFrame]:
        with db.open_db(pipeline_db, read_only=True) as con:
            return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").df() for t in tables}

    before = snapshot()
    run_pipeline(
        [str(simulated_small / "events.jsonl")], pipeline_db, pipeline_db.parent / "models"
    )
    after = snapshot()
    for table in tables:
        pd.testing.assert_frame_equal(before[table], after[table], check_like=False)
    versions = count(pipeline_db, "SELECT count(*) FROM cluster_model_versions")
    assert versions == 1  # same input: no new model version


def test_cli_show_and_export(pipeline_db: Path, tmp_path: Path, capsys) -> None:
    assert main(["show", "segments", "--db", str(pipeline_db)]) == 0
    printed = capsys.readouterr().out
    assert "segment_name" in printed and "conversion_vs_avg" in printed
    for what in ("sessions", "segments", "profiles", "quarantine"):
        out = tmp_path / f"{what}.csv"
        assert main(["export", what, "--db", str(pipeline_db), "--out", str(out), "--quiet"]) == 0
        assert len(pd.read_csv(out)) >= 1


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    code = main(["show", "segments", "--db", str(tmp_path / "missing.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: database not found") and err.count("\n") == 1
    code = main(
        ["run", "--events", str(tmp_path / "nope.jsonl"), "--db", str(tmp_path / "x.duckdb")]
    )
    assert code == 2 and "event file not found" in capsys.readouterr().err


def test_make_demo_runs_on_a_small_sample(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [
            "make",
            "demo",
            "DEMO_SESSIONS=300",
            "DEMO_DAYS=3",
            f"DEMO_DIR={tmp_path / 'events'}",
            f"DEMO_DB={tmp_path / 'demo.duckdb'}",
            f"DAGSTER_HOME={tmp_path / 'home'}",
            f"PYTHON={sys.executable}",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "segment_name" in result.stdout
    assert (tmp_path / "demo.duckdb").exists()


def test_snowplow_events_run_end_to_end_with_a_forced_format(tmp_path: Path) -> None:
    from signal_pipeline_tests.conftest import SHARED_FIXTURES

    source = SHARED_FIXTURES / "snowplow" / "source" / "snowplow_web_events.csv"
    database = tmp_path / "snowplow.duckdb"
    code = main(
        ["run", "--events", str(source), "--db", str(database), "--format", "snowplow", "--quiet"]
    )
    assert code == 0
    assert count(database, "SELECT count(*) FROM raw_events") == 157
    assert count(database, "SELECT count(DISTINCT source_format) FROM raw_events") == 1
    reasons = count(
        database,
        "SELECT count(*) FROM quarantined_events WHERE reason = 'conflicting_duplicate'",
    )
    assert reasons == count(database, "SELECT count(*) FROM quarantined_events") == 3
    features = count(database, "SELECT count(*) FROM session_features")
    assert features > 0
    assert count(database, "SELECT count(*) FROM session_segments") == features
