"""Validate a DataFrame against one of the GX suites and summarise it for Dagster metadata.

One ephemeral GX context per call, a pandas data source and a whole-dataframe batch; the suite
comes from :mod:`signal_pipeline.quality.gx_suites`. The result is a :class:`QualityReport` of
plain Python values (JSON-able through :meth:`QualityReport.to_metadata`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from signal_pipeline.quality.gx_runtime import load_gx, quiet_ephemeral_context
from signal_pipeline.quality.gx_suites import SUITE_BUILDERS, ExpectationSpec, PreparedSuite

SAMPLE_SIZE = 20


def _jsonable(value: Any) -> Any:
    """A plain JSON-able version of a scalar / container from pandas, numpy or GX."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value))
    return str(value)


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation, in plain values."""

    rule: str
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample_values: list[Any] = field(default_factory=list)
    sample_ids: list[Any] = field(default_factory=list)
    observed_value: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """This outcome as a dict of JSON-able values."""
        return {
            "rule": self.rule,
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample_values": _jsonable(self.sample_values),
            "sample_ids": _jsonable(self.sample_ids),
            "observed_value": _jsonable(self.observed_value),
            "error": self.error,
        }


@dataclass(frozen=True)
class QualityReport:
    """Outcome of one suite on one frame."""

    suite_name: str
    success: bool
    row_count: int
    id_column: str | None
    outcomes: list[ExpectationOutcome]
    notes: list[str] = field(default_factory=list)

    def failed_rules(self) -> list[str]:
        """Rule names of the expectations that failed, in suite order."""
        return [o.rule for o in self.outcomes if not o.success]

    def outcome(self, rule: str) -> ExpectationOutcome:
        """The outcome of the expectation named ``rule`` (KeyError if absent)."""
        for item in self.outcomes:
            if item.rule == rule:
                return item
        raise KeyError(rule)

    def to_markdown(self) -> str:
        """A markdown table of every expectation (failures first)."""
        header = (
            "| rule | column | ok | unexpected | % | sample ids | sample values |\n"
            "|---|---|---|---|---|---|---|"
        )
        lines = [header]
        for o in sorted(self.outcomes, key=lambda item: item.success):
            percent = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.2f}"
            count = "" if o.unexpected_count is None else str(o.unexpected_count)
            ids = ", ".join(str(i) for i in o.sample_ids[:5])
            values = ", ".join(str(v) for v in _jsonable(o.sample_values[:5]))
            if o.error:
                values = f"error: {o.error}"
            cells = [o.rule, o.column or "", "✅" if o.success else "❌", count, percent]
            cells += [ids, values]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines)

    def to_metadata(self) -> dict[str, Any]:
        """Plain JSON-able values for ``AssetCheckResult.metadata`` (``results_markdown`` is md)."""
        return {
            "suite": self.suite_name,
            "success": self.success,
            "row_count": self.row_count,
            "expectations_evaluated": len(self.outcomes),
            "expectations_failed": len(self.failed_rules()),
            "failed_rules": self.failed_rules(),
            "failures": [o.to_dict() for o in self.outcomes if not o.success],
            "notes": list(self.notes),
            "results_markdown": self.to_markdown(),
        }


def _to_gx(spec: ExpectationSpec) -> Any:
    gxe = load_gx().expectations
    return getattr(gxe, spec.expectation)(**spec.kwargs, meta={"rule": spec.rule})


def _error_message(exception_info: Any) -> str | None:
    """First exception message in GX's exception info (flat, or keyed by metric)."""
    if not isinstance(exception_info, dict):
        return None
    candidates = [exception_info, *exception_info.values()]
    for info in candidates:
        if isinstance(info, dict) and info.get("raised_exception"):
            message = str(info.get("exception_message") or "exception")
            return message.splitlines()[0][:300]
    return None


def _observed(details: dict[str, Any]) -> Any:
    """The most telling observed value: schema mismatches, else GX's ``observed_value``."""
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        return mismatched
    return details.get("observed_value")


def _outcome(result: Any, spec: ExpectationSpec, id_column: str | None) -> ExpectationOutcome:
    details = dict(result.result or {})
    error = _error_message(result.exception_info)
    sample_ids: list[Any] = []
    if id_column is not None:
        sample_ids = [
            row.get(id_column) for row in details.get("partial_unexpected_index_list") or []
        ]
    percent = details.get("unexpected_percent")
    count = details.get("unexpected_count")
    return ExpectationOutcome(
        rule=spec.rule,
        expectation=spec.expectation,
        column=spec.column,
        success=bool(result.success),
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None if percent is None else float(percent),
        sample_values=_jsonable(list(details.get("partial_unexpected_list") or [])),
        sample_ids=_jsonable(sample_ids),
        observed_value=_jsonable(_observed(details)),
        error=error,
    )


def run_suite(prepared: PreparedSuite) -> QualityReport:
    """Validate ``prepared.frame`` against ``prepared.expectations`` in a fresh GX context."""
    rules = [spec.rule for spec in prepared.expectations]
    if len(set(rules)) != len(rules):
        raise ValueError(f"suite {prepared.name!r} has duplicate rule names")
    gx = load_gx()
    context = quiet_ephemeral_context()
    asset = context.data_sources.add_pandas(f"{prepared.name}_source").add_dataframe_asset(
        prepared.name
    )
    batch = asset.add_batch_definition_whole_dataframe("whole_frame").get_batch(
        batch_parameters={"dataframe": prepared.frame}
    )
    suite = context.suites.add(gx.ExpectationSuite(name=prepared.name))
    for spec in prepared.expectations:
        suite.add_expectation(_to_gx(spec))
    id_column = prepared.id_column if prepared.id_column in prepared.frame.columns else None
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_SIZE,
    }
    if id_column is not None:
        result_format["unexpected_index_column_names"] = [id_column]
    validation = batch.validate(suite, result_format=result_format)
    by_rule = {spec.rule: spec for spec in prepared.expectations}
    outcomes = [
        _outcome(r, by_rule[r.expectation_config.meta["rule"]], id_column)
        for r in validation.results
    ]
    order = {spec.rule: i for i, spec in enumerate(prepared.expectations)}
    outcomes.sort(key=lambda o: order[o.rule])
    return QualityReport(
        suite_name=prepared.name,
        success=all(o.success for o in outcomes),
        row_count=len(prepared.frame),
        id_column=id_column,
        outcomes=outcomes,
        notes=list(prepared.notes),
    )


def validate_frame(df: pd.DataFrame, suite_name: str, **params: Any) -> QualityReport:
    """Validate ``df`` against the suite ``suite_name`` and return a :class:`QualityReport`.

    Suites: ``raw_events`` (``min_rows``), ``validated_sessions`` (``thresholds``: the
    ``BotThresholds`` used for detection), ``session_features`` (``nullable_columns``,
    ``min_rows``). Unknown suite names raise ``KeyError``.
    """
    if suite_name not in SUITE_BUILDERS:
        raise KeyError(f"unknown suite {suite_name!r}; known: {sorted(SUITE_BUILDERS)}")
    return run_suite(SUITE_BUILDERS[suite_name](df, **params))
