"""End-to-end benchmark: simulate, `signal-pipeline run` through Dagster, definitions load.

Usage: python bench/bench_pipeline.py --events 1M [--repeat 3]
Each measured command runs in a fresh process (wall time and that process's peak RSS).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from harness import measure, parse_count, print_table, save

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_SESSION = 66  # the simulator's average, used to size the sample


def main() -> None:
    """Run the end-to-end stages and print/save the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="200k", help="approximate event count (1M, 10M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage (median reported)")
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    os.chdir(ROOT)  # workspace.yaml loads the package relative to the project root
    target = parse_count(args.events)
    sessions = max(100, target // EVENTS_PER_SESSION)
    work = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    try:
        events_dir = work / "events"
        sim_cmd = [
            str(BIN / "signal-pipeline"),
            "simulate",
            str(events_dir),
            "--sessions",
            str(sessions),
            "--days",
            str(args.days),
            "--seed",
            "1",
            "--quiet",
        ]
        simulate = measure("simulate", sim_cmd, args.repeat)
        lines = sum(1 for _ in (events_dir / "events.jsonl").open("rb"))
        db = work / "bench.duckdb"
        run_cmd = [
            str(BIN / "signal-pipeline"),
            "run",
            "--events",
            str(events_dir / "events.jsonl"),
            "--db",
            str(db),
            "--quiet",
        ]
        clean = ["rm", "-rf", str(db), str(work / "models"), f"{db}.wal"]
        run = measure(
            "signal-pipeline run (end to end)",
            run_cmd,
            args.repeat,
            env={"DAGSTER_HOME": ""},
            before_each=clean,
        )
        validate = measure(
            "dagster definitions validate",
            [str(BIN / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
            args.repeat,
        )
        rows = [simulate.row(lines), run.row(lines), validate.row()]
        print(f"{lines:,} events in {sessions:,} sessions")
        print_table(rows)
        save(f"pipeline_{args.events}", {"events": lines, "sessions": sessions, "rows": rows})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
