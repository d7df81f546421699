"""Benchmark the SQL chain ``raw_events`` → ``session_features`` against its floor and pandas.

Three contenders on the same ``raw_events`` table, each measured in a fresh child process
(wall time and peak RSS of that process), interleaved, ``--runs`` times; medians reported:

* ``floor``: the least any sessionizer must do: one DuckDB window pass (``lead(ts)`` over events
  ordered by identity and time) plus one GROUP BY per session, written as a per-session table;
* ``chain``: every SQL model from ``identity_map`` to ``session_features`` (bot detection is
  another stage: ``session_bot_flags`` is stood in by a one-line all-human table, timed);
* ``pandas``: ``bench/pandas_features.py`` (reads the needed columns out of DuckDB, then sort,
  groupby, shift).

Usage::

    python bench/bench_features.py prepare --db /tmp/feat.duckdb --sessions 156000 --days 14
    python bench/bench_features.py run --db /tmp/feat.duckdb --runs 3

``prepare`` simulates (``signal_pipeline.simulate.simulate``, ~65 events per session: 156k
sessions ≈ 10M events) and ingests with ``ingest_files`` into ``raw_events``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR_SQL = """
CREATE OR REPLACE TABLE bench_floor AS
SELECT
    coalesce(session_id, identity_key) AS session_key,
    count(*) AS events,
    min(ts) AS session_start,
    max(ts) AS session_end,
    sum(date_diff('microsecond', ts, next_ts)) / 1e6 AS gaps_s
FROM (
    SELECT
        session_id,
        coalesce(anonymous_id, user_id) AS identity_key,
        ts,
        lead(ts) OVER (PARTITION BY coalesce(anonymous_id, user_id) ORDER BY ts) AS next_ts
    FROM raw_events
)
GROUP BY 1
"""

ALL_HUMAN_FLAGS_SQL = """
CREATE OR REPLACE TABLE session_bot_flags AS
SELECT session_id, false AS is_bot, CAST([] AS VARCHAR[]) AS bot_reasons,
       CAST(0.0 AS DOUBLE) AS anomaly_score
FROM session_metrics
"""

MEMORY_LIMIT = "3GB"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_floor(database: Path, threads: int) -> dict[str, float]:
    """Time the floor query."""
    from signal_pipeline import db

    with db.open_db(database, memory_limit=MEMORY_LIMIT, threads=threads) as con:
        start = time.perf_counter()
        con.execute(FLOOR_SQL)
        return {"seconds": time.perf_counter() - start}


def feature_path(models: dict) -> set[str]:
    """The models ``session_features`` is built from (itself included): the chain the floor is
    compared with. Reader-facing models off that path (``sessionized_events``) are timed apart."""
    path: set[str] = set()
    todo = ["session_features"]
    while todo:
        name = todo.pop()
        if name in models and name not in path:
            path.add(name)
            todo.extend(models[name].upstream)
    return path


def run_chain(database: Path, threads: int) -> dict[str, float]:
    """Time every SQL model in catalog order (per model too): ``seconds`` is the chain from
    ``raw_events`` to ``session_features``, ``all_models_s`` adds the models off that path."""
    from signal_pipeline import db
    from signal_pipeline.sql_models import build_model, load_models

    models = load_models(external_tables=("raw_events", "session_bot_flags"))
    path = feature_path(models)
    out: dict[str, float] = {}
    with db.open_db(database, memory_limit=MEMORY_LIMIT, threads=threads) as con:
        start = time.perf_counter()
        for name, model in models.items():
            began = time.perf_counter()
            build_model(con, model)
            if name == "session_metrics":
                con.execute(ALL_HUMAN_FLAGS_SQL)
            out[name] = time.perf_counter() - began
        out["all_models_s"] = time.perf_counter() - start
        out["seconds"] = sum(out[name] for name in models if name in path)
        row = con.execute("SELECT count(*) FROM session_features").fetchone()
        out["feature_rows"] = float(row[0]) if row else 0.0
    return out


def run_pandas(database: Path, threads: int) -> dict[str, float]:
    """Time the pandas implementation, DuckDB read included."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pandas_features import EVENT_COLUMNS, session_features

    from signal_pipeline import db

    start = time.perf_counter()
    with db.open_db(database, read_only=True, threads=threads) as con:
        columns = ", ".join(EVENT_COLUMNS)
        events = con.execute(f"SELECT {columns} FROM raw_events").df()
    loaded = time.perf_counter() - start
    features = session_features(events)
    return {
        "seconds": time.perf_counter() - start,
        "load_s": loaded,
        "feature_rows": float(len(features)),
    }


CONTENDERS = {"floor": run_floor, "chain": run_chain, "pandas": run_pandas}


