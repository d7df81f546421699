"""The drift sensor: ticks over reported drift_statistics metadata, with the JSON cursor."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from signal_pipeline.definitions import defs
from signal_pipeline.defs.monitoring.drift_sensor import (
    DEFAULT_SENSOR_STATUS,
    RECLUSTER_SELECTION,
    build_drift_sensor,
)
from signal_pipeline.drift.sensor_policy import DriftReading, DriftSensorState, decide

DRIFT = dg.AssetKey("drift_statistics")


def drift_metadata(
    version: int, as_of: str, alarm_start: str | None = None, change_point: str | None = None
) -> dict[str, Any]:
    """Metadata shaped like the drift_statistics asset's (only the keys the sensor reads)."""
    alarm = (
        {"alarm_start": alarm_start, "change_point": change_point, "signals": ["mean_dwell_s"]}
        if alarm_start
        else {}
    )
    return {
        "model_version": dg.MetadataValue.int(version),
        "as_of_day": dg.MetadataValue.text(as_of),
        "data_last_day": dg.MetadataValue.text(as_of),
        "drift_alarm": dg.MetadataValue.json(alarm),
    }


def report(instance: dg.DagsterInstance, metadata: dict[str, Any]) -> None:
    """Record a drift_statistics materialization with ``metadata`` (no run, no DuckDB)."""
    day = metadata["as_of_day"].value
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=DRIFT, partition=day, metadata=metadata)
    )


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult:
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def test_not_materialized_yet_means_no_run(instance: dg.DagsterInstance) -> None:
    result = tick(build_drift_sensor(), instance, None)
    assert result.run_requests == []
    assert "not been materialized" in (result.skip_reason.skip_message or "")  # type: ignore[union-attr]


def test_no_alarm_means_no_run(instance: dg.DagsterInstance) -> None:
    report(instance, drift_metadata(1, "2026-02-01"))
    result = tick(build_drift_sensor(), instance, None)
    assert result.run_requests == []
    assert json.loads(result.cursor or "{}")["acted_on_version"] is None


def test_alarm_fires_once_and_rearms_on_a_new_baseline(instance: dg.DagsterInstance) -> None:
    sensor = build_drift_sensor(cooldown_hours=0, min_baseline_days=7)
    report(instance, drift_metadata(1, "2026-02-10", "2026-02-03", "2026-02-02"))
    first = tick(sensor, instance, None)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.run_key == "drift-v1-alarm-2026-02-03"
    assert request.partition_key == "2026-02-10"
    assert set(request.asset_selection or []) == set(RECLUSTER_SELECTION)
    # Fit window: 2026-02-02 .. 2026-02-10, the days after the estimated change.
    assert request.run_config == {"ops": {"cluster_model": {"config": {"window_days": 9}}}}

    # Second tick on the same metadata: disarmed.
    second = tick(sensor, instance, first.cursor)
    assert second.run_requests == []
    assert "already acted on" in (second.skip_reason.skip_message or "")  # type: ignore[union-attr]
    # A restarted daemon builds a new sensor but resumes from the stored cursor: no re-fire.
    restarted = tick(build_drift_sensor(cooldown_hours=0), instance, second.cursor)
    assert restarted.run_requests == []

    # The re-cluster wrote v2; a later drift against it re-arms the sensor (new run key).
    report(instance, drift_metadata(2, "2026-02-11"))
    assert tick(sensor, instance, restarted.cursor).run_requests == []
    report(instance, drift_metadata(2, "2026-03-05", "2026-02-26", "2026-02-25"))
    rearmed = tick(sensor, instance, restarted.cursor)
    assert [r.run_key for r in rearmed.run_requests] == ["drift-v2-alarm-2026-02-26"]
    assert json.loads(rearmed.cursor or "{}")["acted_on_version"] == 2


def test_waits_for_enough_days_after_the_change(instance: dg.DagsterInstance) -> None:
    sensor = build_drift_sensor(min_baseline_days=7)
    report(instance, drift_metadata(1, "2026-02-04", "2026-02-03", "2026-02-02"))
    waiting = tick(sensor, instance, None)
    assert waiting.run_requests == []
    assert "waiting for 7 days" in (waiting.skip_reason.skip_message or "")  # type: ignore[union-attr]
    report(instance, drift_metadata(1, "2026-02-08", "2026-02-03", "2026-02-02"))
    assert [r.run_key for r in tick(sensor, instance, waiting.cursor).run_requests] == [
        "drift-v1-alarm-2026-02-03"
    ]


def test_cooldown_holds_a_new_baseline_back() -> None:
    fired = datetime(2026, 2, 10, 12, tzinfo=UTC)
    state = DriftSensorState(acted_on_version=1, last_run_key="k", last_fired_at=fired.isoformat())
    reading = DriftReading(
        model_version=2,
        as_of_day=date(2026, 2, 20),
        data_last_day=date(2026, 2, 20),
        alarm_start=date(2026, 2, 12),
        change_point=date(2026, 2, 11),
        signals=("cta_ctr",),
    )
    cooldown = timedelta(hours=48)
    held, same, reason = decide(reading, state, fired + timedelta(hours=47), cooldown=cooldown)
    assert held is None and same == state and "cooling down" in reason
    request, new_state, _ = decide(reading, state, fired + timedelta(hours=49), cooldown=cooldown)
    assert request is not None and request.run_key == "drift-v2-alarm-2026-02-12"
    assert new_state.acted_on_version == 2


def test_unreadable_cursor_starts_fresh() -> None:
    assert DriftSensorState.from_cursor("not json") == DriftSensorState()
    assert DriftSensorState.from_cursor('{"acted_on_version": 3, "extra": 1}').acted_on_version == 3


def test_default_status_is_running_and_documented() -> None:
    sensor = defs().resolve_sensor_def("cusum_drift_sensor")
    assert DEFAULT_SENSOR_STATUS == dg.DefaultSensorStatus.RUNNING
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "Default status: running" in (sensor.description or "")
    stopped = build_drift_sensor(default_status=dg.DefaultSensorStatus.STOPPED)
    assert "Default status: stopped" in (stopped.description or "")


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        build_drift_sensor(cooldown_hours=-1)
    with pytest.raises(ValueError):
        build_drift_sensor(min_baseline_days=1)
