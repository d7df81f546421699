"""Benjamini–Hochberg false discovery rate control across segments."""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (q-values) in the input order; NaN p-values stay NaN, untested.

    q₍ᵢ₎ = min over j ≥ i of (m / j) · p₍ⱼ₎, capped at 1, where m counts the finite p-values.
    """
    p = np.asarray(p_values, float)
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = len(tested)
    if m == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q
