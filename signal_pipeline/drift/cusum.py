"""Two-sided tabular CUSUM in standardized units, and its average run length by simulation.

For a series x_t with baseline mean μ and standard deviation σ, reference value k and decision
interval h (both in units of σ):

    z_t  = (x_t − μ) / σ
    C+_t = max(0, C+_{t−1} + z_t − k)
    C−_t = max(0, C−_{t−1} − z_t − k)        (C±_0 = 0)

and step t alarms when C+_t > h or C−_t > h. With `reset_after_alarm`, both sums restart from 0
after an alarming step. A missing (NaN) observation leaves both sums unchanged and cannot alarm.
A σ that is zero, negative or not finite makes the chart undefined: the result then carries NaN
sums, no alarm and a message saying so (never a division by zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_K = 0.5
DEFAULT_H = 5.0


@dataclass(frozen=True)
class CusumResult:
    """Per-step standardized values, both sums and alarms; `first_alarm` is an index or None."""

    z: np.ndarray
    cusum_pos: np.ndarray
    cusum_neg: np.ndarray
    alarms: np.ndarray
    first_alarm: int | None
    message: str | None = None

    @property
    def alarm_indices(self) -> np.ndarray:
        """Indices of every alarming step."""
        return np.flatnonzero(self.alarms)


def tabular_cusum(
    values: np.ndarray | list[float],
    mean: float,
    std: float,
    *,
    k: float = DEFAULT_K,
    h: float = DEFAULT_H,
    reset_after_alarm: bool = False,
    initial_pos: float = 0.0,
    initial_neg: float = 0.0,
) -> CusumResult:
    """Run a two-sided tabular CUSUM over `values` (see module docstring).

    `initial_pos`/`initial_neg` continue a chart from earlier state (e.g. a sensor cursor).
    """
    x = np.asarray(values, dtype=float)
    n_steps = len(x)
    if k < 0 or h <= 0:
        raise ValueError("k must be >= 0 and h > 0 (both in units of sigma)")
    if not (np.isfinite(std) and std > 0 and np.isfinite(mean)):
        nan = np.full(n_steps, np.nan)
        return CusumResult(
            z=nan.copy(),
            cusum_pos=nan.copy(),
            cusum_neg=nan.copy(),
            alarms=np.zeros(n_steps, dtype=bool),
            first_alarm=None,
            message=(
                f"baseline std is {std!r} (mean {mean!r}): CUSUM is undefined without a "
                "positive finite spread, no alarm raised"
            ),
        )
    z = (x - mean) / std
    pos = np.empty(n_steps)
    neg = np.empty(n_steps)
    alarms = np.zeros(n_steps, dtype=bool)
    c_pos, c_neg = float(initial_pos), float(initial_neg)
    for t in range(n_steps):
        if np.isfinite(z[t]):
            c_pos = max(0.0, c_pos + z[t] - k)
            c_neg = max(0.0, c_neg - z[t] - k)
            alarms[t] = c_pos > h or c_neg > h
        pos[t], neg[t] = c_pos, c_neg
        if alarms[t] and reset_after_alarm:
            c_pos, c_neg = 0.0, 0.0
    first = int(np.argmax(alarms)) if alarms.any() else None
    return CusumResult(z=z, cusum_pos=pos, cusum_neg=neg, alarms=alarms, first_alarm=first)


@dataclass(frozen=True)
class RunLengthEstimate:
    """Simulated run lengths: mean (the ARL), its standard error and how many runs were censored."""

    arl: float
    standard_error: float
    n_runs: int
    censored_runs: int


def average_run_length(
    k: float = DEFAULT_K,
    h: float = DEFAULT_H,
    *,
    n_runs: int = 2_000,
    max_len: int = 10_000,
    seed: int = 0,
    shift: float = 0.0,
) -> RunLengthEstimate:
    """Average run length to the first alarm for N(shift, 1) observations, by simulation.

    `shift = 0` gives the in-control ARL. Runs without an alarm within `max_len` steps count as
    `max_len` (reported as censored, so the estimate is a lower bound when any are). All runs
    advance together as one NumPy vector per step.
    """
    if n_runs < 1 or max_len < 1:
        raise ValueError("n_runs and max_len must be positive")
    rng = np.random.default_rng(seed)
    c_pos = np.zeros(n_runs)
    c_neg = np.zeros(n_runs)
    run_length = np.full(n_runs, max_len, dtype=np.int64)
    running = np.ones(n_runs, dtype=bool)
    block = 256
    for block_start in range(0, max_len, block):
        steps = min(block, max_len - block_start)
        draws = rng.standard_normal((steps, n_runs)) + shift
        for offset in range(steps):
            z = draws[offset]
            c_pos = np.maximum(0.0, c_pos + z - k)
            c_neg = np.maximum(0.0, c_neg - z - k)
            newly = running & ((c_pos > h) | (c_neg > h))
            run_length[newly] = block_start + offset + 1
            running &= ~newly
        if not running.any():
            break
    censored = int(running.sum())
    lengths = run_length.astype(float)
    standard_error = float(lengths.std(ddof=1) / np.sqrt(n_runs)) if n_runs > 1 else float("nan")
    return RunLengthEstimate(
        arl=float(lengths.mean()),
        standard_error=standard_error,
        n_runs=n_runs,
        censored_runs=censored,
    )


def estimated_change_index(result: CusumResult, alarm_index: int) -> int:
    """Estimated first step of the shift behind the alarm at ``alarm_index``.

    Page's estimate is the step after the last one, before the alarm, at which the alarming
    side's sum was zero (0 when it never was); the side is the one above h. A sum that was
    slightly positive by chance just before a large shift puts it a step or two early, so the
    estimate is refined by maximum likelihood of one mean step: among the steps from Page's
    estimate to the alarm, the τ maximising (Σ_{t≥τ} z_t)² / n_τ over the observed z from τ to
    the end of the series, with the sum on the alarming side.
    """
    if not 0 <= alarm_index < len(result.alarms) or not result.alarms[alarm_index]:
        raise ValueError(f"step {alarm_index} is not an alarm")
    upward = result.cusum_pos[alarm_index] >= result.cusum_neg[alarm_index]
    side = result.cusum_pos if upward else result.cusum_neg
    zeros = np.flatnonzero(side[:alarm_index] == 0.0)
    page = int(zeros[-1] + 1) if len(zeros) else 0
    signed = np.where(np.isfinite(result.z), result.z, 0.0) * (1.0 if upward else -1.0)
    observed = np.isfinite(result.z).astype(float)
    tail_sum = np.cumsum(signed[::-1])[::-1]
    tail_count = np.cumsum(observed[::-1])[::-1]
    best, best_score = page, -np.inf
    for tau in range(page, alarm_index + 1):
        if tail_count[tau] == 0 or tail_sum[tau] <= 0:
            continue
        score = tail_sum[tau] ** 2 / tail_count[tau]
        if score > best_score:
            best, best_score = tau, score
    return best
