"""Two writers at once: they serialize, or the second fails fast with "database busy" (exit 3);
no DuckDB "Could not set lock" trace reaches the user; a 14-partition backfill with a concurrent
writer lands every partition. The backfill also runs with umask 000 and a secret in the
environment: nothing it writes is world-writable and the secret is in no output or log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from signal_pipeline import db
from signal_pipeline.reliability.recorder import Outcome, record
from signal_pipeline.reliability.run_lock import ENV_BUSY_TIMEOUT, exclusive_run
from signal_pipeline.simulate import simulate

CLI = [sys.executable, "-m", "signal_pipeline.cli"]
SECRET = "sk-live-7f3c9e1d-do-not-log"

#: Holds the DuckDB write lock of argv[1] for argv[2] seconds (like a Dagster UI run would).
HOLD_LOCK = """
import sys, time
from signal_pipeline import db
con = db.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS lock_holder (x INTEGER)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""

#: Writes to argv[1] in short transactions until argv[2] exists; prints its write times.
CONCURRENT_WRITER = """
import sys, time
from pathlib import Path
from signal_pipeline import db
database, stop = Path(sys.argv[1]), Path(sys.argv[2])
times = []
while not stop.exists():
    try:
        with db.open_db(database) as con:
            con.execute("CREATE TABLE IF NOT EXISTS concurrent_writes (n INTEGER, t DOUBLE)")
            con.execute("INSERT INTO concurrent_writes VALUES (?, ?)", [len(times), time.time()])
            time.sleep(0.2)
        times.append(time.time())
    except db.DatabaseBusyError:
        pass
    time.sleep(0.2)
print(len(times))
"""


def env(**extra: str) -> dict[str, str]:
    """A child's environment: ephemeral Dagster instance, telemetry off, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    base.update(GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1")
    base.update(extra)
    return base


def assert_clean_error_output(stderr: str) -> None:
    """No DuckDB lock message and no Python traceback reached the user."""
    assert "Could not set lock" not in stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small, different clickstreams."""
    root = tmp_path_factory.mktemp("concurrency_inputs")
    simulate(root / "a", sessions=80, days=3, seed=31)
    simulate(root / "b", sessions=90, days=3, seed=32, start=date(2026, 1, 6))
    return root / "a" / "events.jsonl", root / "b" / "events.jsonl"


