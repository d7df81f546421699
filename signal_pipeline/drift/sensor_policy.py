"""When the drift sensor asks for a re-cluster: a pure decision over drift_statistics metadata.

The policy, in order:

1. No alarm in the latest drift_statistics metadata → nothing.
2. An alarm against a model version the sensor already acted on (or an older one) → nothing:
   the sensor is disarmed until a model with a new baseline exists.
3. Less than ``cooldown`` since the last request → nothing (also after a new baseline).
4. Fewer than ``min_baseline_days`` days of data since the alarm's estimated change point →
   wait: the re-cluster fits on the days after the change point, and its baseline (mean and σ
   of the daily values) needs enough days to be a usable reference.
5. Otherwise one request, keyed ``drift-v<baseline version>-alarm-<alarm start>``, that fits the
   model on the days from the estimated change point to the last day with data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

DEFAULT_COOLDOWN_HOURS = 24.0
DEFAULT_MIN_BASELINE_DAYS = 7


@dataclass
class DriftSensorState:
    """The sensor's JSON cursor: the model version it acted on, with which run key and when."""

    acted_on_version: int | None = None
    last_run_key: str | None = None
    last_fired_at: str | None = None

    @classmethod
    def from_cursor(cls, cursor: str | None) -> DriftSensorState:
        """Parse a cursor (an empty or unreadable cursor starts fresh)."""
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(
                **{k: data.get(k) for k in ("acted_on_version", "last_run_key", "last_fired_at")}
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def to_cursor(self) -> str:
        """Serialize for the sensor cursor."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class DriftReading:
    """What the sensor needs from one drift_statistics materialization's metadata."""

    model_version: int
    as_of_day: date | None
    data_last_day: date | None
    alarm_start: date | None
    change_point: date | None
    signals: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> DriftReading:
        """Read the keys written by the drift_statistics asset (MetadataValue or raw values)."""

        def value(key: str) -> Any:
            raw = metadata.get(key)
            return getattr(raw, "value", raw)

        def day(text: Any) -> date | None:
            return date.fromisoformat(str(text)) if text else None

        alarm = value("drift_alarm") or {}
        return cls(
            model_version=int(value("model_version") or 0),
            as_of_day=day(value("as_of_day")),
            data_last_day=day(value("data_last_day")) or day(value("as_of_day")),
            alarm_start=day(alarm.get("alarm_start")),
            change_point=day(alarm.get("change_point")),
            signals=tuple(alarm.get("signals") or ()),
        )


@dataclass(frozen=True)
class RefitRequest:
    """A re-cluster to request: its run key, fit window (days) and the partition to refresh."""

    run_key: str
    window_days: int
    partition_key: str
    signals: tuple[str, ...]
    alarm_start: str
    change_point: str


def decide(
    reading: DriftReading,
    state: DriftSensorState,
    now: datetime,
    *,
    cooldown: timedelta = timedelta(hours=DEFAULT_COOLDOWN_HOURS),
    min_baseline_days: int = DEFAULT_MIN_BASELINE_DAYS,
) -> tuple[RefitRequest | None, DriftSensorState, str]:
    """Apply the policy of this module: (request or None, new state, the reason in words)."""
    version = reading.model_version
    if reading.alarm_start is None or reading.change_point is None:
        return None, state, f"no CUSUM alarm against model v{version}"
    if state.acted_on_version is not None and version <= state.acted_on_version:
        return (
            None,
            state,
            f"alarm since {reading.alarm_start} already acted on (model v{state.acted_on_version}"
            f", run {state.last_run_key}): disarmed until a model with a new baseline exists",
        )
    if state.last_fired_at:
        ready_at = datetime.fromisoformat(state.last_fired_at) + cooldown
        if now < ready_at:
            return None, state, f"new baseline v{version}, but cooling down until {ready_at}"
    last_day = reading.data_last_day or reading.as_of_day or reading.alarm_start
    window_days = (last_day - reading.change_point).days + 1
    if window_days < min_baseline_days:
        return (
            None,
            state,
            f"alarm since {reading.alarm_start} (change ≈ {reading.change_point}); waiting for "
            f"{min_baseline_days} days after the change to fit a new baseline (have {window_days})",
        )
    run_key = f"drift-v{version}-alarm-{reading.alarm_start}"
    request = RefitRequest(
        run_key=run_key,
        window_days=window_days,
        partition_key=str(last_day),
        signals=reading.signals,
        alarm_start=str(reading.alarm_start),
        change_point=str(reading.change_point),
    )
    new_state = DriftSensorState(
        acted_on_version=version, last_run_key=run_key, last_fired_at=now.isoformat()
    )
    return (
        request,
        new_state,
        f"drift in {', '.join(reading.signals)} since {reading.alarm_start}: re-cluster on the "
        f"{window_days} days from {reading.change_point}",
    )
