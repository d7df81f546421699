"""Fuzz the ingest parsers: Segment and Snowplow shapes, mixed with junk, and random bytes.

Bounded (``FUZZ_EXAMPLES`` per campaign, replayed identically in CI): no example may crash
the ingest, and every line is accounted for (lines read = landed + duplicates + quarantined,
per file, and lines read = lines written). Native JSON lines are fuzzed by
test_ingest_property.py. Each campaign records how many examples it ran.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_pipeline import db
from signal_pipeline.ingest import REASONS, IngestSettings, ingest_files
from signal_pipeline.ingest.snowplow import ENRICHED_TSV_FIELDS
from signal_pipeline.reliability.recorder import Outcome, record

FUZZ_EXAMPLES = int(os.environ.get("SIGNAL_PIPELINE_FUZZ_EXAMPLES", "30"))
NOW = datetime(2024, 6, 1, tzinfo=UTC)
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=30
)
FIELD = st.text(  # a TSV field: no tab, no line break
    alphabet=st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)),
    max_size=20,
)
TIMESTAMPS = st.one_of(
    st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00+02:00", "1970-01-01", ""]),
    st.sampled_from(["2100-01-01T00:00:00Z", "not a time", "2024-02-30T00:00:00Z"]),
    st.integers(-(10**13), 10**13).map(str),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.isoformat() + "Z"
    ),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers()
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)

segment_call = st.fixed_dictionaries(
    {"type": st.sampled_from(["page", "track", "screen", "identify", "group", "alias", "x"])},
    optional={
        "messageId": st.sampled_from(["m1", "m2", "m3", ""]) | TEXT,
        "anonymousId": st.sampled_from(["a1", "a2"]) | TEXT | st.none(),
        "userId": st.sampled_from(["u1"]) | TEXT | st.none() | st.integers(),
        "event": st.sampled_from(["CTA Clicked", "Order Completed", "Product Added"]) | TEXT,
        "timestamp": TIMESTAMPS,
        "originalTimestamp": TIMESTAMPS,
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "url": st.sampled_from(["https://x.example/pricing", "/", ""]) | TEXT,
                "revenue": JSON_VALUES,
                "scroll_depth_pct": JSON_VALUES,
                "extra": JSON_VALUES,
            },
        ),
        "context": st.dictionaries(st.sampled_from(["page", "userAgent", "ip"]), JSON_VALUES),
    },
)


def snowplow_row() -> st.SearchStrategy[list[str]]:
    """A header-less enriched TSV row: 131 fields (sometimes fewer or more), some meaningful."""
    meaningful = {
        "event": st.sampled_from(["page_view", "page_ping", "link_click", "transaction", "x"]),
        "event_id": st.sampled_from(["e1", "e2", "e3", ""]) | FIELD,
        "domain_userid": st.sampled_from(["d1", "d2", ""]) | FIELD,
        "collector_tstamp": TIMESTAMPS.filter(lambda t: "\t" not in t),
        "derived_tstamp": TIMESTAMPS.filter(lambda t: "\t" not in t),
        "tr_total": FIELD,
        "pp_yoffset_max": FIELD,
        "doc_height": FIELD,
        "contexts": JSON_VALUES.map(lambda v: json.dumps(v).replace("\t", " ")),
    }
    fields = st.fixed_dictionaries(
        {name: meaningful.get(name, st.just("")) for name in ENRICHED_TSV_FIELDS}
    )
    return st.tuples(fields, st.integers(-3, 3)).map(
        lambda pair: (
            [pair[0][name] for name in ENRICHED_TSV_FIELDS][: len(ENRICHED_TSV_FIELDS)]
            + [""] * max(pair[1], 0)
            if pair[1] >= 0
            else [pair[0][name] for name in ENRICHED_TSV_FIELDS][: pair[1]]
        )
    )


JUNK_LINE = st.one_of(
    TEXT.map(str.encode),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
    st.sampled_from([b"{}", b"[]", b"null", b"{", b'{"type": "page"}', b"\x00\x00"]),
)


@pytest.fixture(scope="module")
def fuzz_dir() -> Iterator[tuple[object, Path]]:
    """One DuckDB connection, restricted to one input folder, reused by every example (ingest
    replaces its tables each time; a restricted connection reads the files itself)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        with db.open_db(Path(tmp) / "fuzz.duckdb", allowed_directories=[folder]) as con:
            yield con, folder


