"""Ingest: source files → ``staged_events`` + ``quarantined_events`` → daily ``raw_events``."""

import glob
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from signal_pipeline.ingest import IngestReport, IngestSettings, ingest_files
from signal_pipeline.ingest.landing import land_window
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import EventSourceResource, WarehouseResource
from signal_pipeline.run_progress import work_progress
from signal_pipeline.settings import partition_start


class IngestConfig(dg.Config):
    """How source lines are validated on the way in."""

    max_line_bytes: int = Field(
        default=1_000_000, description="Longer lines are quarantined as oversize_line."
    )
    future_tolerance_hours: float = Field(
        default=24.0,
        description="Events later than now + this are quarantined as timestamp_in_future.",
    )


def input_directories(patterns: list[str]) -> list[Path]:
    """The folders a restricted connection must be allowed to read for ``patterns``."""
    folders: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern).expanduser().resolve()
        if any(ch in pattern for ch in "*?["):
            base = Path(glob.escape(str(path.parent)))
            while any(ch in str(base) for ch in "*?["):
                base = base.parent
            folders.add(Path(str(base)))
        else:
            folders.add(path if path.is_dir() else path.parent)
    return sorted(folders)


def reconciliation_markdown(report: IngestReport) -> str:
    """Per-file reconciliation table: read = landed + duplicates + quarantined."""
    rows = [
        [
            Path(f).name,
            c.get("lines_read", 0),
            c.get("landed", 0),
            c.get("duplicates", 0),
            c.get("quarantined", 0),
        ]
        for f, c in sorted(report.by_file.items())
    ]
    rows.append(
        ["**all files**", report.lines_read, report.landed, report.duplicates, report.quarantined]
    )
    return markdown_table(["file", "read", "landed", "duplicates", "quarantined"], rows)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "staged_events",
            description=(
                "Every landed event of one ingest pass over the source files, in the canonical "
                "schema (UTC timestamps, page types derived from URLs), de-duplicated by event_id."
            ),
            group_name="ingest",
            kinds={"duckdb"},
            owners=["team:data-engineering"],
        ),
        dg.AssetSpec(
            "quarantined_events",
            description=(
                "Every source line that could not be landed, with its file, line number, raw "
                "text and a specific reason. Lines read = landed + duplicates + quarantined."
            ),
            group_name="ingest",
            kinds={"duckdb"},
            owners=["team:data-engineering"],
        ),
    ],
    pool="duckdb",
)
def ingested_events(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    duckdb: WarehouseResource,
    event_source: EventSourceResource,
):
    """Parse, validate and de-duplicate the source files (auto-detected formats).

    Metadata on every run reconciles: lines read = landed + duplicates + quarantined, per file
    and overall, with the quarantine counts by reason.
    """
    settings = IngestSettings(
        format=event_source.format,
        max_line_bytes=config.max_line_bytes,
        future_tolerance=timedelta(hours=config.future_tolerance_hours),
        earliest=date.fromisoformat(partition_start()),
    )
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import ingest_step

        yield from ingest_step(context, duckdb.engine, event_source.paths, settings)
        return
    with duckdb.get_connection(allowed_directories=input_directories(event_source.paths)) as con:
        report = ingest_files(
            con,
            event_source.paths,
            settings,
            progress=lambda done, total: context.log.debug(work_progress(done, total, "B")),
        )
        staged_meta = table_metadata(con, "staged_events")
        quarantine_meta = table_metadata(con, "quarantined_events")
    counts = {
        "lines_read": dg.MetadataValue.int(report.lines_read),
        "landed": dg.MetadataValue.int(report.landed),
        "duplicates": dg.MetadataValue.int(report.duplicates),
        "quarantined": dg.MetadataValue.int(report.quarantined),
        "reconciles": dg.MetadataValue.bool(
            report.lines_read == report.landed + report.duplicates + report.quarantined
        ),
        "reconciliation": dg.MetadataValue.md(reconciliation_markdown(report)),
        "formats": dg.MetadataValue.json(report.formats),
        "quarantined_by_reason": dg.MetadataValue.json(report.quarantined_by_reason),
    }
    context.log.info(
        "read %d lines: %d landed, %d duplicates, %d quarantined",
        report.lines_read,
        report.landed,
        report.duplicates,
        report.quarantined,
    )
    yield dg.MaterializeResult(asset_key="staged_events", metadata={**staged_meta, **counts})
    yield dg.MaterializeResult(
        asset_key="quarantined_events",
        metadata={
            **quarantine_meta,
            "quarantined_by_reason": dg.MetadataValue.json(report.quarantined_by_reason),
        },
    )


class RawEventsConfig(dg.Config):
    """How a ``raw_events`` materialization treats the days before its partition window."""

    lookback_days: int = Field(
        default=0,
        ge=0,
        description=(
            "Also land late events of the N days before the partition window: staged events of "
            "those days whose event_id is not in raw_events yet are added (nothing is removed)."
        ),
    )


def raw_events_asset(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    """``raw_events``, daily-partitioned on UTC event date."""

    @dg.asset(
        name="raw_events",
        deps=["staged_events"],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"duckdb"},
        owners=["team:data-engineering"],
        pool="duckdb",
    )
    def raw_events(
        context: dg.AssetExecutionContext, config: RawEventsConfig, duckdb: WarehouseResource
    ):
        """Landed events, one daily partition per UTC event date.

        Materializing a partition (or a range, in one run) replaces exactly those days with the
        staged rows of the same days, in one transaction: the same input gives the same table.
        An event lands in the partition of its own event time, however late it arrives; with
        ``lookback_days`` the run also adds the late events of the N days before its window.
        When the window holds every staged row and raw_events has none outside it, the staged
        table itself becomes raw_events (no second copy) and staged_events reads through it
        until the next ingest pass (metadata ``handed_over``).
        """
        window = context.partition_time_window
        first, end = window.start.date(), window.end.date()
        if duckdb.engine.is_spark:
            from signal_pipeline.spark.dagster_steps import raw_events_step

            return raw_events_step(context, duckdb.engine, first, end, config.lookback_days)
        with duckdb.get_connection() as con:
            counts = land_window(con, first, end, config.lookback_days)
            metadata = table_metadata(
                con, "raw_events", where="event_date >= ? AND event_date < ?", params=[first, end]
            )
        metadata["partition_days"] = dg.MetadataValue.int((end - first).days)
        metadata["lookback_days"] = dg.MetadataValue.int(config.lookback_days)
        metadata.update({key: dg.MetadataValue.int(value) for key, value in counts.items()})
        return dg.MaterializeResult(metadata=metadata)

    return raw_events


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """UTC days from SIGNAL_PIPELINE_PARTITION_START (default 2020-01-01) through today."""
    return dg.DailyPartitionsDefinition(start_date=partition_start(), end_offset=1)


@dg.definitions
def ingest_defs() -> dg.Definitions:
    """The ingest assets."""
    return dg.Definitions(assets=[ingested_events, raw_events_asset(daily_partitions())])
