"""Hostile input: each kind has a defined outcome (docs/reliability.md), and no line is lost.

Every case writes one hostile line between two ordinary ones, ingests the file and checks the
hostile line's outcome (landed verbatim, or quarantined with a named reason) and that the
ordinary lines land. The huge-session case lands a long single session and sessionizes it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.reliability.recorder import Outcome, record
from signal_pipeline.sql_models import build_model, load_models

NOW = datetime(2024, 6, 1, tzinfo=UTC)
#: Events of the one-session case (1,000,000 measured by hand: see docs/reliability.md).
HUGE_SESSION_EVENTS = int(os.environ.get("SIGNAL_PIPELINE_HUGE_SESSION_EVENTS", "250000"))


def event_line(event_id: str, **fields: object) -> bytes:
    """One canonical JSON line."""
    event: dict[str, object] = {
        "event_id": event_id,
        "ts": "2024-05-01T10:00:00Z",
        "event_type": "page_view",
        "anonymous_id": "visitor-1",
        "page_url": "https://shop.example.com/pricing",
    }
    event.update(fields)
    return json.dumps(event).encode()


@dataclass(frozen=True)
class HostileCase:
    """A hostile line and its defined outcome: ``landed`` or a quarantine reason."""

    kind: str
    line: bytes
    outcome: str
    description: str
    element_length: int | None = None  # checked verbatim when landed


CASES = [
    HostileCase(
        "very long string (500 KB field)",
        event_line("hostile", element="x" * 500_000),
        "landed",
        "lands; the field is stored verbatim (lines up to max_line_bytes, 1 MB)",
        element_length=500_000,
    ),
    HostileCase(
        "10 MB line",
        event_line("hostile", element="y" * 10_000_000),
        "oversize_line",
        "quarantined as oversize_line; raw_line truncated to 10,000 characters",
    ),
    HostileCase(
        "deeply nested JSON (depth 10,000)",
        event_line("hostile")[:-1] + b', "extra": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "landed",
        "lands; unknown nested fields are ignored (no recursion limit is hit)",
    ),
    HostileCase(
        "NUL byte, raw (0x00 inside the line)",
        event_line("hostile", element="a\x00b").replace(b"\\u0000", b"\x00"),
        "invalid_json",
        "quarantined as invalid_json (a raw control character is not JSON)",
    ),
    HostileCase(
        "NUL character, JSON-escaped (\\u0000)",
        event_line("hostile", element="a\x00b"),
        "landed",
        "lands; the string keeps its NUL character verbatim",
        element_length=3,
    ),
    HostileCase(
        "mixed encodings (Latin-1 byte in a UTF-8 file)",
        event_line("hostile", element="caf\xe9").replace(b"\\u00e9", b"\xe9"),
        "invalid_utf8",
        "that line quarantined as invalid_utf8 (bytes escaped as \\xNN in raw_line); the "
        "file's other lines land",
    ),
    HostileCase(
        "timestamp in 1970 (ISO)",
        event_line("hostile", ts="1970-01-01T00:00:00Z"),
        "timestamp_before_start",
        "quarantined as timestamp_before_start (earliest accepted day, default 2000-01-01; "
        "the Dagster partitions start 2020-01-01)",
    ),
    HostileCase(
        "timestamp 0 (epoch number)",
        event_line("hostile", ts=0),
        "timestamp_before_start",
        "quarantined as timestamp_before_start",
    ),
    HostileCase(
        "timestamp in 2100",
        event_line("hostile", ts="2100-01-01T00:00:00Z"),
        "timestamp_in_future",
        "quarantined as timestamp_in_future (later than now + 24 h)",
    ),
]


@pytest.fixture(scope="module")
def hostile_dir() -> Iterator[tuple[object, Path]]:
    """A DuckDB connection restricted to one input folder (as the ingest asset opens it)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        with db.open_db(Path(tmp) / "hostile.duckdb", allowed_directories=[folder]) as con:
            yield con, folder


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_hostile_line_has_its_defined_outcome(hostile_dir, case: HostileCase) -> None:
    con, folder = hostile_dir
    for old in folder.iterdir():
        old.unlink()
    path = folder / "events.jsonl"
    path.write_bytes(event_line("before") + b"\n" + case.line + b"\n" + event_line("after") + b"\n")
    report = ingest_files(con, [path], IngestSettings(now=NOW))
    assert report.lines_read == 3 and report.reconciles
    landed = {
        event_id: length
        for event_id, length in con.execute(
            "SELECT event_id, length(element) FROM staged_events"
        ).fetchall()
    }
    quarantined = con.execute("SELECT source_line, reason FROM quarantined_events").fetchall()
    assert {"before", "after"} <= set(landed)
    if case.outcome == "landed":
        assert quarantined == []
        assert "hostile" in landed
        if case.element_length is not None:
            assert landed["hostile"] == case.element_length
    else:
        assert quarantined == [(2, case.outcome)]
    record(
        Outcome(
            "bad_input",
            case.kind,
            survived=True,
            outcome=case.description,
            events_in=3,
            events_lost=3 - (report.landed + report.duplicates + report.quarantined),
        )
    )


