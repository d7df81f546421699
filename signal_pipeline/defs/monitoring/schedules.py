"""Schedules: land and process yesterday daily; re-cluster on a rolling window every N days."""

import os
from datetime import datetime, timedelta

import dagster as dg

from signal_pipeline.defs.jobs import RECLUSTER_ASSETS, daily_pipeline_job
from signal_pipeline.defs.monitoring.drift_sensor import build_drift_sensor

ENV_RECLUSTER_EVERY = "SIGNAL_PIPELINE_RECLUSTER_EVERY_DAYS"
ENV_RECLUSTER_WINDOW = "SIGNAL_PIPELINE_RECLUSTER_WINDOW_DAYS"
DEFAULT_RECLUSTER_EVERY_DAYS = 7
DEFAULT_RECLUSTER_WINDOW_DAYS = 14

daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
    daily_pipeline_job,
    name="daily_pipeline_schedule",
    hour_of_day=1,
    description="Every day at 01:00 UTC: ingest, land yesterday's partition, rebuild everything.",
)


def recluster_run_config(window_days: int) -> dict:
    """Run config fitting the cluster model on the last ``window_days`` days."""
    return {"ops": {"cluster_model": {"config": {"window_days": window_days}}}}


def build_rolling_recluster_schedule(
    every_days: int = DEFAULT_RECLUSTER_EVERY_DAYS,
    window_days: int = DEFAULT_RECLUSTER_WINDOW_DAYS,
) -> dg.ScheduleDefinition:
    """Re-cluster every ``every_days`` days (7–14) over the last ``window_days`` days."""
    if not 7 <= every_days <= 14:
        raise ValueError(f"{ENV_RECLUSTER_EVERY} must be between 7 and 14, got {every_days}")
    if window_days < 1:
        raise ValueError(f"{ENV_RECLUSTER_WINDOW} must be at least 1, got {window_days}")
    recluster = dg.AssetSelection.assets(*RECLUSTER_ASSETS, "drift_statistics")

    @dg.schedule(
        name="rolling_recluster_schedule",
        cron_schedule="0 3 * * *",
        target=recluster,
        execution_timezone="UTC",
        description=(
            f"Daily check at 03:00 UTC; re-clusters when the last cluster_model materialization "
            f"is {every_days} or more days old, fitting on the last {window_days} days."
        ),
    )
    def rolling_recluster_schedule(context: dg.ScheduleEvaluationContext):
        event = context.instance.get_latest_materialization_event(dg.AssetKey("cluster_model"))
        now = context.scheduled_execution_time or datetime.now()
        if event is not None:
            last = datetime.fromtimestamp(event.timestamp, tz=now.tzinfo)
            if now - last < timedelta(days=every_days) - timedelta(hours=1):
                return dg.SkipReason(f"last re-cluster {last:%Y-%m-%d}: next after {every_days} d")
        return dg.RunRequest(
            run_key=f"rolling-recluster-{now:%Y-%m-%d}",
            run_config=recluster_run_config(window_days),
        )

    return rolling_recluster_schedule


@dg.definitions
def monitoring_defs() -> dg.Definitions:
    """Schedules and the drift sensor (intervals from the environment, validated)."""
    every = int(os.environ.get(ENV_RECLUSTER_EVERY, DEFAULT_RECLUSTER_EVERY_DAYS))
    window = int(os.environ.get(ENV_RECLUSTER_WINDOW, DEFAULT_RECLUSTER_WINDOW_DAYS))
    return dg.Definitions(
        schedules=[daily_pipeline_schedule, build_rolling_recluster_schedule(every, window)],
        sensors=[build_drift_sensor()],
    )
