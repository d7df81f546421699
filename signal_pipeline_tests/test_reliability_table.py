"""The reliability table is rendered from the records the tests wrote, merged across workers.

This module also loads the plugin that counts test_ui.py's read-only webserver test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signal_pipeline.reliability import table
from signal_pipeline.reliability.recorder import ENV_RESULTS_DIR, Outcome, record

pytest_plugins = ["signal_pipeline.reliability.pytest_plugin"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_records_of_two_workers_merge_and_the_latest_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_RESULTS_DIR, str(tmp_path))
    for worker, lost in (("gw0", 2), ("gw1", 0)):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        record(Outcome("fuzz", "campaign", True, "ok", examples=10, events_in=5, events_lost=lost))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    record(Outcome("fault", "kill", True, "kept", examples=1))
    (tmp_path / "gw9-1.jsonl").write_text('{"category": "fault", "na')  # killed writer
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.jsonl")) == ["gw0", "gw1", "gw9"]
    records = table.load_records(tmp_path)
    assert [(r["category"], r["name"]) for r in records] == [
        ("fault", "kill"),
        ("fuzz", "campaign"),
    ]
    figures = table.summary(records)
    assert figures["fuzz_examples"] == 10 and figures["events_lost"] == 0  # gw1's, the latest
    assert figures["faults_injected"] == figures["faults_survived"] == 1
    rendered = table.render(records)
    assert "| fuzz campaigns / examples run | 1 / 10 |" in rendered
    assert "| fault injected | kill | yes | kept |" in rendered


def test_write_replaces_only_the_marked_block(tmp_path: Path) -> None:
    records_dir = tmp_path / "records"
    records_dir.mkdir()
    (records_dir / "main-1.jsonl").write_text(
        json.dumps(
            {
                "category": "bad_input",
                "name": "NUL",
                "survived": True,
                "outcome": "q",
                "examples": 1,
                "events_in": 3,
                "events_lost": 0,
                "recorded_at": 1,
            }
        )
        + "\n"
    )
    doc = tmp_path / "reliability.md"
    doc.write_text(f"# head\n{table.START_MARKER}\nold\n{table.END_MARKER}\ntail\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "signal_pipeline.reliability.table",
            "--dir",
            str(records_dir),
            "--write",
            str(doc),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        env={**os.environ, ENV_RESULTS_DIR: str(records_dir)},
    )
    assert result.returncode == 0, result.stderr
    text = doc.read_text()
    assert text.startswith("# head\n") and text.endswith(f"{table.END_MARKER}\ntail\n")
    assert "old" not in text and "| hostile input | NUL | yes | q |" in text


def test_docs_page_has_the_markers() -> None:
    text = (PROJECT_ROOT / "docs" / "reliability.md").read_text()
    assert text.index(table.START_MARKER) < text.index(table.END_MARKER)


def test_plugin_records_the_read_only_ui_test_only_when_it_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    plugin = request.config.pluginmanager.get_plugin("signal_pipeline.reliability.pytest_plugin")
    assert plugin is not None  # loaded by this module's pytest_plugins
    monkeypatch.setenv(ENV_RESULTS_DIR, str(tmp_path))
    nodeid = "signal_pipeline_tests/test_ui.py::test_read_only_webserver_refuses_to_launch_runs"
    for outcome in ("failed", "passed"):
        report = pytest.TestReport(nodeid, ("f", 1, "t"), {}, outcome, None, "call")
        plugin.pytest_runtest_logreport(report)
    records = table.load_records(tmp_path)
    assert [(r["category"], r["test"]) for r in records] == [("ui", nodeid)]
