"""Benchmark ``ingest_files`` against DuckDB's own ``read_json`` on the same canonical JSONL file.

Usage: ``python bench/bench_ingest.py --events 1200000 --runs 3`` — generates N canonical lines
itself (no simulator), times each side (median of ``--runs``, the sides interleaved so they share
the machine's load), prints a table and one JSON line.

Sides:
- ``ingest_and_land``: the path a user runs, JSON lines → ``raw_events``: ``ingest_files`` (every
  check, quarantine, de-duplication, page types, reconciliation) then ``land_window`` over the
  whole day range (the staged table is handed over to ``raw_events``, no second copy); the
  figure the issue's ratio is about;
- ``ingest_files``: the ingest step alone (``staged_events``);
- ``one_write_floor``: the least any such path can cost: the typed read of the canonical fields
  cast into a persistent table of the ``staged_events`` columns, with no check, no line number,
  no de-duplication (the one write of every row to the database file a landed table needs);
- baselines, DuckDB ``read_json(path)`` (type inference, every field) of the same file:
  ``read_json`` into a TEMP table (in memory, no compression), the bar the issue sets, and
  ``read_json_persistent`` into a table of the database file.
``--per-line`` also times ``ingest_files`` with the typed fast path off; ``--ordinality`` also
times it with lines numbered by ``read_json ... WITH ORDINALITY`` (single-threaded read) instead
of by row id (parallel read), the fallback the plan check would choose; ``--max-read-bytes``
forces big-file parts (a file over it is cut into parts of about that size).
Besides wall time, the process CPU seconds of each side are reported: on a shared machine the
CPU ratio moves far less with the load than the wall-time ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files, typed_json_lines
from signal_pipeline.ingest.landing import land_staged_days
from signal_pipeline.ingest.schema import CANONICAL_FIELDS, STAGED_EVENT_COLUMNS

_STAGED_DDL = ", ".join(f"{name} {sql_type}" for name, sql_type in STAGED_EVENT_COLUMNS)
_FIELD_TYPES = dict(STAGED_EVENT_COLUMNS)
# Every canonical field read as text (like the typed path) and cast to its staged type.
_FLOOR_SELECT = (
    "SELECT "
    + ", ".join(
        f"TRY_CAST({name} AS {_FIELD_TYPES[name]}) AS {name}"
        if name in CANONICAL_FIELDS
        else ("TRY_CAST(ts AS DATE) AS event_date" if name == "event_date" else f"NULL AS {name}")
        for name, _ in STAGED_EVENT_COLUMNS
    )
    + " FROM read_json(?, format = 'newline_delimited', records = true, columns = {"
    + ", ".join(f"{name}: 'VARCHAR'" for name in CANONICAL_FIELDS)
    + "})"
)
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


def _seconds(action) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall and process CPU seconds of ``action()``."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


def _check_line_numbers(con) -> None:  # type: ignore[no-untyped-def]
    """Line numbers at scale (event_id i sits on line i + 1): a misnumbered row fails the run."""
    misnumbered = con.execute(
        "SELECT count(*) FROM staged_events WHERE event_id <> printf('e%010d', source_line - 1)"
    ).fetchall()[0][0]
    assert misnumbered == 0, f"{misnumbered} rows with a wrong source_line"


def _numbered_by_ordinality(action):  # type: ignore[no-untyped-def]
    """``action`` with the typed path's plan check answering "not order-keeping", so lines are
    numbered by ``WITH ORDINALITY`` (benchmark-only switch)."""

    def run() -> None:
        original = typed_json_lines._keeps_row_order
        typed_json_lines._keeps_row_order = lambda *args: False
        try:
            action()
        finally:
            typed_json_lines._keeps_row_order = original

    return run


def main() -> None:
    """Run the benchmark and print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--per-line", action="store_true", help="also time the per-line parser")
    parser.add_argument("--ordinality", action="store_true", help="also time ORDINALITY numbering")
    parser.add_argument("--max-read-bytes", type=int, default=None, help="force file parts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        work = Path(tmp)
        source = work / "input" / "events.jsonl"
        source.parent.mkdir()
        write_events(source, args.events)
        con = db.connect(
            work / "bench.duckdb", allowed_directories=[source.parent], threads=args.threads
        )

        def ingest(typed: bool):  # type: ignore[no-untyped-def]
            def run() -> None:
                settings = IngestSettings(typed_json_lines=typed)
                if args.max_read_bytes:
                    settings = dataclasses.replace(settings, max_read_bytes=args.max_read_bytes)
                report = ingest_files(con, [source], settings)
                assert report.landed == args.events, report

            return run

        def ingest_and_land() -> None:
            ingest(True)()
            counts = land_staged_days(con)
            assert counts["landed_rows"] == args.events, counts
            assert counts["handed_over"] == 1, counts

        def one_write_floor() -> None:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE OR REPLACE TABLE floor_copy ({_STAGED_DDL})")
            con.execute(f"INSERT INTO floor_copy {_FLOOR_SELECT}", [str(source)])
            con.execute("COMMIT")
            con.execute("DROP TABLE floor_copy")

        def read_json_into(kind: str):  # type: ignore[no-untyped-def]
            def run() -> None:
                con.execute(
                    f"CREATE OR REPLACE {kind} TABLE read_json_copy AS SELECT * FROM read_json(?)",
                    [str(source)],
                )
                con.execute("DROP TABLE read_json_copy")

            return run

        sides = {
            "ingest_and_land": ingest_and_land,
            "ingest_files": ingest(True),
            "one_write_floor": one_write_floor,
            "read_json": read_json_into("TEMP"),
            "read_json_persistent": read_json_into(""),
        }
        if args.per_line:
            sides["ingest_per_line"] = ingest(False)
        if args.ordinality:
            sides["ingest_ordinality"] = _numbered_by_ordinality(ingest(True))
        # Interleaved, so every side sees the same machine load (the cores are shared).
        times: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):
            for name, action in sides.items():
                wall, cpu_s = _seconds(action)
                times[name].append(wall)
                cpu[name].append(cpu_s)
                if name.startswith("ingest"):
                    _check_line_numbers(con)
            loads.append(os.getloadavg()[0])
        con.close()
    _print_summary(args.events, args.runs, times, cpu, loads)


