"""The lift table in people's terms: one line per segment × metric, shared by the asset's
metadata, the CLI and the HTML report."""

from __future__ import annotations

import math

import pandas as pd

SUMMARY_HEADER = [
    "segment",
    "metric",
    "variant",
    "control",
    "treatment",
    "raw lift [95 % CI]",
    "stratified lift [95 % CI]",
    "q (BH)",
    "after-start DiD [95 % CI]",
    "counterfactual",
    "power / sample size",
]


def is_true(value: object) -> bool:
    """True for a true boolean (numpy or Python); False for false, None and NaN."""
    return value is not None and value == value and bool(value)


def _pct(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f} %"  # type: ignore[arg-type]


def _points(value: object, low: object, high: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"

    def pp(v: object) -> str:
        return f"{100 * float(v):+.1f}"  # type: ignore[arg-type]

    return f"{pp(value)} pp [{pp(low)}, {pp(high)}]"


def _rate(row: pd.Series, arm: str) -> str:
    n = row[f"{arm}_sessions"]
    return f"{_pct(row[f'{arm}_rate'])} of {int(n)}" if n and n == n else "–"


def _power(row: pd.Series) -> str:
    if row["status"] == "not enough data":
        return str(row["note"])
    needed = row["sessions_needed_per_arm"]
    if needed is None or (isinstance(needed, float) and math.isnan(needed)):
        return "not enough data (no baseline rate)"
    return f"power {_pct(row['power_at_target'], 0)}; {int(needed):,} per arm needed"


def lift_summary_rows(table: pd.DataFrame) -> list[list[str]]:
    """Formatted rows (see `SUMMARY_HEADER`), overall first, then segments by name."""
    ordered = table.sort_values(
        ["experiment", "treatment_variant", "metric", "is_overall", "segment_name"],
        ascending=[True, True, False, False, True],
    )
    rows = []
    for _, row in ordered.iterrows():
        q = row["q_value"]
        q_text = (
            "–"
            if q is None or q != q
            else f"{float(q):.3g}" + (" *" if is_true(row["significant"]) else "")
        )
        rows.append(
            [
                str(row["segment_name"]),
                str(row["metric"]),
                f"{row['treatment_variant']} vs {row['control_variant']}",
                _rate(row, "control"),
                _rate(row, "treatment"),
                _points(row["abs_lift"], row["abs_lift_ci_low"], row["abs_lift_ci_high"]),
                _points(row["adjusted_abs_lift"], row["adjusted_ci_low"], row["adjusted_ci_high"]),
                q_text,
                _points(
                    row["did_adjusted"], row["did_adjusted_ci_low"], row["did_adjusted_ci_high"]
                ),
                str(row["counterfactual"] or "–"),
                _power(row),
            ]
        )
    return rows
