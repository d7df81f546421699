"""``signal-pipeline assign`` and ``signal-pipeline serve``: live segment assignment."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def default_workers() -> int:
    """Scoring threads by default: the CPU cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _scorer(args: argparse.Namespace, ingest_format: str = "native"):
    from signal_pipeline.cli import CliError
    from signal_pipeline.ingest import IngestSettings
    from signal_pipeline.realtime import LiveScorer, ModelNotFoundError

    try:
        return LiveScorer(args.model, ingest=IngestSettings(format=ingest_format))
    except ModelNotFoundError as error:
        raise CliError(str(error)) from error


def cmd_assign(args: argparse.Namespace) -> int:
    """Score every session in the event files with the persisted model."""
    from signal_pipeline.cli import CliError
    from signal_pipeline.realtime import score_records

    with _scorer(args, args.format) as scorer:
        try:
            result = scorer.score_files(args.events)
        except FileNotFoundError as error:
            raise CliError(str(error)) from error
    scores = result.scores
    if args.out:
        out = Path(args.out).expanduser().resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        frame = scores.assign(bot_reasons=scores["bot_reasons"].map(lambda r: ",".join(r)))
        if out.suffix == ".parquet":
            frame.to_parquet(out, index=False)
        elif out.suffix == ".csv":
            frame.to_csv(out, index=False)
        elif out.suffix in (".jsonl", ".json"):
            out.write_text("".join(json.dumps(r) + "\n" for r in score_records(scores)))
        else:
            raise CliError(f"--out must end in .csv, .parquet or .jsonl, got {out.name}")
    summary = {
        "model_version": result.model_version,
        "sessions": len(scores),
        "events_landed": result.report.landed,
        "events_quarantined": result.report.quarantined,
        "quarantined_by_reason": result.report.quarantined_by_reason,
        "segments": {str(k): int(v) for k, v in scores["segment_id"].value_counts().items()},
        "out": args.out,
    }
    if args.json:
        payload = summary if args.out else {**summary, "scores": score_records(scores)}
        print(json.dumps(payload, default=str, indent=2))
    elif not args.quiet:
        shown = scores[
            [
                "session_id",
                "urgency_score",
                "engagement_depth_index",
                "segment_id",
                "segment_name",
                "action_flag",
                "is_bot",
            ]
        ]
        if not args.out:
            print(shown.to_string(index=False, max_rows=args.limit))
        print(
            f"{len(scores)} sessions scored with model v{result.model_version} "
            f"({result.report.landed} events, {result.report.quarantined} quarantined)"
            + (f"; wrote {args.out}" if args.out else "")
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP scoring service until interrupted."""
    import uvicorn

    from signal_pipeline.cli import CliError
    from signal_pipeline.realtime.service import ServiceSettings, create_app

    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise CliError(f"--token-env {args.token_env}: that environment variable is empty")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not token and not args.quiet:
        print(f"warning: serving on {args.host} without a token (--token-env)")
    scorer = _scorer(args)
    settings = ServiceSettings(
        max_body_bytes=args.max_body_bytes,
        token=token,
        workers=args.workers,
        max_pending=args.max_pending,
        poll_s=args.poll_s,
        max_batch=args.max_batch,
    )
    if not args.quiet:
        print(
            f"serving model v{scorer.model.version} on http://{args.host}:{args.port} "
            f"(POST /score, GET /health{', bearer token required' if token else ''})"
        )
    # One process, the default asyncio loop and HTTP parser uvicorn picks (uvloop / httptools
    # when installed); scoring happens on the service's own worker threads.
    uvicorn.run(
        create_app(scorer, settings),
        host=args.host,
        port=args.port,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        workers=1,
    )
    return 0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``assign`` and ``serve``."""
    assign = sub.add_parser(
        "assign", parents=[common], help="score sessions' events with the persisted cluster model"
    )
    assign.add_argument(
        "--model", required=True, help="cluster model .npz, or the artifacts folder (newest)"
    )
    assign.add_argument("--events", nargs="+", required=True, help="event files, folders, globs")
    assign.add_argument(
        "--format",
        choices=["auto", "native", "snowplow", "segment"],
        default="auto",
        help="source format of every file (default: detected per file)",
    )
    assign.add_argument("--out", default=None, help="write scores to .csv, .parquet or .jsonl")
    assign.add_argument("--limit", type=int, default=20, help="rows to print")
    assign.set_defaults(func=cmd_assign)

    serve = sub.add_parser("serve", parents=[common], help="HTTP service: POST /score, GET /health")
    serve.add_argument(
        "--model", required=True, help="cluster model .npz, or the artifacts folder (hot reload)"
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port")
    serve.add_argument(
        "--token-env", default=None, help="environment variable holding the bearer token"
    )
    serve.add_argument("--max-body-bytes", type=int, default=1_000_000, help="request size limit")
    serve.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="scoring threads, each with its own DuckDB connection (default: CPU cores)",
    )
    serve.add_argument(
        "--max-batch", type=int, default=32, help="most queued requests scored in one batch"
    )
    serve.add_argument("--max-pending", type=int, default=256, help="queued requests before 503")
    serve.add_argument("--poll-s", type=float, default=2.0, help="model reload poll interval")
    serve.set_defaults(func=cmd_serve)
