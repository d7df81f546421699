"""SIGKILL a real `signal-pipeline run` inside a SQL model's transaction and inside the cluster
model's registration: the database keeps the previous complete version of every table, and the
next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signal_pipeline import db
from signal_pipeline.pipeline import run_pipeline
from signal_pipeline.reliability.recorder import Outcome, record
from signal_pipeline.reliability.snapshot import table_fingerprints
from signal_pipeline.simulate import simulate

#: Built after the paused SQL model ("sessions"), in dependency order, by the same run.
DOWNSTREAM_OF_SESSIONS = (
    "sessions",
    "validated_sessions",
    "session_features",
    "session_segments",
    "segment_profiles",
    "cluster_model_versions",
    "drift_statistics",
)
READY_WAIT_S = 300  # generous: the machine is shared; the pause point is deterministic


def child_env() -> dict[str, str]:
    """The environment of a child run: no DAGSTER_HOME (ephemeral instance), telemetry off."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1")
    return env


def kill_at(point: str, events: Path, database: Path, ready: Path) -> int:
    """Start `signal-pipeline run` paused at ``point``, SIGKILL it there; return its exit code."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signal_pipeline.reliability.faults",
            "--pause-at",
            point,
            "--ready",
            str(ready),
            "--",
            "run",
            "--events",
            str(events),
            "--db",
            str(database),
            "--quiet",
        ],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + READY_WAIT_S
        while not ready.exists():
            if proc.poll() is not None:
                raise AssertionError(
                    f"run ended before reaching {point}: {proc.stderr.read().decode()[-3000:]}"  # type: ignore[union-attr]
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"run never reached {point}")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different clickstreams: the first run's and the killed runs' input."""
    root = tmp_path_factory.mktemp("crash_inputs")
    simulate(root / "a", sessions=120, days=4, seed=21, bad_lines=3, duplicates=2)
    simulate(root / "b", sessions=160, days=6, seed=22, bad_lines=3, duplicates=2)
    return root / "a" / "events.jsonl", root / "b" / "events.jsonl"


def test_sigkill_inside_transactions_keeps_previous_tables(
    two_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    first_events, second_events = two_inputs
    database = tmp_path / "signal.duckdb"
    run_pipeline([str(first_events)], database)
    before = table_fingerprints(database)
    assert before["sessions"][0] > 0 and before["cluster_model_versions"][0] == 1

    # 1. Killed inside the transaction that rebuilds `sessions` from the new input.
    code = kill_at("sql:sessions", second_events, database, tmp_path / "ready_sql")
    assert code == -signal.SIGKILL
    after_sql_kill = table_fingerprints(database)  # opens: the file is not corrupt
    for table in DOWNSTREAM_OF_SESSIONS:
        assert after_sql_kill[table] == before[table], table
    # Tables committed before the kill hold the new input completely (not half of it).
    with db.open_db(database, read_only=True) as con:
        staged_files = con.execute("SELECT DISTINCT source_file FROM staged_events").fetchall()
    assert staged_files == [(str(second_events.resolve()),)]
    assert after_sql_kill["staged_events"] != before["staged_events"]
    record(
        Outcome(
            "fault",
            "SIGKILL inside a SQL model's transaction (sessions, new version written, no COMMIT)",
            survived=True,
            outcome="previous version of every table kept; file opens; next run completes",
        )
    )

    # 2. Killed inside the cluster model's registration (artifact saved, row not committed).
    code = kill_at("cluster_register", second_events, database, tmp_path / "ready_cluster")
    assert code == -signal.SIGKILL
    after_cluster_kill = table_fingerprints(database)
    for table in ("cluster_model_versions", "session_segments", "segment_profiles"):
        assert after_cluster_kill[table] == before[table], table
    assert after_cluster_kill["sessions"] != before["sessions"]  # committed before the kill
    record(
        Outcome(
            "fault",
            "SIGKILL inside the cluster model's registration (artifact saved, no COMMIT)",
            survived=True,
            outcome="registry, segments and profiles keep the previous version; next run "
            "completes and registers the next version",
        )
    )

    # 3. The next run completes and every table is the new input's.
    summary = run_pipeline([str(second_events)], database)
    final = table_fingerprints(database)
    assert final["cluster_model_versions"][0] == 2
    assert final["session_segments"][0] == summary.table_rows["session_segments"] > 0
    assert final["sessions"] == after_cluster_kill["sessions"]  # same input, same table
    with db.open_db(database, read_only=True) as con:
        artifacts = con.execute(
            "SELECT artifact_path FROM cluster_model_versions ORDER BY version"
        ).fetchall()
    assert all(Path(path).exists() for (path,) in artifacts)
