"""The typed ``read_json`` fast path for native JSON lines gives the same tables, byte for byte,
as the per-line parser, on every bad-line kind, duplicates, CRLF, BOM and blank lines."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import signal_pipeline.ingest.native as native
from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.ingest.line_index import read_raw_lines, scan_lines
from signal_pipeline_tests.ingest_helpers import event

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def dumps(**overrides: object) -> bytes:
    return json.dumps(event(**overrides)).encode()


# One line of every kind the per-line parser distinguishes, and the typed reader's edge cases.
MIXED_LINES: list[bytes] = [
    b"\xef\xbb\xbf" + dumps(event_id="bom"),
    dumps(event_id="good-1", scroll_depth_pct=55, x=0.25, y=1, hover_ms=1e2, revenue="12.50"),
    dumps(event_id="epoch-s", ts=1714557600),
    dumps(event_id="epoch-ms", ts="1714557600123"),
    dumps(event_id="offset", ts="2024-05-01T10:00:00+02:00"),
    dumps(event_id="naive", ts="2024-05-01 10:00:00"),
    dumps(event_id="nested", element={"id": "cta", "n": [1, 2.50, True]}, campaign=None),
    dumps(event_id="numbers-as-text", user_id=12345678901234567890, session_id=-0.0),
    dumps(event_id="cased", Page_Type="pricing", page_type="Specs"),
    b'{"event_id": "dup-key", "event_id": "other", "ts": "2024-05-01T10:00:00Z", '
    b'"event_type": "click", "anonymous_id": "a1"}',
    b'{"event_id": "trailing-comma", "ts": "2024-05-01T10:00:00Z", "event_type": "click",'
    b' "anonymous_id": "a1",}',
    b"\t" + dumps(event_id="tab-led"),
    dumps(event_id="ws-trail") + b"   ",
    dumps(event_id="crlf") + b"\r",
    b'{"event_id": "e-broken", ',
    b"[1, 2, 3]",
    b'"just a string"',
    b"null",
    b"{}",
    dumps(event_id="two-objects") + dumps(event_id="second"),
    b'{"event_id": "u\xff"}',
    dumps(event_id=None),
    dumps(event_id="   "),
    dumps(event_id="no-identity", anonymous_id=None),
    dumps(event_id="bad-ts", ts="yesterday-ish"),
    dumps(event_id="future", ts="2024-06-03T00:00:00Z"),
    dumps(event_id="ancient", ts="1999-12-31T23:59:59Z"),
    dumps(event_id="teleport", event_type="teleport"),
    dumps(event_id="neg-hover", event_type="hover", hover_ms=-5),
    dumps(event_id="scroll-140", scroll_depth_pct=140),
    dumps(event_id="bool-x", x=True),
    dumps(event_id="text-x", x="lots"),
    b'{"event_id": "nan-x", "ts": "2024-05-01T10:00:00Z", "event_type": "click", '
    b'"anonymous_id": "a1", "x": NaN}',
    dumps(event_id="oversize", element="x" * 3000),
    dumps(event_id="good-1", scroll_depth_pct=55, x=0.25, y=1, hover_ms=1e2, revenue="12.50"),
    dumps(event_id="conflict", element="first"),
    dumps(event_id="conflict", element="second"),
    dumps(event_id="injection", element="a'); DROP TABLE sessions; --"),
    dumps(event_id="last-no-newline"),
]


def ingest_tables(paths: list[Path], typed: bool, workdir: Path) -> tuple[list, list, dict]:
    """Both output tables (every column, in a fixed order) and the report's counts."""
    con = db.connect(workdir / f"typed_{typed}.duckdb")
    settings = IngestSettings(now=NOW, max_line_bytes=2000, typed_json_lines=typed)
    report = ingest_files(con, paths, settings)
    staged = con.execute("SELECT * FROM staged_events ORDER BY source_file, source_line").fetchall()
    quarantined = con.execute(
        "SELECT * FROM quarantined_events ORDER BY source_file, source_line"
    ).fetchall()
    con.close()
    assert report.reconciles
    counts = {
        "lines_read": report.lines_read,
        "landed": report.landed,
        "duplicates": report.duplicates,
        "by_reason": report.quarantined_by_reason,
    }
    return staged, quarantined, counts


