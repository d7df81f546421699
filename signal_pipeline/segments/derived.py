"""Features derived from `session_features` columns for clustering and naming.

The dwell shares say where a session spent its time: `dwell_<page>_s / total_session_time_s`,
clipped to [0, 1], and 0 when the session has no measured time. A share already present in the
input frame is kept as given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DWELL_SHARE_SOURCES: dict[str, str] = {
    "specs_dwell_share": "dwell_specs_s",
    "pricing_dwell_share": "dwell_pricing_s",
    "comparison_dwell_share": "dwell_comparison_s",
}
TOTAL_TIME_COLUMN = "total_session_time_s"


def with_derived_features(features: pd.DataFrame) -> pd.DataFrame:
    """Return `features` with the dwell-share columns added where they can be computed.

    A share is added only when its dwell column and `total_session_time_s` are both present;
    the input frame is not modified.
    """
    missing = [
        share
        for share, source in DWELL_SHARE_SOURCES.items()
        if share not in features.columns
        and source in features.columns
        and TOTAL_TIME_COLUMN in features.columns
    ]
    if not missing:
        return features
    out = features.copy()
    total = pd.to_numeric(out[TOTAL_TIME_COLUMN], errors="coerce").to_numpy(dtype=float)
    for share in missing:
        dwell = pd.to_numeric(out[DWELL_SHARE_SOURCES[share]], errors="coerce").to_numpy(
            dtype=float
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total > 0, dwell / np.where(total > 0, total, 1.0), 0.0)
        # NaN inputs stay NaN so the session is excluded from fitting with a counted reason.
        ratio = np.where(np.isnan(dwell) | np.isnan(total), np.nan, np.clip(ratio, 0.0, 1.0))
        out[share] = ratio
    return out
