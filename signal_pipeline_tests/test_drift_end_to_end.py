"""End to end on a simulated 1.8× dwell drift: CUSUM alarm → sensor → re-cluster → quiet again.

One scenario (small: 60 sessions a day) played the way a deployment runs it:
the first 14 days land and the first model is fitted on them; the next days land with the daily
job (no refit), which covers 30 stable days and then the drift; the sensor is ticked, its run is
executed, and the last days land against the new model.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from signal_pipeline import db
from signal_pipeline.drift.scenario import DriftScenario, play_drift_scenario, scenario_figures

BASELINE_DAYS = 14
STABLE_DAYS = 30
DRIFT_DAY = BASELINE_DAYS + STABLE_DAYS  # day index 44
MIN_BASELINE_DAYS = 7  # the sensor's default
DAYS = DRIFT_DAY + MIN_BASELINE_DAYS + 5
SESSIONS_PER_DAY = 60
SEED = 5


def play(tmp_path: Path) -> DriftScenario:
    """Play the drift scenario (once: all checks run in one test so that pytest-xdist never
    plays it twice on two workers)."""
    return play_drift_scenario(
        tmp_path,
        seed=SEED,
        sessions_per_day=SESSIONS_PER_DAY,
        baseline_days=BASELINE_DAYS,
        stable_days=STABLE_DAYS,
        post_days=DAYS - DRIFT_DAY,
    )


def day_index(scenario: DriftScenario, text: str) -> int:
    return scenario.index(text)


def check_no_false_alarm_over_30_stable_days(scenario: DriftScenario) -> None:
    with db.open_db(scenario.database, read_only=True) as con:
        stable = con.execute(
            "SELECT count(DISTINCT day), count(*) FILTER (WHERE alarm), "
            "count(*) FILTER (WHERE cusum_pos IS NULL) FROM drift_statistics "
            "WHERE day >= ? AND day < ?",
            [
                scenario.start + timedelta(days=BASELINE_DAYS),
                scenario.start + timedelta(days=DRIFT_DAY),
            ],
        ).fetchone()
    assert stable == (STABLE_DAYS, 0, 0)
    # The metadata's first alarm (since the baseline start) is not before the drift either.
    assert day_index(scenario, scenario.after_drift["drift_alarm"]["alarm_start"]) >= DRIFT_DAY


def check_alarm_within_two_days_of_a_1_8x_dwell_shift(scenario: DriftScenario) -> None:
    alarm = scenario.after_drift["drift_alarm"]
    assert "mean_dwell_s" in alarm["signals"]
    dwell = next(s for s in scenario.after_drift["signal_status"] if s["signal"] == "mean_dwell_s")
    assert DRIFT_DAY <= day_index(scenario, dwell["alarm_start"]) <= DRIFT_DAY + 2
    assert dwell["direction"] == "up"
    # The estimated change point is the drift day itself (± one day).
    assert abs(day_index(scenario, alarm["change_point"]) - DRIFT_DAY) <= 1
    assert alarm["delay_days"] == day_index(scenario, alarm["alarm_start"]) - day_index(
        scenario, alarm["change_point"]
    )
    assert scenario.after_drift["model_version"] == 1


def check_sensor_requests_one_recluster_on_the_post_change_window(scenario: DriftScenario) -> None:
    assert len(scenario.first_tick.run_requests) == 1
    request = scenario.first_tick.run_requests[0]
    alarm = scenario.after_drift["drift_alarm"]
    assert request.run_key == f"drift-v1-alarm-{alarm['alarm_start']}"
    window = (request.run_config or {})["ops"]["cluster_model"]["config"]["window_days"]
    last_landed = DRIFT_DAY + MIN_BASELINE_DAYS - 1
    assert window == last_landed - day_index(scenario, alarm["change_point"]) + 1
    assert window >= MIN_BASELINE_DAYS
    assert json.loads(scenario.first_tick.cursor or "{}")["acted_on_version"] == 1
    assert scenario.second_tick.run_requests == []


def check_recluster_ends_with_a_new_version_fitted_after_change(
    scenario: DriftScenario,
) -> None:
    with db.open_db(scenario.database, read_only=True) as con:
        versions = con.execute(
            "SELECT version, window_start FROM cluster_model_versions ORDER BY version"
        ).fetchall()
        segments_version = con.execute(
            "SELECT DISTINCT cluster_version FROM session_segments"
        ).fetchall()
    assert [v for v, _ in versions] == [1, 2]
    change = date.fromisoformat(scenario.after_drift["drift_alarm"]["change_point"])
    assert versions[1][1] == change
    assert segments_version == [(2,)]


def check_cusum_restarts_from_the_new_baseline_and_stays_quiet(scenario: DriftScenario) -> None:
    after = scenario.after_recluster
    assert after["model_version"] == 2
    assert after["drift_alarm"] == {}
    assert after["baseline_window_start"] == scenario.after_drift["drift_alarm"]["change_point"]
    with db.open_db(scenario.database, read_only=True) as con:
        quiet = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE alarm), max(model_version) "
            "FROM drift_statistics WHERE day > ?",
            [scenario.start + timedelta(days=DRIFT_DAY + MIN_BASELINE_DAYS - 1)],
        ).fetchone()
    assert quiet is not None and quiet[0] > 0 and quiet[1] == 0 and quiet[2] == 2
    assert scenario.third_tick.run_requests == []
    reason = scenario.third_tick.skip_reason
    assert reason is not None and "no CUSUM alarm" in (reason.skip_message or "")


def check_metadata_carries_a_chart_per_signal(scenario: DriftScenario) -> None:
    for signal in scenario.after_recluster["signals"]:
        assert scenario.after_recluster[f"chart_{signal}"].startswith("![CUSUM of")
        assert "data:image/png;base64," in scenario.after_recluster[f"chart_{signal}"]


def check_a_single_partition_rerun_reproduces_the_range_rows(scenario: DriftScenario) -> None:
    def table() -> list[tuple]:
        with db.open_db(scenario.database, read_only=True) as con:
            return con.execute("SELECT * FROM drift_statistics ORDER BY day, signal").fetchall()

    before = table()
    day = (scenario.start + timedelta(days=DAYS - 2)).isoformat()
    result = scenario.definitions.resolve_job_def("daily_partition_job").execute_in_process(
        instance=scenario.instance,
        partition_key=day,
        asset_selection=[dg.AssetKey("drift_statistics")],
    )
    assert result.success
    # Same rows for that day (computed as of that day, not as of the range end), others intact.
    assert table() == before
    assert len(before) == 4 * DAYS


def check_figures_summary(scenario: DriftScenario) -> None:
    figures = scenario_figures(scenario)
    assert figures["detection_delay_days"] is not None
    assert 0 <= figures["detection_delay_days"] <= 2
    assert figures["false_alarm_before_drift"] is False
    assert len(figures["recluster_requests"]) == 1
    assert figures["model_version_after"] == 2
    assert figures["alarm_after_recluster"] is False
    assert figures["requests_after_recluster"] == 0


def test_simulated_drift_end_to_end(tmp_path: Path) -> None:
    scenario = play(tmp_path)
    check_no_false_alarm_over_30_stable_days(scenario)
    check_alarm_within_two_days_of_a_1_8x_dwell_shift(scenario)
    check_sensor_requests_one_recluster_on_the_post_change_window(scenario)
    check_recluster_ends_with_a_new_version_fitted_after_change(scenario)
    check_cusum_restarts_from_the_new_baseline_and_stays_quiet(scenario)
    check_metadata_carries_a_chart_per_signal(scenario)
    check_a_single_partition_rerun_reproduces_the_range_rows(scenario)
    check_figures_summary(scenario)
