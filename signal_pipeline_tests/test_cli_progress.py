"""`signal-pipeline run` shows a progress bar per job run, advancing once per finished step."""

from __future__ import annotations

import re
from pathlib import Path

from signal_pipeline.cli import main
from signal_pipeline.pipeline import run_pipeline
from signal_pipeline_tests.conftest import SHARED_FIXTURES

SNOWPLOW = SHARED_FIXTURES / "snowplow" / "source" / "snowplow_web_events.csv"


class RecordingBar:
    """A step sink that remembers what it was told."""

    def __init__(self, label: str, total: int, log: list[RecordingBar]) -> None:
        self.label, self.total = label, total
        self.started: list[str] = []
        self.finished: list[tuple[str, bool]] = []
        self.work: list[tuple[str, int, int, str]] = []
        self.closed = False
        log.append(self)

    def step_started(self, step_key: str) -> None:
        self.started.append(step_key)

    def step_finished(self, step_key: str, succeeded: bool) -> None:
        self.finished.append((step_key, succeeded))

    def step_progress(self, step_key: str, done: int, total: int, unit: str) -> None:
        self.work.append((step_key, done, total, unit))

    def close(self) -> None:
        self.closed = True


def test_every_step_of_every_job_run_reaches_the_bar(tmp_path: Path) -> None:
    bars: list[RecordingBar] = []
    run_pipeline(
        [str(SNOWPLOW)],
        tmp_path / "progress.duckdb",
        events_format="snowplow",
        step_bar=lambda label, total: RecordingBar(label, total, bars),
    )
    assert [bar.label for bar in bars] == ["ingest", "process"]
    for bar in bars:
        assert bar.closed
        assert sorted(bar.started) == sorted(key for key, _ in bar.finished)
        assert len(bar.finished) == bar.total, bar.label
        assert all(ok for _, ok in bar.finished), bar.finished
    assert "session_features" in bars[1].started
    assert "cluster_model" in bars[1].started
    # Ingest reports the bytes of the event files it has read, from 0 to the whole file.
    size = SNOWPLOW.stat().st_size
    assert bars[0].work[0] == ("ingested_events", 0, size, "B")
    assert bars[0].work[-1] == ("ingested_events", size, size, "B")


def test_cli_run_draws_bars_on_stderr_unless_quiet(tmp_path: Path, capsys) -> None:
    database = tmp_path / "cli.duckdb"
    assert main(["run", "--events", str(SNOWPLOW), "--db", str(database)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"ingest: 100%\|.*\| 1/1", err), err[-2000:]
    assert re.search(r"ingested_events: 100%\|.*B/s", err), err[-2000:]  # bytes read
    done = re.search(r"process: 100%\|.*\| (\d+)/(\d+)", err)
    assert done and done.group(1) == done.group(2), err[-2000:]
    assert "session_features" in err

    assert main(["run", "--events", str(SNOWPLOW), "--db", str(database), "--quiet"]) == 0
    assert "step" not in capsys.readouterr().err