@pytest.fixture
def typed_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Record, per file, whether the typed path handled it (False = handed back)."""
    calls: list[tuple[str, bool]] = []
    original = native.load_typed_json_lines

    def recording(con, source, limits):  # type: ignore[no-untyped-def]
        used = original(con, source, limits)
        calls.append((source.path.name, used))
        return used

    monkeypatch.setattr(native, "load_typed_json_lines", recording)
    yield calls


def test_typed_path_matches_per_line_parser_on_mixed_files(
    tmp_path: Path, typed_calls: list[tuple[str, bool]]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    mixed = folder / "a_mixed.jsonl"
    mixed.write_bytes(b"\r\n".join(MIXED_LINES))  # CRLF endings, BOM, no final newline
    blank = folder / "b_blank_lines.jsonl"
    blank.write_bytes(b"\n".join([dumps(event_id="b1"), b"", b"  ", dumps(event_id="good-1")]))
    across = folder / "c_across_files.jsonl"
    across.write_bytes(dumps(event_id="conflict", element="third") + b"\n" + dumps(event_id="z"))
    paths = [mixed, blank, across]

    fast = ingest_tables(paths, typed=True, workdir=tmp_path)
    slow = ingest_tables(paths, typed=False, workdir=tmp_path)

    assert fast == slow
    # The typed path really ran on the mixed file and handed the blank-line file back.
    assert dict(typed_calls) == {mixed.name: True, blank.name: False, across.name: True}
    staged, quarantined, counts = fast
    assert counts["lines_read"] == len(MIXED_LINES) + 4 + 2
    reasons = {(Path(r[0]).name, r[1]): r[3] for r in quarantined}
    assert reasons[(mixed.name, MIXED_LINES.index(b"[1, 2, 3]") + 1)] == "not_an_object"
    assert reasons[(mixed.name, MIXED_LINES.index(b'{"event_id": "u\xff"}') + 1)] == "invalid_utf8"
    assert {"oversize_line", "invalid_json", "conflicting_duplicate", "value_out_of_range"} <= set(
        counts["by_reason"]
    )
    landed_ids = {row[0] for row in staged}
    assert {"bom", "crlf", "tab-led", "trailing-comma", "last-no-newline"} <= landed_ids


def test_line_scan_counts_lines_and_finds_oversize(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"ab\r\n" + b"x" * 50 + b"\n\n\xef\xbb\xbfc\xff\nlast")
    scan = scan_lines(path, limit_bytes=10)
    assert (scan.n_lines, scan.oversize_lines, scan.max_line_bytes) == (5, (2,), 50)
    assert scan.has_empty_lines and not scan.has_suspect_bytes
    numbers, texts, bad = read_raw_lines(path, [5, 1, 4, 9])
    assert numbers == [1, 4, 5]
    assert texts == ["ab", "\ufeffc\\xff", "last"]  # a BOM is stripped from line 1 only
    assert bad == [False, True, False]


TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=20
)
VALUES = st.one_of(st.none(), TEXT, st.booleans(), st.integers(-(10**20), 10**20), st.floats())
EVENTS = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(["e1", "e2", "e3", ""]) | TEXT,
        "ts": st.sampled_from(
            ["2024-05-01T10:00:00Z", "2024-05-01 10:00", "1714557600", 1714557600123, "x", None]
        ),
        "event_type": st.sampled_from(["page_view", "click", "hover", "teleport", "Other"]),
    },
    optional={
        "anonymous_id": st.sampled_from(["a1", " "]) | TEXT,
        "user_id": VALUES,
        "page_type": st.sampled_from(["pricing", "SPECS", "nope"]),
        "page_url": st.sampled_from(["/", "/pricing", "https://x/specs?q=1"]) | TEXT,
        "hover_ms": VALUES,
        "scroll_depth_pct": VALUES,
        "x": VALUES,
        "element": VALUES,
    },
)
LINES = st.one_of(
    EVENTS.map(lambda e: json.dumps(e, ensure_ascii=False).encode()),
    EVENTS.map(lambda e: json.dumps(e).encode() + b"\r"),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"[1]", b'"s"', b"{}", b"{", b" ", b'{"event_id": "e1"} {}']),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(LINES, min_size=1, max_size=15), min_size=1, max_size=2))
def test_typed_path_matches_per_line_parser_on_generated_files(files: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = []
        for i, lines in enumerate(files):
            path = folder / f"events_{i}.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            paths.append(path)
        fast = ingest_tables(paths, typed=True, workdir=Path(tmp))
        slow = ingest_tables(paths, typed=False, workdir=Path(tmp))
    assert fast == slow