def ingest_and_account(fuzz: tuple, files: dict[str, bytes], fmt: str) -> dict[str, int]:
    """Write ``files``, ingest them, assert every line is accounted for; return the counts."""
    con, folder = fuzz
    for old in folder.iterdir():
        old.unlink()
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    report = ingest_files(con, paths, IngestSettings(format=fmt, now=NOW))
    assert report.reconciles, report
    rows = con.execute("SELECT DISTINCT reason FROM quarantined_events").fetchall()
    assert {r for (r,) in rows} <= set(REASONS)
    return {
        "read": report.lines_read,
        "accounted": report.landed + report.duplicates + report.quarantined,
    }


def expected_lines(data: bytes) -> int:
    """Lines by the ingest's line rule: a trailing newline does not start a line."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def run_campaign(name: str, strategy: st.SearchStrategy, check: Callable[[object], dict]) -> None:
    """Run ``check`` on ``FUZZ_EXAMPLES`` examples of ``strategy`` and record the campaign."""
    totals = {"examples": 0, "lines": 0, "lost": 0}

    @FUZZ_SETTINGS
    @given(strategy)
    def example(value: object) -> None:
        counts = check(value)
        totals["examples"] += 1
        totals["lines"] += counts["written"]
        totals["lost"] += counts["written"] - counts["accounted"]

    example()
    assert totals["lost"] == 0
    record(
        Outcome(
            "fuzz",
            name,
            survived=True,
            outcome="no crash; every line landed, duplicate or quarantined",
            examples=totals["examples"],
            events_in=totals["lines"],
            events_lost=totals["lost"],
        )
    )


def test_fuzz_segment_json_lines(fuzz_dir) -> None:
    line = st.one_of(segment_call.map(lambda c: json.dumps(c).encode()), JUNK_LINE)

    def check(lines: list[bytes]) -> dict:
        data = b"".join(item + b"\n" for item in lines)
        counts = ingest_and_account(fuzz_dir, {"segment.jsonl": data}, "segment")
        assert counts["read"] == len(lines)
        return {"written": len(lines), "accounted": counts["accounted"]}

    run_campaign("Segment JSON lines (hypothesis)", st.lists(line, max_size=20), check)


def test_fuzz_segment_batch_documents(fuzz_dir) -> None:
    def check(calls: list[dict]) -> dict:
        data = json.dumps({"batch": calls, "sentAt": "2024-05-01T10:00:00Z"}).encode()
        counts = ingest_and_account(fuzz_dir, {"batch.json": data}, "segment")
        assert counts["read"] == len(calls)
        return {"written": len(calls), "accounted": counts["accounted"]}

    run_campaign("Segment batch documents (hypothesis)", st.lists(segment_call, max_size=15), check)


def test_fuzz_snowplow_enriched_tsv(fuzz_dir) -> None:
    def check(rows: list[list[str]]) -> dict:
        data = b"".join("\t".join(row).encode() + b"\n" for row in rows)
        counts = ingest_and_account(fuzz_dir, {"enriched.tsv": data}, "snowplow")
        assert counts["read"] == len(rows)
        return {"written": len(rows), "accounted": counts["accounted"]}

    run_campaign(
        "Snowplow enriched TSV, 128-134 fields (hypothesis)",
        st.lists(snowplow_row(), min_size=1, max_size=12),
        check,
    )


def test_fuzz_random_bytes_auto_detected(fuzz_dir) -> None:
    names = st.sampled_from(["events.jsonl", "events.json", "events.log", "events.tsv"])

    def check(case: tuple[str, bytes]) -> dict:
        name, data = case
        counts = ingest_and_account(fuzz_dir, {name: data}, "auto")
        written = counts["read"]  # by the detected container's own rule
        if name == "events.jsonl":
            written = expected_lines(data)
            assert counts["read"] == written
        return {"written": written, "accounted": counts["accounted"]}

    data = st.one_of(
        st.binary(max_size=400),
        st.lists(JUNK_LINE, max_size=15).map(lambda ls: b"\n".join(ls)),
    )
    run_campaign("random bytes, format auto-detected (hypothesis)", st.tuples(names, data), check)
