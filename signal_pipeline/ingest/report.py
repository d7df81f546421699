"""The reconciliation report of one ingest pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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
