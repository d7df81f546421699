"""A simulated drift played through Dagster the way a deployment runs it, for tests and figures.

1. Simulate ``baseline_days + stable_days + post_days`` days with human dwell × ``drift_factor``
   from day ``baseline_days + stable_days``.
2. ``daily_pipeline_job`` over the first ``baseline_days`` days: ingest, land, fit model v1.
3. ``daily_partition_job`` (no refit) over the stable days and the first ``min_baseline_days``
   days of the drift, in one range run.
4. Tick ``cusum_drift_sensor``, execute its run request (``recluster_job``), tick again.
5. ``daily_partition_job`` over the remaining days, tick once more.

Run ``python -m signal_pipeline.drift.scenario OUT --seeds 1 2 3`` for the figures.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from signal_pipeline.drift.sensor_policy import DEFAULT_MIN_BASELINE_DAYS
from signal_pipeline.pipeline import load_definitions
from signal_pipeline.simulate import simulate


@dataclass
class DriftScenario:
    """What a played scenario produced (metadata as plain values, sensor results, handles)."""

    database: Path
    start: date
    drift_day: int
    days: int
    last_before_refit: int
    definitions: dg.Definitions
    instance: dg.DagsterInstance
    after_drift: dict[str, Any]
    first_tick: dg.SensorResult
    second_tick: dg.SensorResult
    after_recluster: dict[str, Any]
    third_tick: dg.SensorResult

    def day(self, index: int) -> date:
        """The date of day ``index`` of the simulation."""
        return self.start + timedelta(days=index)

    def index(self, text: str) -> int:
        """The day index of an ISO date."""
        return (date.fromisoformat(text) - self.start).days


def latest_drift_metadata(instance: dg.DagsterInstance) -> dict[str, Any]:
    """The latest drift_statistics materialization's metadata, as plain values."""
    event = instance.get_latest_materialization_event(dg.AssetKey("drift_statistics"))
    if event is None or event.asset_materialization is None:
        raise RuntimeError("drift_statistics was not materialized")
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def run_days(
    definitions: dg.Definitions, job: str, instance: dg.DagsterInstance, first: str, last: str
) -> None:
    """One run of ``job`` over the partition range first..last (like `signal-pipeline run`)."""
    result = definitions.resolve_job_def(job).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=True,
    )
    if not result.success:
        raise RuntimeError(f"{job} failed for {first}..{last}")


def _tick(
    definitions: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult:
    sensor = definitions.resolve_sensor_def("cusum_drift_sensor")
    result = sensor(
        dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
    )
    if not isinstance(result, dg.SensorResult):
        raise TypeError(f"unexpected sensor result {result!r}")
    return result


def play_drift_scenario(
    out: Path,
    *,
    seed: int,
    sessions_per_day: int = 60,
    baseline_days: int = 14,
    stable_days: int = 30,
    post_days: int = DEFAULT_MIN_BASELINE_DAYS + 5,
    drift_factor: float = 1.8,
    min_baseline_days: int = DEFAULT_MIN_BASELINE_DAYS,
) -> DriftScenario:
    """Play the scenario of the module docstring in ``out`` (a fresh folder)."""
    drift_day = baseline_days + stable_days
    days = drift_day + post_days
    summary = simulate(
        out,
        sessions=sessions_per_day * days,
        days=days,
        seed=seed,
        drift_day=drift_day,
        drift_factor=drift_factor,
    )
    start = date.fromisoformat(summary.start)

    def iso(index: int) -> str:
        return (start + timedelta(days=index)).isoformat()

    events = [str(out / "events.jsonl")]
    definitions = load_definitions(out / "signal.duckdb", events, out / "models")
    instance = dg.DagsterInstance.ephemeral()
    daily = "daily_partition_job"
    run_days(definitions, "daily_pipeline_job", instance, iso(0), iso(baseline_days - 1))
    last_before_refit = drift_day + min_baseline_days - 1
    run_days(definitions, daily, instance, iso(baseline_days), iso(last_before_refit))
    after_drift = latest_drift_metadata(instance)
    first_tick = _tick(definitions, instance, None)
    for request in first_tick.run_requests:
        recluster = definitions.resolve_job_def("recluster_job").execute_in_process(
            instance=instance,
            run_config=request.run_config,
            partition_key=request.partition_key,
            tags=request.tags,
        )
        if not recluster.success:
            raise RuntimeError("drift-triggered re-cluster failed")
    second_tick = _tick(definitions, instance, first_tick.cursor)
    run_days(definitions, daily, instance, iso(last_before_refit + 1), iso(days - 1))
    after_recluster = latest_drift_metadata(instance)
    third_tick = _tick(definitions, instance, second_tick.cursor)
    return DriftScenario(
        database=out / "signal.duckdb",
        start=start,
        drift_day=drift_day,
        days=days,
        last_before_refit=last_before_refit,
        definitions=definitions,
        instance=instance,
        after_drift=after_drift,
        first_tick=first_tick,
        second_tick=second_tick,
        after_recluster=after_recluster,
        third_tick=third_tick,
    )


def scenario_figures(scenario: DriftScenario) -> dict[str, Any]:
    """Detection delay, false alarms before the drift, re-cluster and quiet-after figures."""
    alarm = scenario.after_drift.get("drift_alarm") or {}
    start = alarm.get("alarm_start")
    after = scenario.after_recluster.get("drift_alarm") or {}
    return {
        "alarm_day": scenario.index(start) if start else None,
        "drift_day": scenario.drift_day,
        "detection_delay_days": scenario.index(start) - scenario.drift_day if start else None,
        "false_alarm_before_drift": bool(start) and scenario.index(start) < scenario.drift_day,
        "change_point_error_days": (
            scenario.index(alarm["change_point"]) - scenario.drift_day if start else None
        ),
        "signals": alarm.get("signals", []),
        "recluster_requests": [r.run_key for r in scenario.first_tick.run_requests],
        "model_version_after": scenario.after_recluster.get("model_version"),
        "alarm_after_recluster": bool(after),
        "requests_after_recluster": len(scenario.second_tick.run_requests)
        + len(scenario.third_tick.run_requests),
    }


def main() -> None:
    """Print the figures of one scenario per seed as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sessions-per-day", type=int, default=60)
    args = parser.parse_args()
    for seed in args.seeds:
        folder = args.out / f"seed_{seed}"
        folder.mkdir(parents=True, exist_ok=False)
        scenario = play_drift_scenario(folder, seed=seed, sessions_per_day=args.sessions_per_day)
        figures = scenario_figures(scenario)
        print(json.dumps({"seed": seed, "sessions_per_day": args.sessions_per_day, **figures}))


if __name__ == "__main__":
    main()
