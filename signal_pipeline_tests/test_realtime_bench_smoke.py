"""The live-scoring benchmark runs end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_bench_realtime_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "realtime.json"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_realtime.py"),
            "--sessions",
            "150",
            "--days",
            "2",
            "--duration",
            "2",
            "--rate",
            "5",
            "--repeats",
            "1",
            "--assign-rows",
            "2000",
            "--drain",
            "60",
            "--micro-repeats",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["agreement"]["sessions"] > 50
    assert figures["agreement"]["share_equal_segment_id"] >= 0.999
    assert figures["batch"]["assign_rows"] >= 2000
    assert figures["service_score"]["requests"] >= 5
    assert figures["service_score"]["ok"] == figures["service_score"]["requests"]
    assert figures["service_health_baseline"]["errors"] == 0
    idle = figures["service_score_idle"]
    assert idle["offered_rate"] == 5.0 and idle["requests"] >= 5
    assert idle["ok"] == idle["requests"] and idle["p99_ms"] > 0
    cpu = figures["cpu_ms_per_request"]
    assert {"ingest_path_scored_1", "prepared_scored_1", "prepared_scored_32"} <= set(cpu)
    assert all(value > 0 for value in cpu.values())