def test_utf16_file_is_quarantined_line_by_line(hostile_dir) -> None:
    con, folder = hostile_dir
    for old in folder.iterdir():
        old.unlink()
    path = folder / "utf16.jsonl"
    path.write_bytes((event_line("u1").decode() + "\n").encode("utf-16"))
    report = ingest_files(con, [path], IngestSettings(now=NOW))
    assert report.reconciles and report.landed == 0
    reasons = {r for (r,) in con.execute("SELECT reason FROM quarantined_events").fetchall()}
    assert reasons and reasons <= {"invalid_utf8", "invalid_json"}
    record(
        Outcome(
            "bad_input",
            "whole file in UTF-16",
            survived=True,
            outcome="not supported: every line quarantined (invalid_utf8 / invalid_json), "
            "nothing lands, nothing is lost",
            events_in=report.lines_read,
            events_lost=report.lines_read - report.quarantined,
        )
    )


def test_one_session_with_a_huge_number_of_events(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    events = HUGE_SESSION_EVENTS
    with db.open_db(tmp_path / "huge.duckdb", allowed_directories=[folder]) as con:
        # One visitor, one session_id, an event every 50 ms; every 10th a page view.
        lines = con.execute(
            "SELECT to_json({event_id: 'h' || i, ts: strftime(TIMESTAMP '2024-05-01 00:00:00' "
            "+ to_milliseconds(i * 50), '%Y-%m-%dT%H:%M:%S.%gZ'), event_type: CASE WHEN i % 10 = 0"
            " THEN 'page_view' ELSE 'page_ping' END, anonymous_id: 'one-visitor', session_id: "
            "'one-session', page_url: 'https://shop.example.com/p/' || (i // 10)})::VARCHAR "
            "FROM range(?) t(i) ORDER BY i",
            [events],
        ).fetchall()
        (folder / "events.jsonl").write_text("".join(line + "\n" for (line,) in lines))
        report = ingest_files(con, [folder / "events.jsonl"], IngestSettings(now=NOW))
        assert report.lines_read == report.landed == events
        con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events")
        models = load_models(external_tables=("raw_events", "session_bot_flags"))
        sessionized = models["sessionized_events"]
        for name in sessionized.upstream:
            if name in models:
                build_model(con, models[name])
        assert build_model(con, sessionized) == events
        visitors = con.execute(
            "SELECT count(DISTINCT anonymous_id), count(*) FROM sessionized_events"
        ).fetchone()
    assert visitors == (1, events)
    record(
        Outcome(
            "bad_input",
            f"one session with {events:,} events",
            survived=True,
            outcome="every event lands and is sessionized (1,000,000 checked by hand)",
            events_in=events,
            events_lost=events - report.landed,
        )
    )
