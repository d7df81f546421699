"""The CUSUM drift sensor: one re-cluster run per alarm, then disarmed until a new baseline.

The decision itself is :func:`signal_pipeline.drift.sensor_policy.decide`; this module only reads
drift_statistics' latest materialization metadata from the Dagster instance (never DuckDB),
turns a decision into a run request and keeps the state in the sensor's JSON cursor.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from signal_pipeline.defs.jobs import RECLUSTER_ASSETS
from signal_pipeline.drift.sensor_policy import (
    DEFAULT_COOLDOWN_HOURS,
    DEFAULT_MIN_BASELINE_DAYS,
    DriftReading,
    DriftSensorState,
    RefitRequest,
    decide,
)

DRIFT_ASSET = dg.AssetKey("drift_statistics")
RECLUSTER_SELECTION: tuple[dg.AssetKey, ...] = tuple(
    dg.AssetKey(name) for name in (*RECLUSTER_ASSETS, "drift_statistics")
)
DEFAULT_SENSOR_STATUS = dg.DefaultSensorStatus.RUNNING
"""Running by default: segments follow drift without anyone watching. Stop it in the UI (or
build it with another ``default_status``) to silence automatic re-clusters."""


def refit_run_request(request: RefitRequest) -> dg.RunRequest:
    """The re-cluster run: cluster model on the post-change window, segments, profiles, and the
    drift statistics of the newest day (so the chart restarts from the new baseline)."""
    return dg.RunRequest(
        run_key=request.run_key,
        asset_selection=list(RECLUSTER_SELECTION),
        partition_key=request.partition_key,
        run_config={"ops": {"cluster_model": {"config": {"window_days": request.window_days}}}},
        tags={
            "signal_pipeline/trigger": "cusum_drift",
            "signal_pipeline/signals": ",".join(request.signals),
            "signal_pipeline/alarm_start": request.alarm_start,
            "signal_pipeline/change_point": request.change_point,
        },
    )


def build_drift_sensor(
    cooldown_hours: float = DEFAULT_COOLDOWN_HOURS,
    min_baseline_days: int = DEFAULT_MIN_BASELINE_DAYS,
    default_status: dg.DefaultSensorStatus = DEFAULT_SENSOR_STATUS,
) -> dg.SensorDefinition:
    """The ``cusum_drift_sensor`` with its cooldown and the fewest post-change days to refit on."""
    if cooldown_hours < 0:
        raise ValueError(f"cooldown_hours must be >= 0, got {cooldown_hours}")
    if min_baseline_days < 2:
        raise ValueError(
            f"min_baseline_days must be >= 2 (a σ needs two days), got {min_baseline_days}"
        )
    status_word = "running" if default_status == dg.DefaultSensorStatus.RUNNING else "stopped"

    @dg.sensor(
        name="cusum_drift_sensor",
        minimum_interval_seconds=300,
        default_status=default_status,
        asset_selection=list(RECLUSTER_SELECTION),
        description=(
            "Reads drift_statistics' latest materialization metadata (never DuckDB). When a "
            "signal's CUSUM crosses h, requests one re-cluster run (run key: baseline version + "
            f"alarm start) fitted on the days since the estimated change point, once at least "
            f"{min_baseline_days} such days exist; then stays disarmed until a model with a new "
            f"baseline exists, plus a cooldown of {cooldown_hours:g} h. State in the JSON cursor. "
            f"Default status: {status_word}."
        ),
    )
    def cusum_drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Evaluate the latest drift_statistics metadata against the cursor state."""
        state = DriftSensorState.from_cursor(context.cursor)
        event = context.instance.get_latest_materialization_event(DRIFT_ASSET)
        if event is None or event.asset_materialization is None:
            return dg.SensorResult(
                skip_reason="drift_statistics has not been materialized yet",
                cursor=state.to_cursor(),
            )
        reading = DriftReading.from_metadata(dict(event.asset_materialization.metadata))
        request, new_state, reason = decide(
            reading,
            state,
            datetime.now(UTC),
            cooldown=timedelta(hours=cooldown_hours),
            min_baseline_days=min_baseline_days,
        )
        if request is None:
            return dg.SensorResult(skip_reason=reason, cursor=new_state.to_cursor())
        context.log.info("requesting re-cluster: %s", reason)
        return dg.SensorResult(
            run_requests=[refit_run_request(request)], cursor=new_state.to_cursor()
        )

    return cusum_drift_sensor