def test_two_cli_runs_at_once_serialize(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    database = tmp_path / "signal.duckdb"
    procs = [
        subprocess.Popen(
            [*CLI, "run", "--events", str(events), "--db", str(database), "--quiet"],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for events in inputs
    ]
    outputs = []
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        outputs.append((proc.returncode, err))
    for code, err in outputs:
        assert code == 0, err[-2000:]
        assert_clean_error_output(err)
    # Serialized, not interleaved: staged_events is one run's input, and every day of
    # raw_events holds exactly the events of its input (interleaved, one run's landing step
    # would read the other's staged events and empty or mix its days).
    with db.open_db(database, read_only=True) as con:
        files = con.execute("SELECT DISTINCT source_file FROM staged_events").fetchall()
        per_day = dict(
            con.execute(
                "SELECT event_date::VARCHAR, count(*) FROM raw_events GROUP BY 1"
            ).fetchall()
        )
    assert len(files) == 1 and files[0][0] in {str(p.resolve()) for p in inputs}
    expected: Counter[str] = Counter()
    for events in inputs:
        expected.update(json.loads(line)["ts"][:10] for line in events.open())
    assert per_day == dict(expected)
    record(
        Outcome(
            "fault",
            "two `signal-pipeline run` processes on one database at once",
            survived=True,
            outcome="serialized by the run lock; both exit 0; the database is exactly one "
            "run's; no lock trace",
        )
    )


def test_second_writer_fails_fast_with_database_busy(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    database = tmp_path / "signal.duckdb"
    with exclusive_run(database, timeout_s=0):  # another command holds the run lock
        result = subprocess.run(
            [*CLI, "run", "--events", str(inputs[0]), "--db", str(database)],
            env=env(**{ENV_BUSY_TIMEOUT: "0"}),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: database busy:")
    assert_clean_error_output(result.stderr)
    record(
        Outcome(
            "fault",
            "second CLI run while another command holds the database (busy timeout 0)",
            survived=True,
            outcome='fails fast: one line "error: database busy: ...", exit code 3',
        )
    )


def test_cli_run_while_another_process_holds_duckdb(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    database = tmp_path / "signal.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database), "600"],
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = subprocess.run(
            [*CLI, "run", "--events", str(inputs[0]), "--db", str(database)],
            env=env(**{ENV_BUSY_TIMEOUT: "1"}),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 3, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "database busy" in errors[0], result.stderr[-2000:]
    assert_clean_error_output(result.stderr)
    record(
        Outcome(
            "fault",
            "CLI run while another process (e.g. a UI run) holds DuckDB's lock past the timeout",
            survived=True,
            outcome='waits, then one line "error: database busy: ...", exit code 3',
        )
    )


def world_writable(root: Path) -> list[str]:
    """Every file or folder below ``root`` that others may write."""
    return [
        str(p) for p in [root, *root.rglob("*")] if p.stat().st_mode & stat.S_IWOTH and p.exists()
    ]


def test_backfill_14_days_with_a_concurrent_writer(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    simulate(sim, sessions=140, days=14, seed=33)
    work = tmp_path / "work"
    work.mkdir()
    database = work / "signal.duckdb"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    stop = tmp_path / "stop_writer"
    writer = subprocess.Popen(
        [sys.executable, "-c", CONCURRENT_WRITER, str(database), str(stop)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    start, end = date(2026, 1, 1), date(2026, 1, 14)
    started = time.time()
    try:
        result = subprocess.run(
            [
                *CLI,
                "backfill",
                "--events",
                str(sim / "events.jsonl"),
                "--db",
                str(database),
                "--start",
                start.isoformat(),
                "--end",
                end.isoformat(),
                "--verbose",  # Dagster's DEBUG log: the secret must not be in it either
            ],
            env=env(
                DAGSTER_HOME=str(home),
                SIGNAL_PIPELINE_API_TOKEN=SECRET,
                AWS_SECRET_ACCESS_KEY=SECRET,
            ),
            capture_output=True,
            text=True,
            timeout=900,
            preexec_fn=lambda: os.umask(0),  # the most permissive umask a user can have
        )
    finally:
        ended = time.time()
        stop.touch()
        writer_out, writer_err = writer.communicate(timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_clean_error_output(result.stderr)
    days = [(start + timedelta(days=i)).isoformat() for i in range(14)]
    for day in days:
        assert f"landed {day}:" in result.stdout
    with db.open_db(database, read_only=True) as con:
        per_day = dict(
            con.execute(
                "SELECT s.event_date::VARCHAR, count(*) = any_value(r.n) FROM staged_events s "
                "JOIN (SELECT event_date, count(*) AS n FROM raw_events GROUP BY 1) r "
                "USING (event_date) GROUP BY 1"
            ).fetchall()
        )
        staged, landed = con.execute(
            "SELECT (SELECT count(*) FROM staged_events WHERE event_date BETWEEN ? AND ?), "
            "(SELECT count(*) FROM raw_events)",
            [start, end],
        ).fetchone() or (0, -1)
        versions = con.execute("SELECT count(*) FROM cluster_model_versions").fetchone()
        writes_during = con.execute(
            "SELECT count(*) FROM concurrent_writes WHERE t BETWEEN ? AND ?", [started, ended]
        ).fetchone()
    assert per_day == dict.fromkeys(days, True)  # every partition landed completely
    assert staged == landed > 0
    assert versions == (1,)  # re-clustered after the backfill
    assert writes_during is not None and writes_during[0] > 0, writer_err  # really concurrent
    record(
        Outcome(
            "fault",
            "14-partition backfill + re-cluster (one command) with a concurrent DuckDB writer",
            survived=True,
            outcome="every partition landed (one run each), re-clustered; writers serialized "
            "on the lock; no lock trace",
            examples=14,
            events_in=int(staged),
            events_lost=int(staged) - int(landed),
        )
    )

    # umask 000: still nothing world-writable (database, WAL, run lock, models, reports).
    assert world_writable(work) == []
    record(
        Outcome(
            "files",
            "files written under umask 000 (database, WAL, lock, model artifacts)",
            survived=True,
            outcome="the user's umask plus o-w: none world-writable",
        )
    )
    # The secret is in no output, no Dagster event log, no file written.
    haystacks = [result.stdout, result.stderr, writer_out, writer_err]
    for path in [*home.rglob("*"), *work.rglob("*")]:
        if path.is_file():
            haystacks.append(path.read_bytes().decode("utf-8", errors="replace"))
    assert all(SECRET not in text for text in haystacks)
    record(
        Outcome(
            "files",
            "secret in the environment during a DEBUG-logged backfill",
            survived=True,
            outcome="absent from stdout, stderr, the Dagster event log and every file written",
        )
    )