def child(kind: str, database: Path, threads: int) -> None:
    """Run one contender and print its figures as one JSON line."""
    result = CONTENDERS[kind](database, threads)
    result["peak_rss_gb"] = peak_rss_bytes() / 1e9
    print(json.dumps(result))


def prepare(database: Path, sessions: int, days: int, seed: int) -> None:
    """Simulate a clickstream and ingest it into ``raw_events`` of ``database``."""
    from signal_pipeline import db
    from signal_pipeline.ingest import IngestSettings, ingest_files
    from signal_pipeline.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        folder = Path(tmp)
        summary = simulate(folder, sessions=sessions, days=days, seed=seed)
        parts = split_lines(folder / "events.jsonl", max_bytes=1_500_000_000)
        with db.open_db(database, allowed_directories=[folder]) as con:
            report = ingest_files(con, parts, IngestSettings(now=None))
            con.execute("CREATE OR REPLACE TABLE raw_events AS SELECT * FROM staged_events")
            con.execute("DROP TABLE staged_events")
        print(f"simulated {summary.events} events, landed {report.landed} in {database}")


def split_lines(path: Path, max_bytes: int) -> list[Path]:
    """Split a JSONL file into parts below ``max_bytes`` (DuckDB reads ≤ 4 GiB per file)."""
    parts: list[Path] = []
    with path.open("rb") as source:
        out = None
        size = 0
        for line in source:
            if out is None or size + len(line) > max_bytes:
                if out is not None:
                    out.close()
                parts.append(path.with_name(f"part_{len(parts):03d}.jsonl"))
                out = parts[-1].open("wb")
                size = 0
            out.write(line)
            size += len(line)
        if out is not None:
            out.close()
    path.unlink()
    return parts


def load_average() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(database: Path, runs: int, threads: int, kinds: list[str]) -> None:
    """Measure each contender ``runs`` times (interleaved) and print medians and ratios."""
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    loads = [load_average()]
    for _ in range(runs):
        for kind in kinds:
            command = [sys.executable, __file__, "child", kind, "--db", str(database)]
            command += ["--threads", str(threads)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
            loads.append(load_average())
    summary: dict[str, dict[str, float]] = {}
    for kind, rows in results.items():
        keys = rows[0].keys()
        summary[kind] = {k: statistics.median(r[k] for r in rows) for k in keys}
        seconds = ", ".join(f"{r['seconds']:.2f}" for r in rows)
        print(
            f"{kind:7s} median {summary[kind]['seconds']:7.2f} s  "
            f"peak RSS {summary[kind]['peak_rss_gb']:.2f} GB  runs: {seconds}"
        )
    if "chain" in summary:
        per_model = {
            k: round(v, 2)
            for k, v in summary["chain"].items()
            if k not in {"seconds", "all_models_s", "peak_rss_gb", "feature_rows"}
        }
        print("chain per model (median s):", per_model)
    if {"floor", "chain"} <= summary.keys():
        floor_s = summary["floor"]["seconds"]
        print(
            f"chain / floor (raw_events -> session_features): "
            f"{summary['chain']['seconds'] / floor_s:.2f}x"
        )
        print(
            f"all models (with the reader views off the path) / floor: "
            f"{summary['chain']['all_models_s'] / floor_s:.2f}x"
        )
    if {"pandas", "chain"} <= summary.keys():
        speed = summary["pandas"]["seconds"] / summary["chain"]["seconds"]
        memory = summary["pandas"]["peak_rss_gb"] / summary["chain"]["peak_rss_gb"]
        print(f"pandas / chain: {speed:.2f}x time, {memory:.2f}x peak RSS")
    print("load averages during the run:", " | ".join(loads))
    print(json.dumps({"summary": summary, "loads": loads}))


def main() -> None:
    """Command line: prepare, run, or (internal) child."""
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("--db", type=Path, required=True)
    prep.add_argument("--sessions", type=int, default=156_000)
    prep.add_argument("--days", type=int, default=14)
    prep.add_argument("--seed", type=int, default=5)
    bench = sub.add_parser("run")
    bench.add_argument("--db", type=Path, required=True)
    bench.add_argument("--runs", type=int, default=3)
    bench.add_argument("--threads", type=int, default=2)
    bench.add_argument("--only", default="floor,chain,pandas")
    one = sub.add_parser("child")
    one.add_argument("kind", choices=sorted(CONTENDERS))
    one.add_argument("--db", type=Path, required=True)
    one.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.db, args.sessions, args.days, args.seed)
    elif args.command == "child":
        child(args.kind, args.db, args.threads)
    else:
        run(args.db, args.runs, args.threads, args.only.split(","))


if __name__ == "__main__":
    main()
