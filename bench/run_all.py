"""Run every stage benchmark at one size: `make bench BENCH_ARGS="--events 1M"`.

Stages: ingest (vs DuckDB read_json), features (vs the floor and pandas), clustering (10k/100k/1M
sessions, vs a full scikit-learn fit), and the end-to-end `signal-pipeline run` plus definitions
load. Each script prints its table and writes JSON to bench/results/. `--events 20k --runs 1` is
the CI smoke size (no timing is asserted anywhere).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import parse_count

HERE = Path(__file__).resolve().parent
EVENTS_PER_SESSION = 66


def run(args: list[str]) -> None:
    """Run one stage script with this interpreter; stop on failure."""
    print(f"\n=== {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, *args], cwd=HERE, check=True)


def main() -> None:
    """Run the stages in order."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="1M", help="events per stage (20k, 1M, 10M)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--cluster-sizes",
        type=int,
        nargs="+",
        default=None,
        help="sessions for the clustering curve (default 10k/100k/1M, or 2000 below 100k events)",
    )
    args = parser.parse_args()
    events = parse_count(args.events)
    sessions = max(200, events // EVENTS_PER_SESSION)
    sizes = args.cluster_sizes or ([2000] if events < 100_000 else [10_000, 100_000, 1_000_000])
    run(["bench_ingest.py", "--events", str(events), "--runs", str(args.runs)])
    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        db = str(Path(tmp) / "features.duckdb")
        run(["bench_features.py", "prepare", "--db", db, "--sessions", str(sessions)])
        run(["bench_features.py", "run", "--db", db, "--runs", str(args.runs)])
    run(["bench_clustering.py", "--sizes", *map(str, sizes), "--repeats", str(args.runs)])
    run(["bench_pipeline.py", "--events", args.events, "--repeat", str(args.runs)])


if __name__ == "__main__":
    main()
