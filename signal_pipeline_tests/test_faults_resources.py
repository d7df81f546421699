"""The disk or DuckDB's memory limit running out mid-write: a clear error, nothing corrupted.

Disk full is injected for real with RLIMIT_FSIZE in a child process (SIGXFSZ ignored, so a write
past the limit fails with EFBIG exactly as on a full disk); out-of-memory with a small DuckDB
memory_limit and a capped spill folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.reliability.recorder import Outcome, record
from signal_pipeline.reliability.snapshot import table_fingerprints
from signal_pipeline.sql_models import build_model, load_models

EVENTS = 60_000

#: In a child: limit file sizes to argv[2] bytes, then rebuild sessionized_events in argv[1].
BUILD_UNDER_FSIZE_LIMIT = """
import json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from signal_pipeline import db
from signal_pipeline.sql_models import build_model, load_models
models = load_models(external_tables=("raw_events", "session_bot_flags"))
try:
    with db.open_db(sys.argv[1]) as con:
        con.execute("CREATE OR REPLACE TABLE raw_events AS SELECT * FROM raw_events, range(3)"
                    " t(copy) WHERE copy = 0 OR event_id IS NULL")  # same rows, rewritten
        con.execute("CREATE OR REPLACE TABLE filler AS SELECT repeat('x', 1000) AS x, i"
                    " FROM range(200000) r(i)")
        con.execute("CHECKPOINT")
        build_model(con, models["sessionized_events"])
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    sys.exit(1)
print(json.dumps({"error": None}))
"""


def child_env() -> dict[str, str]:
    """A child's environment: telemetry off, no Dagster instance."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1")
    return env


@pytest.fixture
def built_db(tmp_path: Path) -> Path:
    """A database with raw_events and the SQL models up to sessionized_events built."""
    folder = tmp_path / "in"
    folder.mkdir()
    database = tmp_path / "signal.duckdb"
    with db.open_db(database, allowed_directories=[folder]) as con:
        lines = con.execute(
            "SELECT to_json({event_id: 'r' || i, ts: strftime(TIMESTAMP '2024-05-01 00:00:00' "
            "+ to_seconds(i * 7), '%Y-%m-%dT%H:%M:%SZ'), event_type: 'page_view', "
            "anonymous_id: 'v' || (i % 500), page_url: '/p/' || (i % 37)})::VARCHAR "
            "FROM range(?) t(i)",
            [EVENTS],
        ).fetchall()
        (folder / "events.jsonl").write_text("".join(line + "\n" for (line,) in lines))
        report = ingest_files(con, [folder / "events.jsonl"], IngestSettings())
        assert report.landed == EVENTS
        con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events")
        models = load_models(external_tables=("raw_events", "session_bot_flags"))
        for name in models["sessionized_events"].upstream:
            if name in models:
                build_model(con, models[name])
        build_model(con, models["sessionized_events"])
    return database


def test_disk_full_mid_write_leaves_the_database_intact(built_db: Path) -> None:
    before = table_fingerprints(built_db)
    limit = built_db.stat().st_size + 256 * 1024  # room for a little, not for the rewrite
    result = subprocess.run(
        [sys.executable, "-c", BUILD_UNDER_FSIZE_LIMIT, str(built_db), str(limit)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["error"] in {"IOException", "OutOfMemoryException", "FatalException", "OSError"}
    assert "Traceback" not in result.stderr
    after = table_fingerprints(built_db)  # the file opens
    for table in ("raw_events", "sessionized_events", "staged_events"):
        assert after[table] == before[table], table
    assert "filler" not in after or after["filler"][0] in (0, 200_000)
    with db.open_db(built_db) as con:  # and takes the next write normally
        models = load_models(external_tables=("raw_events", "session_bot_flags"))
        assert build_model(con, models["sessionized_events"]) == EVENTS
    record(
        Outcome(
            "fault",
            "disk full (RLIMIT_FSIZE) while rewriting tables and a SQL model",
            survived=True,
            outcome=f"DuckDB {error['error']} (the write or checkpoint is refused); the file "
            "reopens with the previous tables intact; the next write works",
            events_in=EVENTS,
            events_lost=EVENTS - after["raw_events"][0],
        )
    )


def test_duckdb_memory_limit_mid_model_leaves_previous_table(built_db: Path) -> None:
    before = table_fingerprints(built_db)
    models = load_models(external_tables=("raw_events", "session_bot_flags"))
    con = db.connect(built_db, memory_limit="6MB", threads=1)
    try:
        con.execute("SET max_temp_directory_size = '1MB'")  # spilling cannot rescue it
        with pytest.raises(duckdb.Error) as raised:
            build_model(con, models["sessionized_events"])
    finally:
        con.close()
    message = str(raised.value).splitlines()[0]
    assert "memory" in message.lower() or "out of" in message.lower() or "temp" in message.lower()
    assert table_fingerprints(built_db) == before
    record(
        Outcome(
            "fault",
            "DuckDB memory limit (6 MB, spill capped at 1 MB) while rebuilding a SQL model",
            survived=True,
            outcome=f"{type(raised.value).__name__} ({message.split(':')[0]}); "
            "the previous table stays",
        )
    )


def test_cli_reports_a_full_disk_in_one_line(built_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "signal_pipeline.reliability.faults",
            "--fsize-limit",
            str(64 * 1024),
            "--",
            "export",
            "raw",
            "--db",
            str(built_db),
            "--out",
            str(out),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert table_fingerprints(built_db)["raw_events"][0] == EVENTS
    record(
        Outcome(
            "fault",
            "disk full during `signal-pipeline export` (RLIMIT_FSIZE 64 KB)",
            survived=True,
            outcome=f"exit 1, one line: `{': '.join(errors[0].split(': ')[:2])}: ...`; "
            "the database is untouched",
        )
    )
