"""The CUSUM drift sensor: one re-cluster run per alarm, then disarmed until a new baseline."""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from signal_pipeline.defs.jobs import RECLUSTER_ASSETS

DRIFT_ASSET = dg.AssetKey("drift_statistics")
DEFAULT_COOLDOWN_HOURS = 24.0


@dataclass
class DriftSensorState:
    """The sensor's JSON cursor: which baseline it acted on, and when."""

    acted_on_version: int | None = None
    last_run_key: str | None = None
    last_fired_at: str | None = None

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "DriftSensorState":
        """Parse a cursor (an empty or unreadable cursor starts fresh)."""
        if not cursor:
            return cls()
        try:
            return cls(**json.loads(cursor))
        except (ValueError, TypeError):
            return cls()

    def to_cursor(self) -> str:
        """Serialize for the sensor cursor."""
        return json.dumps(asdict(self), sort_keys=True)


def _metadata_value(metadata: dict[str, Any], key: str) -> Any:
    value = metadata.get(key)
    return getattr(value, "value", value)


def evaluate_drift(
    metadata: dict[str, Any],
    state: DriftSensorState,
    now: datetime,
    cooldown: timedelta,
) -> tuple[dg.RunRequest | None, DriftSensorState, str]:
    """Decide from drift_statistics metadata whether to request a re-cluster.

    Returns the run request (or None), the new state, and the reason in words.
    """
    version = int(_metadata_value(metadata, "model_version") or 0)
    status = _metadata_value(metadata, "signal_status") or []
    alarms = sorted(s["first_alarm_day"] for s in status if s.get("first_alarm_day"))
    if not alarms:
        return None, state, f"no CUSUM alarm against model v{version}"
    if state.acted_on_version is not None and state.acted_on_version >= version:
        return (
            None,
            state,
            (f"alarm already acted on for model v{version}: disarmed until a new baseline"),
        )
    if state.last_fired_at:
        last = datetime.fromisoformat(state.last_fired_at)
        if now - last < cooldown:
            return None, state, f"cooling down until {(last + cooldown).isoformat()}"
    alarming = sorted({s["signal"] for s in status if s.get("first_alarm_day")})
    run_key = f"recluster-baseline-v{version}-alarm-{alarms[0]}"
    request = dg.RunRequest(
        run_key=run_key,
        asset_selection=[dg.AssetKey(a) for a in (*RECLUSTER_ASSETS, "drift_statistics")],
        tags={
            "signal_pipeline/trigger": "cusum_drift",
            "signal_pipeline/signals": ",".join(alarming),
        },
    )
    new_state = DriftSensorState(
        acted_on_version=version, last_run_key=run_key, last_fired_at=now.isoformat()
    )
    return request, new_state, f"drift in {', '.join(alarming)} since {alarms[0]}"


def build_drift_sensor(cooldown_hours: float = DEFAULT_COOLDOWN_HOURS) -> dg.SensorDefinition:
    """The sensor (running by default; stop it in the UI to silence automatic re-clusters)."""

    @dg.sensor(
        name="cusum_drift_sensor",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[dg.AssetKey(a) for a in (*RECLUSTER_ASSETS, "drift_statistics")],
        description=(
            "Reads drift_statistics' latest materialization metadata (never DuckDB). When a "
            "signal's CUSUM crosses h, requests one re-cluster run keyed by baseline version and "
            "alarm start, then stays disarmed until a new model baseline exists, plus a cooldown "
            f"of {cooldown_hours:g} h. Running by default."
        ),
    )
    def cusum_drift_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        event = context.instance.get_latest_materialization_event(DRIFT_ASSET)
        if event is None or event.asset_materialization is None:
            return dg.SkipReason("drift_statistics has not been materialized yet")
        state = DriftSensorState.from_cursor(context.cursor)
        request, new_state, reason = evaluate_drift(
            dict(event.asset_materialization.metadata),
            state,
            datetime.now(UTC),
            timedelta(hours=cooldown_hours),
        )
        if request is None:
            return dg.SkipReason(reason)
        context.log.info("requesting re-cluster: %s", reason)
        return dg.SensorResult(run_requests=[request], cursor=new_state.to_cursor())

    return cusum_drift_sensor
