"""Benchmark live scoring: batch assignment, agreement with the batch pipeline, the service.

Usage: ``python bench/bench_realtime.py [--sessions 3000] [--seed 7] [--rate 200]
[--duration 60] [--repeats 3] [--out bench/results/realtime.json]``.

1. A simulated clickstream (``--sessions``, ``--seed``) goes through the whole pipeline.
2. Batch assignment: ``assign_sessions`` (the ``session_segments`` path, persisted model) over
   ``session_features`` tiled to at least ``--assign-rows`` rows, sessions/s, median of
   ``--repeats``; and end to end (``signal-pipeline assign``: ingest + SQL-model features + bot
   rules + assignment) over the simulated file, sessions/s, median of ``--repeats``. The ratio
   end-to-end / assignment-only shows where the time goes.
3. Agreement: live segment ids vs the pipeline's ``session_segments`` (share of equal ids).
4. Per-request cost (in process, one thread): CPU ms per request (``time.thread_time``, median
   over ``--micro-repeats`` bodies) of the old path (``ingest_files`` + the unprepared feature
   query, kept as the fallback) and of the prepared request query for batches of 1, 8 and 32
   bodies (features only, then features + segment assignment + bot rules).
5. Service: ``signal-pipeline serve`` in a child process on a free 127.0.0.1 port; an asyncio
   raw-HTTP client sends ``--rate`` requests/s (open loop, each one session's events, sessions
   drawn round-robin) for ``--duration`` s, then waits at most ``--drain`` s for answers.
   Reported: latency p50/p90/p99 (ms), errors (non-200, timeouts), achieved rate. Baseline in
   the same run: ``GET /health`` at the same rate for a third of the duration (the HTTP stack
   without scoring), and ``POST /score`` at ``--idle-rate`` (default 5/s) for a third of the
   duration: no request waits for another, so its latency is the floor one request costs
   alone. Only 127.0.0.1 is ever contacted; in-flight requests are capped at ``--max-inflight``.
   The service's own CPU time (``/proc/<pid>/stat``) during the score run, per answered
   request, and the load average before/after, show whether the machine had the CPU for the
   offered rate (CPU ms per request x rate / 1000 = cores needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_bodies(raw: pd.DataFrame, limit: int) -> list[bytes]:
    """Canonical JSON-lines bodies, one per session (up to ``limit`` sessions), grouped by the
    pipeline's ``resolved_session_id`` (events may carry no session_id)."""
    drop = ["event_date", "source_format", "source_file", "source_line", "resolved_session_id"]
    frame = raw.drop(columns=drop).assign(
        ts=raw["ts"].map(lambda t: pd.Timestamp(t).isoformat() + "Z")
    )
    bodies = []
    for _, rows in frame.groupby(raw["resolved_session_id"], sort=True):
        bodies.append(rows.to_json(orient="records", lines=True).encode())
        if len(bodies) >= limit:
            break
    return bodies


