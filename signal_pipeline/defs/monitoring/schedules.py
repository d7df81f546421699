"""Schedules: land and process yesterday's partition daily; re-cluster on a rolling window.

Both are stopped by default (turn them on in the UI, Automation tab, when the deployment reads
live event files). The drift sensor is running by default (see drift_sensor.py).

- ``daily_pipeline_schedule`` (01:00 UTC): ``daily_partition_job`` for yesterday's partition:
  ingest the source files, land yesterday into raw_events, rebuild sessions, features, segment
  assignments, profiles and yesterday's drift statistics, all with the *current* cluster model.
  It does not refit the model: a daily refit would fold each day into the baseline and the
  CUSUM could never see a drift.
- ``rolling_recluster_schedule`` (checks daily at 03:00 UTC): when the last cluster_model
  materialization is ``every_days`` (7–14, default 7) days old or older, or there is none, refits
  on the last ``window_days`` (default 14) days, re-assigns, re-profiles and refreshes yesterday's
  drift statistics. Any re-cluster (also a drift-triggered one) restarts the period.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from signal_pipeline.defs.jobs import RECLUSTER_ASSETS
from signal_pipeline.defs.monitoring.drift_sensor import build_drift_sensor
from signal_pipeline.drift.sensor_policy import DEFAULT_COOLDOWN_HOURS, DEFAULT_MIN_BASELINE_DAYS

ENV_RECLUSTER_EVERY = "SIGNAL_PIPELINE_RECLUSTER_EVERY_DAYS"
ENV_RECLUSTER_WINDOW = "SIGNAL_PIPELINE_RECLUSTER_WINDOW_DAYS"
ENV_DRIFT_COOLDOWN = "SIGNAL_PIPELINE_DRIFT_COOLDOWN_HOURS"
ENV_DRIFT_MIN_BASELINE = "SIGNAL_PIPELINE_DRIFT_MIN_BASELINE_DAYS"
DEFAULT_RECLUSTER_EVERY_DAYS = 7
DEFAULT_RECLUSTER_WINDOW_DAYS = 14
DAILY_CRON = "0 1 * * *"
RECLUSTER_CRON = "0 3 * * *"

daily_partition_job = dg.define_asset_job(
    "daily_partition_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("cluster_model"),
    description=(
        "Ingest, land the chosen day into raw_events and rebuild everything downstream with the "
        "current cluster model (no refit: re-clusters come from the rolling schedule and the "
        "drift sensor)."
    ),
)

recluster_selection = dg.AssetSelection.assets(*RECLUSTER_ASSETS, "drift_statistics")


def yesterday(scheduled: datetime) -> str:
    """The partition key of the UTC day before ``scheduled``."""
    return (scheduled.astimezone(UTC).date() - timedelta(days=1)).isoformat()


@dg.schedule(
    name="daily_pipeline_schedule",
    cron_schedule=DAILY_CRON,
    job=daily_partition_job,
    execution_timezone="UTC",
    description=(
        "Every day at 01:00 UTC: ingest, land yesterday's partition and process it with the "
        "current cluster model (drift statistics included). Stopped by default."
    ),
)
def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday's partition, keyed by day (one run per day)."""
    day = yesterday(context.scheduled_execution_time or datetime.now(UTC))
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day)


def recluster_run_config(window_days: int) -> dict:
    """Run config fitting the cluster model on the last ``window_days`` days."""
    return {"ops": {"cluster_model": {"config": {"window_days": window_days}}}}


def build_rolling_recluster_schedule(
    every_days: int = DEFAULT_RECLUSTER_EVERY_DAYS,
    window_days: int = DEFAULT_RECLUSTER_WINDOW_DAYS,
) -> dg.ScheduleDefinition:
    """Re-cluster every ``every_days`` days (7–14) over the last ``window_days`` days (≥ 2)."""
    if not 7 <= every_days <= 14:
        raise ValueError(f"{ENV_RECLUSTER_EVERY} must be between 7 and 14, got {every_days}")
    if window_days < 2:
        raise ValueError(f"{ENV_RECLUSTER_WINDOW} must be at least 2, got {window_days}")

    @dg.schedule(
        name="rolling_recluster_schedule",
        cron_schedule=RECLUSTER_CRON,
        target=recluster_selection,
        execution_timezone="UTC",
        description=(
            f"Checks daily at 03:00 UTC; when the last cluster_model materialization is "
            f"{every_days} or more days old (or there is none), fits a new model on the last "
            f"{window_days} days, re-assigns, re-profiles and refreshes yesterday's drift "
            "statistics. Stopped by default."
        ),
    )
    def rolling_recluster_schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        """Request a rolling re-cluster when the current model is old enough."""
        now = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC)
        event = context.instance.get_latest_materialization_event(dg.AssetKey("cluster_model"))
        if event is not None:
            last = datetime.fromtimestamp(event.timestamp, tz=UTC)
            # An hour of slack: a re-cluster that ran at 03:05 is due again at 03:00 N days on.
            if now - last < timedelta(days=every_days) - timedelta(hours=1):
                due = (last + timedelta(days=every_days)).date()
                return dg.SkipReason(
                    f"last re-cluster {last:%Y-%m-%d %H:%M} UTC; next due on {due}"
                )
        return dg.RunRequest(
            run_key=f"rolling-recluster-{now:%Y-%m-%d}",
            partition_key=yesterday(now),
            run_config=recluster_run_config(window_days),
            tags={"signal_pipeline/trigger": "rolling_recluster"},
        )

    return rolling_recluster_schedule


@dg.definitions
def monitoring_defs() -> dg.Definitions:
    """The daily job and schedule, the rolling re-cluster schedule and the drift sensor.

    Settings from the environment (read here, when definitions load, and validated):
    SIGNAL_PIPELINE_RECLUSTER_EVERY_DAYS (7–14, default 7), SIGNAL_PIPELINE_RECLUSTER_WINDOW_DAYS
    (default 14), SIGNAL_PIPELINE_DRIFT_COOLDOWN_HOURS (default 24) and
    SIGNAL_PIPELINE_DRIFT_MIN_BASELINE_DAYS (default 7).
    """
    every = int(os.environ.get(ENV_RECLUSTER_EVERY, DEFAULT_RECLUSTER_EVERY_DAYS))
    window = int(os.environ.get(ENV_RECLUSTER_WINDOW, DEFAULT_RECLUSTER_WINDOW_DAYS))
    cooldown = float(os.environ.get(ENV_DRIFT_COOLDOWN, DEFAULT_COOLDOWN_HOURS))
    min_days = int(os.environ.get(ENV_DRIFT_MIN_BASELINE, DEFAULT_MIN_BASELINE_DAYS))
    return dg.Definitions(
        jobs=[daily_partition_job],
        schedules=[daily_pipeline_schedule, build_rolling_recluster_schedule(every, window)],
        sensors=[build_drift_sensor(cooldown, min_days)],
    )
