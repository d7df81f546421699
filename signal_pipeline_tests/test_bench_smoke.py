"""The benchmark harness runs end to end at a tiny size (a smoke test: no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_run_all_at_smoke_size_writes_every_stage_result() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--events", "20k", "--runs", "1"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for marker in ("ratio ingest/read_json", "chain / floor", "fit+assign", "end to end"):
        assert marker in result.stdout
    pipeline = json.loads((BENCH / "results" / "pipeline_20k.json").read_text())
    names = {row["name"] for row in pipeline["rows"]}
    assert {"simulate", "signal-pipeline run (end to end)", "dagster definitions validate"} <= names
    assert pipeline["events"] > 10_000
