"""DuckDB vs local Spark on the same simulated clickstream: the whole chain, medians of runs.

Both engines run every stage on the same files: ingest (validation, quarantine, de-dup), the
SQL models (Spark: transpiled with sqlglot), bot flags, cluster fit (Spark: on a driver sample)
and assignment. DuckDB runs through ``signal_pipeline.spark.duckdb_reference`` (the functions
the assets call, without Dagster's own overhead); Spark through ``run_spark_pipeline`` in one
long-lived local session (``local[*]``): its start-up (JVM) is measured once, separately.

The simulated export is split into ``--files`` parts (default 8; a site's export arrives in
parts): Spark ingests one file per task, so a single file would be one core's work.

    nice -n 19 .venv/bin/python bench/bench_spark.py --events 1M --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, parse_count, print_table, save

EVENTS_PER_SESSION = 66  # the simulator's mean, to size a run by events


def _timed_stages(run, label: str) -> tuple[float, dict[str, float]]:
    """Run ``run(progress)``; total seconds and seconds from each progress message to the next."""
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    run(lambda message: marks.append((message.split(":")[0], time.perf_counter())))
    end = time.perf_counter()
    stages: dict[str, float] = {}
    for (name, at), (_, until) in zip(marks, [*marks[1:], (label, end)], strict=True):
        stages[name] = stages.get(name, 0.0) + until - at
    return end - start, stages


def split_lines(source: Path, folder: Path, parts: int) -> list[str]:
    """``source`` as ``parts`` JSON-lines files of consecutive lines (paths returned)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = source.read_bytes().splitlines(keepends=True)
    size = -(-len(lines) // parts) or 1
    paths = []
    for index in range(0, len(lines), size):
        path = folder / f"events-{index // size:03d}.jsonl"
        path.write_bytes(b"".join(lines[index : index + size]))
        paths.append(str(path))
    return paths


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Simulate, then time both engines ``--runs`` times each; print and save the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1M", help="about how many events (20k, 1M, 10M)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--master", default="local[*]", help="spark.master for the Spark runs")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--files", type=int, default=8, help="input parts (ingest parallelism)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args(argv)

    from signal_pipeline.simulate import simulate
    from signal_pipeline.spark.duckdb_reference import run_duckdb_reference
    from signal_pipeline.spark.pipeline import run_spark_pipeline
    from signal_pipeline.spark.session import SparkSettings, build_spark_session

    target = parse_count(args.events)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_spark_"))
    work.mkdir(parents=True, exist_ok=True)
    sim = work / "sim"
    days = 7
    simulate(sim, sessions=max(50, target // EVENTS_PER_SESSION), days=days, seed=3)
    events = split_lines(sim / "events.jsonl", work / "parts", max(1, args.files))
    n_events = sum(1 for _ in (sim / "events.jsonl").open("rb"))

    duck_totals: list[float] = []
    duck_stages: list[dict[str, float]] = []
    for run in range(args.runs):
        database = work / f"duck_{run}.duckdb"
        total, stages = _timed_stages(
            lambda say, db=database: run_duckdb_reference(db, events, progress=say), "done"
        )
        duck_totals.append(total)
        duck_stages.append(stages)
        database.unlink(missing_ok=True)

    settings = SparkSettings(
        master=args.master,
        warehouse=str(work / "warehouse"),
        app_name="bench-spark",
        extra_conf={
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(args.shuffle_partitions),
            "spark.driver.memory": "6g",
        },
    )
    started = time.perf_counter()
    spark = build_spark_session(settings)
    spark.sparkContext.setLogLevel("ERROR")
    startup_s = time.perf_counter() - started
    spark_totals: list[float] = []
    spark_stages: list[dict[str, float]] = []
    try:
        for _ in range(args.runs):
            total, stages = _timed_stages(
                lambda say: run_spark_pipeline(spark, settings, events, progress=say), "done"
            )
            spark_totals.append(total)
            spark_stages.append(stages)
    finally:
        try:
            spark.stop()
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)

    def stage_medians(runs: list[dict[str, float]]) -> dict[str, float]:
        names = dict.fromkeys(n for r in runs for n in r)
        return {n: round(statistics.median(r.get(n, 0.0) for r in runs), 2) for n in names}

    duck_median, spark_median = statistics.median(duck_totals), statistics.median(spark_totals)
    rows = [
        {"engine": "duckdb (embedded)", "runs": args.runs, "median_s": round(duck_median, 2),
         "events_per_s": round(n_events / duck_median), "ratio_vs_duckdb": 1.0},
        {"engine": f"spark {args.master}", "runs": args.runs, "median_s": round(spark_median, 2),
         "events_per_s": round(n_events / spark_median),
         "ratio_vs_duckdb": round(spark_median / duck_median, 2)},
        {"engine": "spark session start-up (once)", "runs": 1, "median_s": round(startup_s, 2)},
    ]  # fmt: skip
    print(f"{n_events} events in {len(events)} files, {days} days; machine {machine()}")
    print_table(rows)
    print("duckdb stages (median s):", stage_medians(duck_stages))
    print("spark stages (median s):", stage_medians(spark_stages))
    payload: dict[str, object] = {
        "events": n_events,
        "files": len(events),
        "rows": rows,
        "duckdb_stages": stage_medians(duck_stages),
        "spark_stages": stage_medians(spark_stages),
        "duckdb_runs_s": duck_totals,
        "spark_runs_s": spark_totals,
    }
    save(f"spark_{args.events}", payload)
    return payload


if __name__ == "__main__":
    main()
