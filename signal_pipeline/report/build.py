"""Assemble the HTML report: tables and inline SVG charts in one self-contained file."""

import html
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import jinja2
import pandas as pd

from signal_pipeline.report import charts
from signal_pipeline.report.data import ReportData, load_report_data

TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("signal_pipeline.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
).get_template("segment_report.html.j2")

REFERENCE_COLUMNS = {
    "segment_name": "pattern",
    "sessions": "sessions",
    "share": "share",
    "avg_dwell_per_page_s": "avg dwell per page",
    "avg_scroll_depth_pct": "scroll depth",
    "cta_ctr": "CTR on CTA",
    "conversion_rate": "conversion rate",
    "conversion_lift": "conversion vs average",
    "action_flag": "action",
}


@dataclass(frozen=True)
class ReportSummary:
    """What was written."""

    path: Path
    segments: int
    charts: int
    bytes: int


def _format(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if column in {"share", "cta_ctr", "conversion_rate"}:
        return f"{100 * float(value):.1f} %"  # type: ignore[arg-type]
    if column == "avg_dwell_per_page_s":
        return f"{float(value):.1f} s"  # type: ignore[arg-type]
    if column == "avg_scroll_depth_pct":
        return f"{float(value):.0f} %"  # type: ignore[arg-type]
    if column == "conversion_lift":
        return f"{float(value):.2f}×"  # type: ignore[arg-type]
    return str(value)


def reference_table(profiles: pd.DataFrame) -> dict[str, list]:
    """The segment table in the reference shape, formatted for people."""
    columns = [c for c in REFERENCE_COLUMNS if c in profiles.columns]
    rows = [[_format(c, row[c]) for c in columns] for _, row in profiles.iterrows()]
    return {"header": [REFERENCE_COLUMNS[c] for c in columns], "rows": rows}


def mix_table(profiles: pd.DataFrame, column: str) -> dict[str, list]:
    """Device or campaign mix per segment (from the JSON mix columns)."""
    if column not in profiles.columns:
        return {"header": [], "rows": []}
    rows = []
    for _, row in profiles.iterrows():
        try:
            mix = json.loads(row[column]) if isinstance(row[column], str) else {}
        except ValueError:
            mix = {}
        text = ", ".join(
            f"{k}: {100 * float(v):.0f} %"
            for k, v in sorted(mix.items(), key=lambda kv: -float(kv[1]))[:5]
        )
        rows.append([row["segment_name"], text])
    return {"header": ["segment", column.replace("_", " ")], "rows": rows}


def drift_status(drift: pd.DataFrame) -> dict[str, list]:
    """Per signal: latest value, CUSUM sums, whether it is in alarm and since when."""
    rows = []
    for signal, group in drift.groupby("signal", sort=True):
        group = group.sort_values("day")
        alarms = group[group["alarm"].astype(bool)]
        last = group.iloc[-1]
        rows.append(
            [
                signal,
                str(last["day"])[:10],
                f"{last['value']:.4g}",
                f"{last['cusum_pos']:.2f}",
                f"{last['cusum_neg']:.2f}",
                "ALARM" if bool(last["alarm"]) else "ok",
                str(alarms["day"].iloc[0])[:10] if len(alarms) else "",
            ]
        )
    return {
        "header": ["signal", "last day", "value", "C+", "C−", "state", "first alarm"],
        "rows": rows,
    }


def version_table(versions: pd.DataFrame) -> dict[str, list]:
    """The latest cluster model versions: what changed between re-clusters."""
    rows = [
        [
            int(r.version),
            str(r.window_start)[:10],
            str(r.window_end)[:10],
            int(r.sessions),
            int(r.clusters),
            f"{100 * r.noise_share:.1f} %",
            "" if pd.isna(r.membership_churn) else f"{100 * r.membership_churn:.1f} %",
        ]
        for r in versions.itertuples()
    ]
    return {
        "header": [
            "version",
            "window start",
            "window end",
            "fit sessions",
            "clusters",
            "noise",
            "membership churn vs previous",
        ],
        "rows": rows,
    }


def lift_section(lift: pd.DataFrame | None) -> dict[str, list] | None:
    """The A/B lift table per segment, or None when `segment_experiment_lift` does not exist."""
    if lift is None:
        return None
    from signal_pipeline.experiments.summary import SUMMARY_HEADER, lift_summary_rows

    rows = lift_summary_rows(lift) if len(lift) else []
    return {"header": SUMMARY_HEADER, "rows": rows}


def render(data: ReportData, database: Path | str, h: float = 5.0) -> tuple[str, int]:
    """The report's HTML and the number of charts in it."""
    svgs: dict[str, str] = {}
    if not data.profiles.empty:
        svgs["sizes"] = charts.to_svg(charts.segment_sizes(data.profiles))
    if len(data.scatter) >= 3:
        svgs["scatter"] = charts.to_svg(charts.segment_scatter(data.scatter))
    if not data.feature_means.empty:
        svgs["profile"] = charts.to_svg(charts.profile_heatmap(data.feature_means))
    if not data.bot_reasons.empty:
        svgs["bots"] = charts.to_svg(charts.bot_reason_bars(data.bot_reasons))
    if not data.drift.empty:
        svgs["drift"] = charts.to_svg(charts.drift_lines(data.drift, h))
    lift = lift_section(data.lift)
    if lift and lift["rows"] and data.lift is not None:
        svgs["lift"] = charts.to_svg(charts.lift_forest(data.lift))
    page = TEMPLATE.render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        database=html.escape(str(database)),
        segments=reference_table(data.profiles) if not data.profiles.empty else None,
        devices=mix_table(data.profiles, "device_mix"),
        campaigns=mix_table(data.profiles, "campaign_mix"),
        bot_totals=data.bot_totals,
        drift=drift_status(data.drift) if not data.drift.empty else None,
        versions=version_table(data.versions) if not data.versions.empty else None,
        lift=lift,
        svgs=svgs,
        missing=data.missing,
    )
    return page, len(svgs)


def write_report(con: duckdb.DuckDBPyConnection, out: Path, database: Path | str) -> ReportSummary:
    """Write the report to ``out`` atomically (a temp file renamed into place)."""
    data = load_report_data(con)
    page, n_charts = render(data, database)
    out = out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.tmp")
    temp.write_text(page, encoding="utf-8")
    os.replace(temp, out)
    return ReportSummary(out, len(data.profiles), n_charts, out.stat().st_size)
