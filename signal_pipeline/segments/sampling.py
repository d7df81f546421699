"""Deterministic stratified sampling of sessions for the clustering fit.

Strata are `session_date × device_type` (whichever of the two the frame has; a missing value is
its own stratum). Each stratum gets a quota proportional to its size, rounded by the
largest-remainder method so the quotas sum exactly to the requested size; within a stratum the
rows with the smallest random priority (seeded by `random_state`) are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STRATA_COLUMNS = ("session_date", "device_type")


def proportional_quotas(stratum_sizes: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas proportional to `stratum_sizes` summing to `total` (largest remainder)."""
    sizes = np.asarray(stratum_sizes, dtype=np.int64)
    if total >= sizes.sum():
        return sizes.copy()
    exact = sizes * total / sizes.sum()
    quotas = np.floor(exact).astype(np.int64)
    short = total - int(quotas.sum())
    if short > 0:
        order = np.argsort(-(exact - quotas), kind="stable")
        quotas[order[:short]] += 1
    return np.minimum(quotas, sizes)


def stratified_sample_positions(
    frame: pd.DataFrame,
    size: int,
    *,
    random_state: int,
    strata: tuple[str, ...] = STRATA_COLUMNS,
) -> np.ndarray:
    """Sorted row positions of a stratified sample of `size` rows of `frame`."""
    n_rows = len(frame)
    if size >= n_rows:
        return np.arange(n_rows)
    present = [c for c in strata if c in frame.columns]
    if present:
        codes = frame.groupby(present, dropna=False, sort=True).ngroup().to_numpy()
    else:
        codes = np.zeros(n_rows, dtype=np.int64)
    sizes = np.bincount(codes)
    quotas = proportional_quotas(sizes, size)
    priority = np.random.default_rng(random_state).random(n_rows)
    order = np.lexsort((priority, codes))
    group_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank_in_group = np.arange(n_rows) - group_start[codes[order]]
    keep = order[rank_in_group < quotas[codes[order]]]
    return np.sort(keep)