def encode_request(method: str, path: str, body: bytes, keep_alive: bool = True) -> bytes:
    """One HTTP/1.1 request, encoded once (the load loop only writes bytes)."""
    connection = "keep-alive" if keep_alive else "close"
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (``Content-Length`` framed); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def http_call(port: int, method: str, path: str, body: bytes, timeout: float) -> int:
    """One HTTP/1.1 request on a fresh loopback connection; the status code (0 = failure)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError):
        return 0
    try:
        writer.write(encode_request(method, path, body, keep_alive=False))
        await writer.drain()
        return await asyncio.wait_for(read_response(reader), timeout)
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
        return 0
    finally:
        writer.close()


class ConnectionPool:
    """Keep-alive loopback connections: a request takes an idle one (or opens one) and gives
    it back after a complete response, so the load costs no TCP set-up per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def call(self, request: bytes, timeout: float) -> int:
        """Send the pre-encoded ``request``; the status code (0 = failure or timeout). A
        reused connection the server has meanwhile closed (idle keep-alive timeout) is retried
        once on a fresh connection, as HTTP clients do."""
        reused = bool(self.idle)
        status = await self._send(request, timeout, reuse=reused)
        if status is None and reused:
            status = await self._send(request, timeout, reuse=False)
        return status or 0

    async def _send(self, request: bytes, timeout: float, *, reuse: bool) -> int | None:
        if reuse and self.idle:
            reader, writer = self.idle.pop()
        else:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), timeout
                )
            except (OSError, TimeoutError):
                return 0
            self.opened += 1
        try:
            writer.write(request)
            status = await asyncio.wait_for(read_response(reader), timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return None  # closed by the server before answering: retry on a fresh connection
        except (OSError, TimeoutError, ValueError, IndexError):
            writer.close()
            return 0
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        """Close every idle connection."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def load_test(
    port: int,
    method: str,
    path: str,
    bodies: list[bytes],
    rate: float,
    duration: float,
    drain: float,
    max_inflight: int,
) -> dict[str, Any]:
    """Open-loop load at ``rate`` requests/s for ``duration`` s over keep-alive connections
    (requests encoded before the clock starts); latency and error figures."""
    requests = [encode_request(method, path, body) for body in bodies]
    pool = ConnectionPool(port)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    skipped = 0
    inflight = 0
    tasks = []

    async def one(request: bytes) -> None:
        nonlocal inflight
        started = time.perf_counter()
        status = await pool.call(request, timeout=drain)
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
        inflight -= 1

    start = time.perf_counter()
    sent = 0
    while (now := time.perf_counter() - start) < duration:
        due = int(now * rate) + 1
        while sent < due:
            if inflight >= max_inflight:
                skipped += 1
            else:
                inflight += 1
                tasks.append(asyncio.create_task(one(requests[sent % len(requests)])))
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - start)))
    elapsed_send = time.perf_counter() - start
    if tasks:
        await asyncio.wait(tasks, timeout=drain + 5)
    pool.close()
    ms = np.array(latencies) * 1000
    ok = statuses.get(200, 0)
    return {
        "path": path,
        "offered_rate": rate,
        "duration_s": round(elapsed_send, 2),
        "requests": sent,
        "ok": ok,
        "errors": sent - ok,
        "skipped_over_inflight_cap": skipped,
        "connections_opened": pool.opened,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "achieved_ok_rate": round(ok / (time.perf_counter() - start), 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p90_ms": round(float(np.percentile(ms, 90)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
    }


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_request_cpu(scorer: Any, bodies: list[bytes], repeats: int) -> dict[str, float]:
    """Median CPU ms per request (this thread) of each path over ``repeats`` rounds."""
    from signal_pipeline.realtime.scoring import score_features

    engine = scorer.engine
    scorer.warm_up()

    def median_ms(fn: Any, size: int) -> float:
        samples = []
        for round_no in range(repeats):
            chunk = [bodies[(round_no * size + i) % len(bodies)] for i in range(size)]
            started = time.thread_time()
            fn(chunk)
            samples.append((time.thread_time() - started) * 1000 / size)
        return round(statistics.median(samples), 2)

    def old_path(chunk: list[bytes]) -> None:
        features, _ = engine._features_via_ingest(chunk[0])
        score_features(features, scorer.model, scorer.thresholds)

    figures = {"ingest_path_scored_1": median_ms(old_path, 1)}
    for size in (1, 8, 32):
        figures[f"prepared_features_{size}"] = median_ms(engine.feature_batch, size)
        figures[f"prepared_scored_{size}"] = median_ms(scorer.score_bodies, size)
    return figures


def wait_for_health(port: int, timeout: float = 60.0) -> None:
    """Block until ``GET /health`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(http_call(port, "GET", "/health", b"", 2.0)) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError("service did not become healthy")


def main(argv: list[str] | None = None) -> int:
    """Run every stage; print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-session-ids", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assign-rows", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--idle-rate", type=float, default=5.0)
    parser.add_argument("--drain", type=float, default=15.0)
    parser.add_argument("--max-inflight", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--micro-repeats", type=int, default=15)
    parser.add_argument("--out", default=str(RESULTS_DIR / "realtime.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

    from signal_pipeline import db
    from signal_pipeline.pipeline import run_pipeline
    from signal_pipeline.realtime import LiveScorer, load_scoring_model
    from signal_pipeline.segments.assign import assign_sessions
    from signal_pipeline.simulate import simulate

    work = Path(tempfile.mkdtemp(prefix="bench_realtime_"))
    results: dict[str, Any] = {"load_before": os.getloadavg(), "args": vars(args)}
    simulate(
        work / "sim",
        sessions=args.sessions,
        days=args.days,
        seed=args.seed,
        with_session_ids=not args.no_session_ids,
    )
    events = work / "sim" / "events.jsonl"
    run_pipeline([str(events)], work / "signal.duckdb", work / "models")
    with db.open_db(work / "signal.duckdb", read_only=True) as con:
        features = con.execute("SELECT * FROM session_features ORDER BY session_id").df()
        batch = con.execute("SELECT session_id, segment_id FROM session_segments").df()
        raw = con.execute(
            "SELECT r.*, s.session_id AS resolved_session_id FROM raw_events AS r "
            "JOIN sessionized_events AS s USING (event_id) ORDER BY resolved_session_id, r.ts"
        ).df()

    model = load_scoring_model(work / "models").model
    tiled = pd.concat([features] * max(1, -(-args.assign_rows // len(features))), ignore_index=True)
    assign_rates = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        assign_sessions(model, tiled)
        assign_rates.append(len(tiled) / (time.perf_counter() - started))
    end_to_end_rates = []
    with LiveScorer(work / "models") as scorer:
        for _ in range(args.repeats):
            started = time.perf_counter()
            live = scorer.score_files([events])
            end_to_end_rates.append(len(live.scores) / (time.perf_counter() - started))
    joined = batch.merge(live.scores, on="session_id", how="left", suffixes=("_b", "_l"))
    agreement = float((joined["segment_id_b"] == joined["segment_id_l"]).mean())
    results["batch"] = {
        "assign_rows": len(tiled),
        "assign_sessions_per_s_median": round(statistics.median(assign_rates)),
        "end_to_end_sessions": len(live.scores),
        "end_to_end_sessions_per_s_median": round(statistics.median(end_to_end_rates)),
        "ratio_assign_over_end_to_end": round(
            statistics.median(assign_rates) / statistics.median(end_to_end_rates), 1
        ),
    }
    results["agreement"] = {"sessions": len(joined), "share_equal_segment_id": agreement}

    bodies = session_bodies(raw, limit=500)
    with LiveScorer(work / "models") as scorer:
        results["cpu_ms_per_request"] = per_request_cpu(scorer, bodies, args.micro_repeats)
    results["load_after_micro"] = os.getloadavg()
    port = free_port()
    cli = Path(sys.executable).parent / "signal-pipeline"
    service = subprocess.Popen(
        [
            str(cli),
            "serve",
            "--model",
            str(work / "models"),
            "--port",
            str(port),
            "--quiet",
            "--workers",
            str(args.workers),
            "--max-batch",
            str(args.max_batch),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_health(port)
        results["service_health_baseline"] = asyncio.run(
            load_test(
                port,
                "GET",
                "/health",
                [b""],
                args.rate,
                max(2.0, args.duration / 3),
                args.drain,
                args.max_inflight,
            )
        )
        # The floor: at an idle rate no request waits for another, so this latency is what
        # one request costs alone (HTTP + validation + features + assignment).
        results["service_score_idle"] = asyncio.run(
            load_test(
                port,
                "POST",
                "/score",
                bodies,
                args.idle_rate,
                max(2.0, args.duration / 3),
                args.drain,
                args.max_inflight,
            )
        )
        cpu_before = process_cpu_s(service.pid)
        load_before_score = os.getloadavg()
        results["service_score"] = asyncio.run(
            load_test(
                port,
                "POST",
                "/score",
                bodies,
                args.rate,
                args.duration,
                args.drain,
                args.max_inflight,
            )
        )
        cpu_after = process_cpu_s(service.pid)
        score = results["service_score"]
        if cpu_before is not None and cpu_after is not None and score["ok"]:
            per_request = (cpu_after - cpu_before) * 1000 / score["ok"]
            score["service_cpu_ms_per_ok_request"] = round(per_request, 2)
            score["cores_needed_at_offered_rate"] = round(per_request * args.rate / 1000, 2)
        score["load_before"] = load_before_score
        score["load_after"] = os.getloadavg()
    finally:
        service.terminate()
        service.wait(timeout=60)
    results["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    b, s, h = results["batch"], results["service_score"], results["service_health_baseline"]
    idle = results["service_score_idle"]
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    print(
        f"batch assignment      {b['assign_sessions_per_s_median']:>10,} sessions/s "
        f"({b['assign_rows']:,} rows, median of {args.repeats})"
    )
    print(
        f"assign end to end     {b['end_to_end_sessions_per_s_median']:>10,} sessions/s "
        f"(ratio assignment-only / end-to-end {b['ratio_assign_over_end_to_end']})"
    )
    print(f"agreement with batch  {agreement:.4%} of {len(joined)} sessions")
    print(f"CPU ms per request    {results['cpu_ms_per_request']}")
    if "service_cpu_ms_per_ok_request" in s:
        print(
            f"service CPU {s['service_cpu_ms_per_ok_request']} ms per answered request = "
            f"{s['cores_needed_at_offered_rate']} cores at {args.rate}/s "
            f"(load {s['load_before']} -> {s['load_after']})"
        )
    for label, row in (("GET /health", h), ("POST /score", s), ("idle /score", idle)):
        print(
            f"{label:<12} offered {row['offered_rate']}/s for {row['duration_s']} s: "
            f"ok {row['ok']}/{row['requests']}, errors {row['errors']}, "
            f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
            f"achieved {row['achieved_ok_rate']}/s"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
