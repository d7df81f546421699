"""Parse, validate and de-duplicate clickstream files (native, Snowplow, Segment/RudderStack)
into ``staged_events`` and ``quarantined_events`` (docs/data_contract.md)."""

from signal_pipeline.ingest.page_types import DEFAULT_PAGE_TYPE_RULES
from signal_pipeline.ingest.quarantine import REASONS
from signal_pipeline.ingest.report import IngestReport
from signal_pipeline.ingest.runner import ingest_files
from signal_pipeline.ingest.settings import IngestSettings

__all__ = [
    "DEFAULT_PAGE_TYPE_RULES",
    "REASONS",
    "IngestReport",
    "IngestSettings",
    "ingest_files",
]
