"""Run the whole pipeline in-process through Dagster (what `signal-pipeline run` does)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dagster as dg

from signal_pipeline import db
from signal_pipeline.engine import ENV_ENGINE, SPARK, engine_kind_from_env
from signal_pipeline.ingest.landing import staged_day_range
from signal_pipeline.reliability.run_errors import raise_if_busy, step_error_line
from signal_pipeline.run_progress import StepSink, reporting_steps
from signal_pipeline.settings import ENV_ARTIFACTS, ENV_DB, ENV_EVENTS, ENV_FORMAT


class StepBar(StepSink, Protocol):
    """A progress display over a run's steps."""

    def close(self) -> None:
        """Finish the display."""


#: Makes the progress display of one job run: (label, number of steps) → bar.
StepBarFactory = Callable[[str, int], StepBar]


class PipelineRunError(RuntimeError):
    """A pipeline step failed; the message names the step and the cause."""


@dataclass
class PipelineRunSummary:
    """What one `run` did."""

    database: Path
    run_ids: list[str] = field(default_factory=list)
    first_day: str | None = None
    last_day: str | None = None
    table_rows: dict[str, int] = field(default_factory=dict)


#: Assets that accept a ``labels_path`` to report quality against ground truth.
LABELLED_ASSETS = ("session_bot_flags", "cluster_model", "segment_profiles")

SUMMARY_TABLES = (
    "staged_events",
    "quarantined_events",
    "raw_events",
    "sessions",
    "validated_sessions",
    "session_features",
    "session_segments",
    "segment_profiles",
    "drift_statistics",
)


def load_definitions(
    database: Path, events: Sequence[str], artifacts: Path, events_format: str = "auto"
) -> dg.Definitions:
    """The project's definitions with resources pointed at these paths."""
    os.environ[ENV_FORMAT] = events_format
    os.environ[ENV_DB] = str(database)
    os.environ[ENV_EVENTS] = os.pathsep.join(str(Path(p).resolve()) for p in events)
    os.environ[ENV_ARTIFACTS] = str(artifacts)
    from signal_pipeline.definitions import defs

    return defs()


def _instance() -> dg.DagsterInstance:
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else (dg.DagsterInstance.ephemeral())
    )


def _execute(
    definitions: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    tags: dict[str, str] | None = None,
    log_level: str = "WARNING",
    op_config: dict[str, dict] | None = None,
    step_bar: StepBarFactory | None = None,
    label: str = "",
) -> str:
    job = definitions.resolve_job_def(job_name)
    loggers: dict = {"console": {"config": {"log_level": log_level}}}
    if step_bar is not None:
        loggers["progress"] = {}
    run_config: dict = {"loggers": loggers}
    if op_config:
        run_config["ops"] = {op: {"config": cfg} for op, cfg in op_config.items()}
    bar = step_bar(label or job_name, len(job.nodes_in_topological_order)) if step_bar else None
    try:
        if bar is None:
            result = job.execute_in_process(
                run_config=run_config, instance=instance, tags=tags or {}, raise_on_error=False
            )
        else:
            with reporting_steps(bar):
                result = job.execute_in_process(
                    run_config=run_config, instance=instance, tags=tags or {}, raise_on_error=False
                )
    finally:
        if bar is not None:
            bar.close()
    if not result.success:
        errors = [
            (event.step_key, event.event_specific_data.error)  # type: ignore[union-attr]
            for event in result.all_events
            if event.is_step_failure and event.event_specific_data is not None
        ]
        for _, error in errors:
            raise_if_busy(error)  # another process held the database: exit code 3
        failures = [f"{step}: {step_error_line(error)}" for step, error in errors]
        detail = failures[0] if failures else "see the run log"
        raise PipelineRunError(f"{job_name} failed: {detail}")
    return result.run_id


def event_day_range(database: Path) -> tuple[str, str] | None:
    """First and last UTC event date in ``staged_events`` (None when it is empty)."""
    with db.open_db(database, read_only=True) as con:
        days = staged_day_range(con)
    return None if days is None else (days[0].isoformat(), days[1].isoformat())


def run_pipeline(
    events: Sequence[str],
    database: Path,
    artifacts: Path | None = None,
    progress: Callable[[str], None] | None = None,
    log_level: str = "WARNING",
    labels: Path | None = None,
    events_format: str = "auto",
    step_bar: StepBarFactory | None = None,
) -> PipelineRunSummary:
    """Ingest ``events`` into ``database`` and materialize every asset downstream of them.

    Dagster's own console log is shown from ``log_level`` up (``INFO`` or ``DEBUG`` to see
    every step). With ``labels`` (a simulator labels.csv: session_id, persona, is_bot, bot_kind)
    the bot flags, cluster model and profiles also report their quality against ground truth.
    ``step_bar`` makes a progress display for each job run (the CLI passes tqdm bars).
    """
    if engine_kind_from_env() == SPARK:
        raise PipelineRunError(
            f"signal-pipeline run drives the embedded DuckDB engine and {ENV_ENGINE} is 'spark': "
            "materialize the assets in the Dagster UI (or call "
            "signal_pipeline.spark.pipeline.run_spark_pipeline), see docs/spark.md"
        )
    database = database.expanduser().resolve()
    artifacts = (artifacts or database.parent / "models").expanduser().resolve()
    say = progress or (lambda _msg: None)
    definitions = load_definitions(database, events, artifacts, events_format)
    instance = _instance()
    summary = PipelineRunSummary(database=database)
    say("ingesting event files")
    summary.run_ids.append(
        _execute(
            definitions,
            "ingest_job",
            instance,
            log_level=log_level,
            step_bar=step_bar,
            label="ingest",
        )
    )
    days = event_day_range(database)
    if days is None:
        # No events: land an empty partition so every downstream table exists (empty).
        last = definitions.resolve_assets_def("raw_events").partitions_def.get_last_partition_key()  # type: ignore[union-attr]
        days = (last, last)
    summary.first_day, summary.last_day = days
    say(f"landing {days[0]} .. {days[1]} and processing")
    tags = {
        "dagster/asset_partition_range_start": days[0],
        "dagster/asset_partition_range_end": days[1],
    }
    labelled = (
        {asset: {"labels_path": str(labels.expanduser().resolve())} for asset in LABELLED_ASSETS}
        if labels
        else None
    )
    summary.run_ids.append(
        _execute(
            definitions,
            "land_and_process_job",
            instance,
            tags,
            log_level=log_level,
            op_config=labelled,
            step_bar=step_bar,
            label="process",
        )
    )
    with db.open_db(database, read_only=True) as con:
        for table in SUMMARY_TABLES:
            if db.table_exists(con, table):
                row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                summary.table_rows[table] = int(row[0]) if row else 0
    return summary
