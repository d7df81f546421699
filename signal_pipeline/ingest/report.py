"""The reconciliation report of one ingest pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from signal_pipeline.ingest.quarantine import REASONS


@dataclass
class IngestReport:
    """Counts of one ingest pass: every line read is landed, a duplicate, or quarantined.

    ``by_file`` maps each source file to its ``lines_read / landed / duplicates / quarantined``
    counts; ``formats`` maps each file to the detected format (``family/container``, for example
    ``snowplow/csv``); ``min_ts``/``max_ts`` and ``event_dates`` cover the landed events (UTC).
    """

    lines_read: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, dict[str, int]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    event_dates: list[date] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        """True when lines read = landed + duplicates + quarantined, overall and per file."""
        per_file = all(
            c["lines_read"] == c["landed"] + c["duplicates"] + c["quarantined"]
            for c in self.by_file.values()
        )
        return per_file and self.lines_read == self.landed + self.duplicates + self.quarantined

    @classmethod
    def from_files(
        cls,
        by_file: dict[str, dict[str, int]],
        quarantined_by_reason: dict[str, int],
        formats: dict[str, str],
        min_ts: datetime | None,
        max_ts: datetime | None,
        event_dates: list[date],
    ) -> IngestReport:
        """The report whose totals are the sums of the per-file counts."""
        return cls(
            lines_read=sum(c["lines_read"] for c in by_file.values()),
            landed=sum(c["landed"] for c in by_file.values()),
            duplicates=sum(c["duplicates"] for c in by_file.values()),
            quarantined=sum(c["quarantined"] for c in by_file.values()),
            quarantined_by_reason=dict(sorted(quarantined_by_reason.items())),
            by_file=by_file,
            formats=formats,
            min_ts=min_ts,
            max_ts=max_ts,
            event_dates=event_dates,
        )


def quarantine_totals(
    rows: Iterable[tuple[str, str, int]],
) -> tuple[dict[str, int], dict[str, int]]:
    """Quarantined lines by file and by reason, from ``(source_file, reason, count)`` rows.

    Raises ``AssertionError`` for a reason outside the contract (``REASONS``).
    """
    by_file: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for file, reason, count in rows:
        by_file[file] = by_file.get(file, 0) + count
        by_reason[reason] = by_reason.get(reason, 0) + count
    unknown = set(by_reason) - set(REASONS)
    if unknown:
        raise AssertionError(f"quarantine reasons outside the contract: {sorted(unknown)}")
    return by_file, by_reason
