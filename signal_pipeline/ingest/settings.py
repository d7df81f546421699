"""Settings of one ingest pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from signal_pipeline.ingest.page_types import DEFAULT_PAGE_TYPE_RULES
from signal_pipeline.ingest.parts import DEFAULT_MAX_READ_BYTES

FORMATS: tuple[str, ...] = ("auto", "native", "snowplow", "segment")


@dataclass(frozen=True)
class IngestSettings:
    """How :func:`signal_pipeline.ingest.ingest_files` reads and validates its input.

    ``format`` forces one source family for every file (``auto`` detects it per file);
    ``page_type_rules`` are ``(regex on the lower-cased URL path, page_type)`` pairs, first match
    wins, used when an event carries no known ``page_type``; lines longer than ``max_line_bytes``
    are quarantined as ``oversize_line``; events later than ``now + future_tolerance`` or earlier
    than ``earliest`` are quarantined; ``now=None`` means the wall clock (UTC).
    A text file larger than ``max_read_bytes`` (DuckDB reads at most ~4 GiB per file) is read in
    parts of about that size, cut at line ends, with the same line numbers.
    ``typed_json_lines=False`` judges native JSON lines with the per-line parser only (the typed
    ``read_json`` fast path gives identical tables; the switch exists to check that).
    """

    format: str = "auto"
    page_type_rules: tuple[tuple[str, str], ...] = DEFAULT_PAGE_TYPE_RULES
    max_line_bytes: int = 1_000_000
    future_tolerance: timedelta = timedelta(days=1)
    earliest: date = date(2000, 1, 1)
    now: datetime | None = None
    typed_json_lines: bool = True
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if self.max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        if self.max_read_bytes < 1:
            raise ValueError("max_read_bytes must be positive")
