"""`signal-pipeline backfill`: land a range of daily partitions one run each, then re-cluster.

In one command and one process (holding the database's run lock):

1. ``ingest_job``: read the event files into ``staged_events`` / ``quarantined_events``;
2. one ``raw_events`` run per day of ``--start`` .. ``--end`` (each partition its own Dagster
   run, as a backfill launched from the UI would be; a failed day stops the backfill and names
   the day);
3. ``rebuild_features_job``: sessions, bot flags and features over every landed day;
4. ``recluster_job`` over the range: fit a new cluster model (optionally on the last
   ``--window-days`` days), re-assign, re-profile and recompute the range's drift statistics.

With DAGSTER_HOME set the runs are recorded in that instance (the UI lists them).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

RAW_EVENTS = dg.AssetKey("raw_events")


@dataclass
class BackfillSummary:
    """What one backfill did: the days landed (rows per day) and the runs it made."""

    database: Path
    days: dict[str, int] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    cluster_model_version: int | None = None


def day_range(start: str, end: str) -> list[str]:
    """Every ISO day from ``start`` to ``end`` inclusive (a one-line error when malformed)."""
    from signal_pipeline.cli import CliError

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as error:
        raise CliError(f"--start/--end must be YYYY-MM-DD dates: {error}") from None
    if last < first:
        raise CliError(f"--end {end} is before --start {start}")
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _check_result(result: dg.ExecuteInProcessResult, what: str) -> str:
    from signal_pipeline.pipeline import PipelineRunError
    from signal_pipeline.reliability.run_errors import raise_if_busy, step_error_line

    if result.success:
        return result.run_id
    errors = [
        (event.step_key, event.event_specific_data.error)  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure and event.event_specific_data is not None
    ]
    for _, error in errors:
        raise_if_busy(error)
    detail = "; ".join(f"{step}: {step_error_line(error)}" for step, error in errors[:1])
    raise PipelineRunError(f"{what} failed: {detail or 'see the run log'}")


def run_backfill(
    events: list[str],
    database: Path,
    start: str,
    end: str,
    *,
    artifacts: Path | None = None,
    events_format: str = "auto",
    window_days: int | None = None,
    log_level: str = "CRITICAL",
    progress: Any = None,
) -> BackfillSummary:
    """Ingest, land ``start`` .. ``end`` one partition per run, rebuild features, re-cluster."""
    from signal_pipeline.pipeline import _instance, load_definitions

    say = progress or (lambda _message: None)
    days = day_range(start, end)
    database = database.expanduser().resolve()
    artifacts = (artifacts or database.parent / "models").expanduser().resolve()
    definitions = load_definitions(database, events, artifacts, events_format)
    partitions = definitions.resolve_assets_def("raw_events").partitions_def
    known = set(partitions.get_partition_keys()) if partitions else set()  # type: ignore[union-attr]
    outside = [d for d in days if d not in known]
    if outside:
        from signal_pipeline.cli import CliError

        raise CliError(f"days outside the raw_events partitions: {outside[0]} .. {outside[-1]}")
    instance = _instance()
    logging = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    summary = BackfillSummary(database=database)

    def run(job_name: str, what: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        job = definitions.resolve_job_def(job_name)
        result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
        summary.run_ids.append(_check_result(result, what))
        return result

    say("ingesting event files")
    run("ingest_job", "ingest", run_config=logging)
    land = definitions.resolve_implicit_global_asset_job_def()
    for day in days:
        result = land.execute_in_process(
            instance=instance,
            partition_key=day,
            asset_selection=[RAW_EVENTS],
            run_config=logging,
            raise_on_error=False,
        )
        summary.run_ids.append(_check_result(result, f"partition {day}"))
        landed = [
            m.metadata.get("landed_rows")
            for m in result.asset_materializations_for_node("raw_events")
        ]
        summary.days[day] = int(getattr(landed[0], "value", 0)) if landed else 0
        say(f"landed {day}: {summary.days[day]:,} events")
    say("rebuilding sessions and features")
    run("rebuild_features_job", "rebuild features", run_config=logging)
    say("re-clustering")
    recluster_config: dict[str, Any] = dict(logging)
    if window_days:
        recluster_config["ops"] = {"cluster_model": {"config": {"window_days": window_days}}}
    result = run(
        "recluster_job",
        "re-cluster",
        run_config=recluster_config,
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
    )
    versions = [
        m.metadata.get("version") for m in result.asset_materializations_for_node("cluster_model")
    ]
    summary.cluster_model_version = int(getattr(versions[0], "value", 0)) if versions else None
    return summary


def cmd_backfill(args: argparse.Namespace) -> int:
    """Land the daily partitions --start .. --end (one run each), then re-cluster."""
    from signal_pipeline.cli import CliError, _emit
    from signal_pipeline.reliability.run_lock import exclusive_run

    for path in args.events:
        if not any(ch in path for ch in "*?[") and not Path(path).exists():
            raise CliError(f"event file not found: {path}")
    say = (lambda _m: None) if (args.quiet or args.json) else (lambda m: print(f"... {m}"))
    with exclusive_run(Path(args.db)):
        summary = run_backfill(
            args.events,
            Path(args.db),
            args.start,
            args.end,
            artifacts=Path(args.artifacts) if args.artifacts else None,
            events_format=args.format,
            window_days=args.window_days,
            log_level="DEBUG" if args.verbose else "INFO" if args.log else "CRITICAL",
            progress=say,
        )
    payload = {
        "database": str(summary.database),
        "days": summary.days,
        "runs": len(summary.run_ids),
        "cluster_model_version": summary.cluster_model_version,
    }
    text = (
        f"backfilled {len(summary.days)} days ({sum(summary.days.values()):,} events) into "
        f"{summary.database} and re-clustered (cluster model v{summary.cluster_model_version})"
    )
    _emit(args, payload, text)
    return 0


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `signal-pipeline backfill`."""
    from signal_pipeline.cli import DEFAULT_DB

    parser = sub.add_parser(
        "backfill",
        parents=[common],
        help="land a range of daily partitions (one run each), then re-cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", nargs="+", required=True, help="event files, folders or globs")
    parser.add_argument("--db", default=DEFAULT_DB, help="DuckDB file (created if missing)")
    parser.add_argument("--start", required=True, help="first day (UTC, YYYY-MM-DD)")
    parser.add_argument("--end", required=True, help="last day (UTC, YYYY-MM-DD), inclusive")
    parser.add_argument(
        "--format",
        choices=["auto", "native", "snowplow", "segment"],
        default="auto",
        help="source format of every file (default: detected per file)",
    )
    parser.add_argument("--artifacts", default=None, help="model folder (default: beside --db)")
    parser.add_argument(
        "--window-days", type=int, default=None, help="fit on the last N days (default: all)"
    )
    parser.add_argument("--log", action="store_true", help="show Dagster's step log (INFO)")
    parser.add_argument("--verbose", action="store_true", help="show Dagster's DEBUG log")
    parser.set_defaults(func=cmd_backfill)
