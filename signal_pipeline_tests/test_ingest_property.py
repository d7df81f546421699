"""Property: no generated line is lost; each is landed, duplicate or quarantined, once."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signal_pipeline import db
from signal_pipeline.ingest import REASONS, IngestSettings, ingest_files

NOW = datetime(2024, 6, 1, tzinfo=UTC)
TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=40
)
VALUES = st.one_of(st.none(), TEXT, st.integers(-(10**15), 10**15), st.floats(allow_nan=False))

events = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["e1", "e2", "e3", "e4", ""]) | TEXT,
        "ts": st.one_of(
            st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01 10:00:00", "1714557600", "x"]),
            st.integers(0, 2 * 10**12),
            st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)).map(
                datetime.isoformat
            ),
        ),
        "event_type": st.sampled_from(["page_view", "click", "hover", "purchase", "teleport"]),
    },
    optional={
        "anonymous_id": st.sampled_from(["a1", "a2", " "]) | TEXT,
        "user_id": VALUES,
        "page_url": st.sampled_from(["/", "/pricing", "https://x/specs", "/cart?x=1"]) | TEXT,
        "hover_ms": VALUES,
        "scroll_depth_pct": VALUES,
        "x": VALUES,
        "revenue": VALUES,
        "element": VALUES,
    },
)
json_line = events.map(lambda e: json.dumps(e, ensure_ascii=False).encode())
junk_line = st.one_of(
    TEXT.map(str.encode),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
    st.sampled_from([b"[1,2]", b'"s"', b"null", b"{}", b"{", b""]),
)
line = st.one_of(json_line, json_line, json_line, junk_line)
files = st.lists(st.lists(line, max_size=25), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files)
@example([[b"", b"{"]])  # looked like a pretty-printed JSON document; is read as lines
@example([[b"PAR1"]])  # Parquet magic in a .jsonl file: still JSON lines, quarantined
def test_no_generated_line_is_lost(file_lines: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = []
        for i, lines in enumerate(file_lines):
            path = folder / f"events_{i}.jsonl"
            path.write_bytes(b"".join(item + b"\n" for item in lines))
            paths.append(path)
        con = db.connect(Path(tmp) / "signal.duckdb")
        report = ingest_files(con, paths, IngestSettings(format="native", now=NOW))
        landed = con.execute(
            "SELECT source_file, source_line, event_id FROM staged_events"
        ).fetchall()
        quarantined = con.execute(
            "SELECT source_file, source_line, reason FROM quarantined_events"
        ).fetchall()
        con.close()
    staged = [(f, n) for f, n, _ in landed]
    total = sum(len(lines) for lines in file_lines)
    assert report.lines_read == total
    assert report.reconciles
    assert report.landed == len(staged) and report.quarantined == len(quarantined)
    outcomes = staged + [(f, n) for f, n, _ in quarantined]
    assert len(set(outcomes)) == len(outcomes)  # no line both landed and quarantined, or twice
    for path, lines in zip(paths, file_lines, strict=True):
        counts = report.by_file[str(path.resolve())]
        assert counts["lines_read"] == len(lines)
        in_file = {n for f, n in outcomes if f == str(path.resolve())}
        assert in_file <= set(range(1, len(lines) + 1))
        assert len(in_file) + counts["duplicates"] == len(lines)
    assert {reason for _, _, reason in quarantined} <= set(REASONS)
    landed_ids = [event_id for _, _, event_id in landed]
    assert len(set(landed_ids)) == len(landed_ids)  # one landed row per event_id
