"""``bench/bench_ingest.py`` runs end to end at a tiny size, also with forced file parts (a smoke
test: no timing is asserted; the script itself fails on a wrong line number or a lost event)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("extra", [[], ["--max-read-bytes", "60000", "--ordinality"]])
def test_bench_ingest_runs_at_smoke_size(extra: list[str]) -> None:
    events = 3000
    script = str(BENCH / "bench_ingest.py")
    result = subprocess.run(
        [sys.executable, script, "--events", str(events), "--runs", "1", *extra],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["events"] == events
    for side in ("ingest_files", "read_json", "read_json_persistent"):
        assert summary[f"{side}_s"] > 0 and summary[f"{side}_cpu_s"] >= 0
    assert summary["ratio_vs_read_json"] > 0 and summary["cpu_ratio_vs_read_json"] > 0
