"""Snowplow header detection never drops a line: one header test, and a clear error otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.ingest.formats import is_header_row
from signal_pipeline.ingest.snowplow import ENRICHED_TSV_FIELDS

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def enriched_row(**values: str) -> str:
    """A header-less enriched TSV row with ``values`` at their fields' positions."""
    fields = dict.fromkeys(ENRICHED_TSV_FIELDS, "")
    fields.update(values)
    return "\t".join(fields.values())


def test_the_header_test_wants_column_names_only() -> None:
    assert is_header_row(list(ENRICHED_TSV_FIELDS))
    row = enriched_row(event_id="e1", collector_tstamp="2024-05-01 10:00:00", user_id="event_id")
    assert not is_header_row(row.split("\t"))
    assert not is_header_row(["collector_tstamp", "event_id", "", "x"])


def test_a_row_holding_a_column_name_as_a_value_still_lands(tmp_path: Path) -> None:
    rows = [
        enriched_row(
            event_id=f"e{i}",
            collector_tstamp="2024-05-01 10:00:00",
            domain_userid="d1",
            event="page_view",
            user_id="collector_tstamp event_id",
            page_urlpath="collector_tstamp",
        )
        for i in range(2)
    ]
    source = tmp_path / "in" / "enriched.tsv"
    source.parent.mkdir()
    source.write_text("\n".join(rows) + "\n")
    with db.open_db(tmp_path / "x.duckdb") as con:
        report = ingest_files(con, [source], IngestSettings(format="snowplow", now=NOW))
    assert report.lines_read == 2
    assert report.landed == 2 and report.reconciles


def test_json_lines_forced_as_snowplow_is_a_clear_error_not_a_lost_line(tmp_path: Path) -> None:
    source = tmp_path / "in" / "events.jsonl"
    source.parent.mkdir()
    source.write_text('{"event_id": "a", "ts": "2024-05-01T10:00:00Z"}\n' * 3)
    with db.open_db(tmp_path / "x.duckdb") as con, pytest.raises(ValueError) as error:
        ingest_files(con, [source], IngestSettings(format="snowplow", now=NOW))
    assert "not a Snowplow export" in str(error.value) and "--format auto" in str(error.value)
