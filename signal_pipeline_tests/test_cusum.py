"""Two-sided tabular CUSUM: hand-computed values, run lengths and detection of a shift."""

from __future__ import annotations

import numpy as np
import pytest

from signal_pipeline.drift.cusum import average_run_length, estimated_change_index, tabular_cusum


def test_values_computed_by_hand():
    # mu = 10, sigma = 2 -> z = [0, 2, 3, -1, -4, -4]; k = 0.5, h = 3.
    result = tabular_cusum([10, 14, 16, 8, 2, 2], mean=10, std=2, k=0.5, h=3)
    assert np.allclose(result.z, [0, 2, 3, -1, -4, -4])
    # C+ : 0, 1.5, 4.0, 2.5, 0, 0
    assert np.allclose(result.cusum_pos, [0, 1.5, 4.0, 2.5, 0, 0])
    # C- : 0, 0, 0, 0.5, 4.0, 7.5
    assert np.allclose(result.cusum_neg, [0, 0, 0, 0.5, 4.0, 7.5])
    assert result.alarms.tolist() == [False, False, True, False, True, True]
    assert result.first_alarm == 2
    assert result.alarm_indices.tolist() == [2, 4, 5]
    assert result.message is None


def test_reset_after_alarm_restarts_both_sums():
    result = tabular_cusum(
        [10, 14, 16, 8, 2, 2], mean=10, std=2, k=0.5, h=3, reset_after_alarm=True
    )
    # After the alarm at t=2 both sums restart: C+_3 = max(0, 0 - 1 - 0.5) = 0,
    # C-_3 = 0.5, C-_4 = 4.0 (alarm, reset), C-_5 = 3.5 (alarm).
    assert np.allclose(result.cusum_pos, [0, 1.5, 4.0, 0, 0, 0])
    assert np.allclose(result.cusum_neg, [0, 0, 0, 0.5, 4.0, 3.5])
    assert result.alarm_indices.tolist() == [2, 4, 5]


def test_alarm_needs_to_exceed_h():
    # z = 5.5 -> C+ = 5.0 exactly: not an alarm (strictly greater than h).
    assert tabular_cusum([5.5], mean=0, std=1).first_alarm is None
    assert tabular_cusum([5.6], mean=0, std=1).first_alarm == 0


def test_missing_observation_carries_the_sums():
    result = tabular_cusum([2.0, np.nan, 2.0], mean=0, std=1, k=0.5, h=5)
    assert np.allclose(result.cusum_pos, [1.5, 1.5, 3.0])
    assert not result.alarms.any()


def test_initial_state_continues_a_chart():
    result = tabular_cusum([1.0], mean=0, std=1, initial_pos=4.8)
    assert result.cusum_pos[0] == pytest.approx(5.3)
    assert result.first_alarm == 0


@pytest.mark.parametrize("std", [0.0, -1.0, float("nan"), float("inf")])
def test_degenerate_sigma_gives_a_message_not_a_division(std):
    result = tabular_cusum([1.0, 2.0, 3.0], mean=1.0, std=std)
    assert result.first_alarm is None
    assert not result.alarms.any()
    assert np.isnan(result.cusum_pos).all()
    assert "std" in result.message


def test_in_control_arl_matches_the_textbook_value():
    # Two-sided CUSUM, k = 0.5, h = 5: ARL0 ~ 465 (Montgomery, Table 9.3).
    estimate = average_run_length(0.5, 5.0, n_runs=3_000, max_len=8_000, seed=1)
    assert estimate.censored_runs == 0
    assert abs(estimate.arl - 465) < 4 * estimate.standard_error + 10


def test_out_of_control_arl_is_short():
    # One-sigma shift: ARL1 ~ 10.4 for k = 0.5, h = 5.
    estimate = average_run_length(0.5, 5.0, n_runs=2_000, max_len=500, seed=2, shift=1.0)
    assert 9.0 < estimate.arl < 12.0


@pytest.mark.parametrize("seed", range(5))
def test_a_1_8x_level_shift_in_a_noisy_series_is_detected_quickly(seed):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(100.0, 20.0, 200)
    change_at = 60
    series = rng.normal(100.0, 20.0, 100)
    series[change_at:] = rng.normal(180.0, 20.0, 40)
    result = tabular_cusum(
        series, mean=baseline.mean(), std=baseline.std(ddof=1), reset_after_alarm=True
    )
    # An in-control false alarm before the change is possible (ARL0 ~ 465); with reset it
    # leaves no head start, so the delay measured from the change is honest.
    alarms_after_change = result.alarm_indices[result.alarm_indices >= change_at]
    assert len(alarms_after_change) > 0
    assert alarms_after_change[0] <= change_at + 2
    assert result.alarms[change_at:].mean() > 0.3


def test_invalid_parameters_are_rejected():
    with pytest.raises(ValueError):
        tabular_cusum([1.0], mean=0, std=1, h=0)
    with pytest.raises(ValueError):
        average_run_length(n_runs=0)


def test_change_point_is_the_start_of_the_step() -> None:
    # Before the step at index 4 the upper sum is slightly positive (0.3, 0.7) by chance:
    # Page's estimate (after the last zero) says 2; the likelihood refinement finds 4.
    result = tabular_cusum([0, 0, 0.8, 0.9, 15, 14, 16], mean=0, std=1)
    assert result.first_alarm == 4
    assert estimated_change_index(result, 4) == 4
    # A downward drift: the lower sum's last zero is at index 1.
    down = tabular_cusum([0, 0, -4, -4, -4], mean=0, std=1)
    assert down.first_alarm == 3
    assert estimated_change_index(down, 3) == 2
    with pytest.raises(ValueError):
        estimated_change_index(down, 0)
