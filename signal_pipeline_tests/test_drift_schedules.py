"""Schedules: the daily partition run and the rolling re-cluster (cron, partition, window)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from signal_pipeline.definitions import defs
from signal_pipeline.defs.monitoring.schedules import (
    ENV_RECLUSTER_EVERY,
    ENV_RECLUSTER_WINDOW,
    build_rolling_recluster_schedule,
    daily_pipeline_schedule,
    monitoring_defs,
)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary instance with an instance reference (what schedule contexts need)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


def evaluate(
    schedule: dg.ScheduleDefinition, when: datetime, instance: dg.DagsterInstance | None = None
) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_schedule_context(
        instance=instance or dg.DagsterInstance.ephemeral(), scheduled_execution_time=when
    )
    result = schedule(context)
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


def test_daily_schedule_lands_yesterday_at_0100_utc() -> None:
    assert daily_pipeline_schedule.cron_schedule == "0 1 * * *"
    assert daily_pipeline_schedule.execution_timezone == "UTC"
    assert daily_pipeline_schedule.job_name == "daily_partition_job"
    assert daily_pipeline_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    request = evaluate(daily_pipeline_schedule, datetime(2026, 3, 5, 1, 0, tzinfo=UTC))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-03-04"
    assert request.run_key == "daily-2026-03-04"
    # Month and year boundaries.
    january = evaluate(daily_pipeline_schedule, datetime(2026, 1, 1, 1, 0, tzinfo=UTC))
    assert isinstance(january, dg.RunRequest) and january.partition_key == "2025-12-31"


def test_daily_job_processes_everything_but_does_not_refit() -> None:
    job = defs().resolve_job_def("daily_partition_job")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert "cluster_model" not in keys
    assert {"staged_events", "raw_events", "session_segments", "drift_statistics"} <= keys
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)


def test_rolling_recluster_defaults_every_7_days_over_14(instance: dg.DagsterInstance) -> None:
    schedule = build_rolling_recluster_schedule()
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.execution_timezone == "UTC"
    now = datetime.now(UTC)
    first = evaluate(schedule, now, instance)  # no model yet: fit one
    assert isinstance(first, dg.RunRequest)
    assert first.run_config == {"ops": {"cluster_model": {"config": {"window_days": 14}}}}
    assert first.partition_key == (now.date() - timedelta(days=1)).isoformat()

    instance.report_runless_asset_event(dg.AssetMaterialization("cluster_model"))
    for days in range(1, 7):
        skipped = evaluate(schedule, now + timedelta(days=days), instance)
        assert isinstance(skipped, dg.SkipReason), days
    due = evaluate(schedule, now + timedelta(days=7), instance)
    assert isinstance(due, dg.RunRequest)
    assert due.run_key == f"rolling-recluster-{(now + timedelta(days=7)):%Y-%m-%d}"


def test_rolling_recluster_is_configurable_within_7_to_14_days(
    instance: dg.DagsterInstance,
) -> None:
    schedule = build_rolling_recluster_schedule(every_days=10, window_days=21)
    instance.report_runless_asset_event(dg.AssetMaterialization("cluster_model"))
    now = datetime.now(UTC)
    assert isinstance(evaluate(schedule, now + timedelta(days=9), instance), dg.SkipReason)
    request = evaluate(schedule, now + timedelta(days=10), instance)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"]["cluster_model"]["config"]["window_days"] == 21
    for every in (6, 15):
        with pytest.raises(ValueError):
            build_rolling_recluster_schedule(every_days=every)
    with pytest.raises(ValueError):
        build_rolling_recluster_schedule(window_days=1)


def test_environment_sets_the_rolling_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_RECLUSTER_EVERY, "14")
    monkeypatch.setenv(ENV_RECLUSTER_WINDOW, "28")
    schedule = monitoring_defs().resolve_schedule_def("rolling_recluster_schedule")
    assert "14 or more days old" in (schedule.description or "")
    assert "last 28 days" in (schedule.description or "")