def _print_summary(
    events: int,
    runs: int,
    times: dict[str, list[float]],
    cpu: dict[str, list[float]],
    loads: list[float],
) -> None:
    """Print the medians per side, the ratios against both baselines, and one JSON line.

    ``ratio_vs_read_json`` / ``cpu_ratio_vs_read_json`` are the issue's figure: the user's path
    (``ingest_and_land``) against baseline A; ``<side>_ratio_vs_read_json`` gives every side's.
    """
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    result: dict[str, object] = {"events": events, "runs": runs}
    for name, seconds in medians.items():
        result[f"{name}_s"] = round(seconds, 3)
        result[f"{name}_lines_per_s"] = round(events / seconds)
        result[f"{name}_cpu_s"] = round(cpu_medians[name], 3)
    for name in ("ingest_and_land", "ingest_files", "one_write_floor"):
        result[f"{name}_ratio_vs_read_json"] = round(medians["read_json"] / medians[name], 3)
        result[f"{name}_cpu_ratio_vs_read_json"] = round(
            cpu_medians["read_json"] / cpu_medians[name], 3
        )
        result[f"{name}_ratio_vs_read_json_persistent"] = round(
            medians["read_json_persistent"] / medians[name], 3
        )
    result["ratio_vs_read_json"] = result["ingest_and_land_ratio_vs_read_json"]
    result["cpu_ratio_vs_read_json"] = result["ingest_and_land_cpu_ratio_vs_read_json"]
    result["median_paired_ratio"] = round(
        statistics.median(
            r / i for i, r in zip(times["ingest_and_land"], times["read_json"], strict=True)
        ),
        3,
    )
    result["load_average_1m"] = [round(load, 2) for load in loads]
    result["cpu_count"] = os.cpu_count()
    header = ("side", "median s", "lines/s", "CPU s", "A/side", "A/side CPU")
    print(
        f"{header[0]:<22}{header[1]:>10}{header[2]:>14}{header[3]:>10}{header[4]:>9}{header[5]:>12}"
    )
    for name, seconds in medians.items():
        rate = round(events / seconds)
        print(
            f"{name:<22}{seconds:>10.3f}{rate:>14,}{cpu_medians[name]:>10.3f}"
            f"{medians['read_json'] / seconds:>9.3f}"
            f"{cpu_medians['read_json'] / cpu_medians[name]:>12.3f}"
        )
    print(
        f"ratio ingest/read_json (JSON lines -> raw_events vs read_json -> TEMP): "
        f"{result['ratio_vs_read_json']} wall, {result['cpu_ratio_vs_read_json']} CPU"
    )
    print(f"load average (1 min) during the runs: {result['load_average_1m']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
