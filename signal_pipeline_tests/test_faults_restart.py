"""Restarting the daemon: the drift sensor's cursor and the schedules resume from the persistent
instance, and no run is requested twice.

Each "daemon process" is a fresh DagsterInstance on the same DAGSTER_HOME and a fresh workspace
(the code location loaded again), driven through Dagster's own daemon iterations
(`execute_sensor_iteration`, `launch_scheduled_runs`) at a frozen time. Runs are queued (a
QueuedRunCoordinator with no queue daemon), so nothing executes; the test counts run keys.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs

from signal_pipeline.reliability.recorder import Outcome, record

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_YAML = """
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
"""
LOG = logging.getLogger("signal_pipeline_tests.daemon")


def workspace_target() -> InProcessTestWorkspaceLoadTarget:
    """The project's code location, loaded in this process."""
    return InProcessTestWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                module_name="signal_pipeline.definitions", working_directory=str(PROJECT_ROOT)
            ),
            location_name="signal_pipeline",
        )
    )


def drift_alarm_metadata() -> dict[str, dg.MetadataValue]:
    """drift_statistics metadata with an alarm the sensor acts on (the keys it reads)."""
    return {
        "model_version": dg.MetadataValue.int(1),
        "as_of_day": dg.MetadataValue.text("2026-02-10"),
        "data_last_day": dg.MetadataValue.text("2026-02-10"),
        "drift_alarm": dg.MetadataValue.json(
            {
                "alarm_start": "2026-02-03",
                "change_point": "2026-02-02",
                "signals": ["mean_dwell_s"],
            }
        ),
    }


def daemon_pass(home: Path, now: datetime, *, first: bool = False) -> None:
    """One daemon "process": a new instance and workspace; one sensor and one schedule pass."""
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        freeze_time(now),
        WorkspaceProcessContext(instance, workspace_target()) as context,
    ):
        if first:
            location = next(
                iter(context.create_request_context().get_code_location_entries().values())
            ).code_location
            assert location is not None
            repository = location.get_repository("__repository__")
            instance.start_schedule(repository.get_schedule("daily_pipeline_schedule"))
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key="drift_statistics",
                    partition="2026-02-10",
                    metadata=drift_alarm_metadata(),
                )
            )
        list(execute_sensor_iteration(context, LOG, None, None))
        list(launch_scheduled_runs(context, LOG, now, {}))


def run_keys(home: Path) -> Counter[str]:
    """How many runs each run key has in the persistent instance."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return Counter(run.tags.get("dagster/run_key", "") for run in instance.get_runs())


def sensor_cursor(home: Path) -> str | None:
    """The drift sensor's stored cursor."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        cursors = [
            s.instigator_data.cursor  # type: ignore[union-attr]
            for s in states
            if s.instigator_name == "cusum_drift_sensor" and s.instigator_data is not None
        ]
    return cursors[0] if cursors else None


def test_restarted_daemon_resumes_without_duplicate_runs(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)

    daemon_pass(home, datetime(2026, 2, 11, 0, 30, tzinfo=UTC), first=True)
    assert run_keys(home) == Counter({"drift-v1-alarm-2026-02-03": 1})
    cursor = sensor_cursor(home)
    assert cursor is not None and '"acted_on_version": 1' in cursor

    # Restart after the 01:00 tick: the schedule fires once, the sensor resumes disarmed.
    daemon_pass(home, datetime(2026, 2, 11, 1, 5, tzinfo=UTC))
    # Restart again the same hour: nothing new.
    daemon_pass(home, datetime(2026, 2, 11, 1, 20, tzinfo=UTC))
    assert run_keys(home) == Counter({"drift-v1-alarm-2026-02-03": 1, "daily-2026-02-10": 1})
    # Next day, another restart: exactly the next day's run.
    daemon_pass(home, datetime(2026, 2, 12, 1, 5, tzinfo=UTC))
    keys = run_keys(home)
    assert keys == Counter(
        {"drift-v1-alarm-2026-02-03": 1, "daily-2026-02-10": 1, "daily-2026-02-11": 1}
    )
    assert sensor_cursor(home) == cursor
    record(
        Outcome(
            "fault",
            "daemon restarted 3 times (sensor cursor + daily schedule on a persistent instance)",
            survived=True,
            outcome="cursor resumed from storage; one run per run key (3 runs, 0 duplicates)",
            examples=4,
        )
    )
