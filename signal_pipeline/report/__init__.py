"""The self-contained HTML segment report (charts as inline SVG; no network needed to view it)."""

from signal_pipeline.report.build import ReportSummary, write_report

__all__ = ["ReportSummary", "write_report"]
