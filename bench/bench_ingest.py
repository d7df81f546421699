"""Benchmark ``ingest_files`` against DuckDB's own ``read_json`` on the same canonical JSONL file.

Usage: ``python bench/bench_ingest.py --events 1200000`` — generates N canonical lines itself
(no simulator), times each side (median of ``--runs``), prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files

_TYPES = ("page_view", "page_ping", "scroll", "click", "hover", "cta_click")
_PATHS = ("/", "/products/widget", "/pricing", "/compare", "/specs/widget", "/checkout")


def write_events(path: Path, n: int) -> None:
    """Write ``n`` canonical JSON lines (deterministic) to ``path``."""
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for i in range(n):
            event = {
                "event_id": f"e{i:010d}",
                "ts": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}Z",
                "event_type": _TYPES[i % len(_TYPES)],
                "anonymous_id": f"a{i % 50_000}",
                "session_id": f"s{i % 200_000}",
                "page_url": f"https://shop.example.com{_PATHS[i % len(_PATHS)]}?q={i % 97}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120",
                "device_type": "desktop",
                "scroll_depth_pct": i % 101,
                "x": 0.5,
                "y": 0.25,
            }
            chunk.append(orjson.dumps(event))
            if len(chunk) == 100_000:
                out.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")


def _median_seconds(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        work = Path(tmp)
        source = work / "input" / "events.jsonl"
        source.parent.mkdir()
        write_events(source, args.events)
        settings = IngestSettings(now=None)
        con = db.connect(
            work / "bench.duckdb", allowed_directories=[source.parent], threads=args.threads
        )

        def run_ingest() -> None:
            report = ingest_files(con, [source], settings)
            assert report.landed == args.events, report

        def run_read_json() -> None:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE read_json_copy AS SELECT * FROM read_json(?)",
                [str(source)],
            )

        ingest_s = _median_seconds(run_ingest, args.runs)
        read_json_s = _median_seconds(run_read_json, args.runs)
        con.close()
    result = {
        "events": args.events,
        "runs": args.runs,
        "ingest_files_s": round(ingest_s, 3),
        "ingest_lines_per_s": round(args.events / ingest_s),
        "read_json_s": round(read_json_s, 3),
        "read_json_lines_per_s": round(args.events / read_json_s),
        "ratio_vs_read_json": round(read_json_s / ingest_s, 3),
    }
    print(f"{'step':<16}{'median s':>10}{'lines/s':>14}")
    print(f"{'ingest_files':<16}{ingest_s:>10.3f}{result['ingest_lines_per_s']:>14,}")
    print(f"{'read_json':<16}{read_json_s:>10.3f}{result['read_json_lines_per_s']:>14,}")
    print(f"throughput ratio ingest/read_json: {result['ratio_vs_read_json']:.3f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
