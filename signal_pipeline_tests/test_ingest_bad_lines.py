"""Ingest: every bad-input kind alone, reconciliation, duplicates, timestamps and safety."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestReport, IngestSettings, ingest_files
from signal_pipeline_tests.ingest_helpers import event

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = IngestSettings(now=NOW)
STAGED_COLUMNS = [
    "event_id", "ts", "event_date", "event_type", "event_name", "anonymous_id", "user_id",
    "session_id", "page_url", "page_type", "page_view_id", "element", "scroll_depth_pct",
    "hover_ms", "x", "y", "user_agent", "device_type", "campaign", "experiment", "variant",
    "revenue", "source_format", "source_file", "source_line",
]  # fmt: skip
QUARANTINE_COLUMNS = ["source_file", "source_line", "source_format", "reason", "detail", "raw_line"]


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    path.write_bytes(data)
    return path


def ingest(
    tmp_path: Path, paths: list[Path], settings: IngestSettings = SETTINGS
) -> tuple[duckdb.DuckDBPyConnection, IngestReport]:
    con = db.connect(tmp_path / "out" / "signal.duckdb")
    report = ingest_files(con, paths, settings)
    assert report.reconciles, report
    return con, report


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT source_line, reason, detail, raw_line FROM quarantined_events ORDER BY source_line"
    ).fetchall()


BAD_LINES: list[tuple[str, str | bytes, str]] = [
    ("invalid_json", '{"event_id": "e1", ', "not valid JSON"),
    ("not_an_object", "[1, 2, 3]", "array"),
    ("missing_event_id", json.dumps(event(event_id=None)), "event_id"),
    ("missing_identity", json.dumps(event(anonymous_id=None)), "anonymous_id"),
    ("unparseable_timestamp", json.dumps(event(ts="yesterday-ish")), "yesterday-ish"),
    ("timestamp_in_future", json.dumps(event(ts="2024-06-03T00:00:00Z")), "2024-06-03"),
    ("timestamp_before_start", json.dumps(event(ts="1999-12-31T23:59:59Z")), "2000-01-01"),
    ("unknown_event_type", json.dumps(event(event_type="teleport")), "teleport"),
    ("value_out_of_range", json.dumps(event(event_type="hover", hover_ms=-5)), "hover_ms=-5"),
    ("value_out_of_range", json.dumps(event(scroll_depth_pct=140)), "scroll_depth_pct=140"),
    ("value_out_of_range", json.dumps(event(x=1.5)), "x=1.5"),
    ("value_out_of_range", json.dumps(event(y=-0.1)), "y=-0.1"),
    ("value_out_of_range", json.dumps(event(event_type="purchase", revenue=-1)), "revenue=-1"),
    ("value_out_of_range", json.dumps(event(event_type="hover", hover_ms=9e7)), "hover_ms=9"),
    ("value_out_of_range", json.dumps(event(event_type="purchase", revenue=2e12)), "revenue=2"),
    ("value_out_of_range", json.dumps(event(hover_ms="lots")), "not a finite number"),
    ("invalid_utf8", b'{"event_id": "e1", "anonymous_id": "a\xff\xfe"}', "UTF-8"),
]


@pytest.mark.parametrize(("reason", "line", "detail_part"), BAD_LINES)
def test_each_bad_line_is_quarantined_alone(
    tmp_path: Path, reason: str, line: str | bytes, detail_part: str
) -> None:
    good = json.dumps(event(event_id="good"))
    path = write_lines(tmp_path / "in" / "events.jsonl", [good, line, good.replace("good", "g2")])
    con, report = ingest(tmp_path, [path])
    assert report.lines_read == 3
    assert report.landed == 2
    assert report.quarantined == 1
    assert report.quarantined_by_reason == {reason: 1}
    [(source_line, got_reason, detail, raw_line)] = quarantined(con)
    assert (source_line, got_reason) == (2, reason)
    assert detail_part in detail
    if isinstance(line, str):
        assert raw_line == line
    else:
        assert "\\xff\\xfe" in raw_line  # invalid bytes kept, escaped


def test_oversize_line_is_quarantined_with_truncated_raw_line(tmp_path: Path) -> None:
    long_line = json.dumps(event(element="x" * 5000))
    path = write_lines(tmp_path / "in" / "e.jsonl", [long_line, json.dumps(event(event_id="e2"))])
    con, report = ingest(tmp_path, [path], IngestSettings(now=NOW, max_line_bytes=1000))
    assert report.quarantined_by_reason == {"oversize_line": 1}
    assert report.landed == 1
    [(line_no, _, detail, raw)] = quarantined(con)
    assert line_no == 1 and "limit 1000" in detail
    assert long_line.startswith(raw)


def test_empty_line_in_the_middle_is_counted_not_lost(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in" / "e.jsonl", [json.dumps(event()), "", "  "])
    con, report = ingest(tmp_path, [path])
    assert (report.lines_read, report.landed, report.quarantined) == (3, 1, 2)
    assert {r[1] for r in quarantined(con)} == {"invalid_json"}


def test_empty_file_gives_empty_tables_with_contract_schema(tmp_path: Path) -> None:
    path = tmp_path / "in" / "empty.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"")
    con, report = ingest(tmp_path, [path])
    assert (report.lines_read, report.landed, report.quarantined) == (0, 0, 0)
    staged = con.execute("DESCRIBE staged_events").fetchall()
    assert [r[0] for r in staged] == STAGED_COLUMNS
    assert dict((r[0], r[1]) for r in staged)["ts"] == "TIMESTAMP"
    assert [r[0] for r in con.execute("DESCRIBE quarantined_events").fetchall()] == (
        QUARANTINE_COLUMNS
    )
    assert con.execute("SELECT count(*) FROM staged_events").fetchall() == [(0,)]


def test_crlf_and_bom_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "in" / "crlf.jsonl"
    path.parent.mkdir()
    body = "\r\n".join(json.dumps(event(event_id=f"e{i}")) for i in range(3)) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    _, report = ingest(tmp_path, [path])
    assert (report.lines_read, report.landed) == (3, 3)


def test_timestamps_epoch_and_offsets_become_utc(tmp_path: Path) -> None:
    expected = datetime(2024, 5, 1, 10, 0, 0)
    variants = {
        "iso_z": "2024-05-01T10:00:00Z",
        "offset": "2024-05-01T12:00:00+02:00",
        "negative_offset": "2024-05-01T05:30:00-04:30",
        "naive": "2024-05-01T10:00:00",
        "naive_space": "2024-05-01 10:00:00",
        "epoch_s": 1714557600,
        "epoch_s_text": "1714557600",
        "epoch_ms": 1714557600000,
        "epoch_ms_text": "1714557600000",
        "epoch_s_fraction": 1714557600.0,
    }
    lines = [json.dumps(event(event_id=name, ts=ts)) for name, ts in variants.items()]
    con, report = ingest(tmp_path, [write_lines(tmp_path / "in" / "ts.jsonl", lines)])
    assert report.landed == len(variants)
    got = dict(con.execute("SELECT event_id, ts FROM staged_events").fetchall())
    assert got == dict.fromkeys(variants, expected)
    dates = con.execute("SELECT DISTINCT event_date FROM staged_events").fetchall()
    assert dates == [(date(2024, 5, 1),)]
    late = json.dumps(event(event_id="late", ts="2024-05-01T23:30:00-02:00"))
    con2, _ = ingest(tmp_path / "b", [write_lines(tmp_path / "b" / "in" / "l.jsonl", [late])])
    assert con2.execute("SELECT event_date FROM staged_events").fetchall() == [(date(2024, 5, 2),)]


def test_future_tolerance_is_applied(tmp_path: Path) -> None:
    soon = (NOW + timedelta(hours=23)).isoformat()
    later = (NOW + timedelta(hours=25)).isoformat()
    lines = [json.dumps(event(event_id="soon", ts=soon)), json.dumps(event(event_id="x", ts=later))]
    _con, report = ingest(tmp_path, [write_lines(tmp_path / "in" / "f.jsonl", lines)])
    assert report.landed == 1 and report.quarantined_by_reason == {"timestamp_in_future": 1}


def test_duplicates_across_files_exact_and_conflicting(tmp_path: Path) -> None:
    first = event(event_id="dup", ts="2024-05-01T10:00:00Z")
    exact_copy = dict(first)
    conflicting = event(event_id="dup", ts="2024-05-01T10:00:00Z", element="other_button")
    earlier_conflict = event(event_id="early", ts="2024-05-01T09:00:00Z", page_url="/specs")
    later_original = event(event_id="early", ts="2024-05-01T11:00:00Z")
    a = write_lines(tmp_path / "in" / "a.jsonl", [json.dumps(first), json.dumps(later_original)])
    b = write_lines(
        tmp_path / "in" / "b.jsonl",
        [json.dumps(exact_copy), json.dumps(conflicting), json.dumps(earlier_conflict)],
    )
    con, report = ingest(tmp_path, [a, b])
    assert (report.lines_read, report.landed, report.duplicates, report.quarantined) == (5, 2, 1, 2)
    assert report.quarantined_by_reason == {"conflicting_duplicate": 2}
    assert report.by_file[str(b.resolve())] == {
        "lines_read": 3, "landed": 1, "duplicates": 1, "quarantined": 1,
    }  # fmt: skip
    kept = dict(
        con.execute(
            "SELECT event_id, source_file || ':' || source_line FROM staged_events"
        ).fetchall()
    )
    assert kept == {"dup": f"{a.resolve()}:1", "early": f"{b.resolve()}:3"}
    details = dict(
        con.execute(
            "SELECT source_file || ':' || source_line, detail FROM quarantined_events"
        ).fetchall()
    )
    assert set(details) == {f"{b.resolve()}:2", f"{a.resolve()}:2"}
    assert details[f"{b.resolve()}:2"].endswith("different element")
    assert f"already landed from {b.resolve()}:3" in details[f"{a.resolve()}:2"]


def test_same_input_twice_gives_identical_tables(tmp_path: Path) -> None:
    lines = [json.dumps(event(event_id=f"e{i}", ts=1714557600 + i)) for i in range(20)]
    lines += ["not json", json.dumps(event(event_id="e3"))]
    path = write_lines(tmp_path / "in" / "e.jsonl", lines)
    con = db.connect(tmp_path / "out.duckdb")
    snapshots = []
    for _ in range(2):
        ingest_files(con, [path], SETTINGS)
        snapshots.append(
            (
                sorted(con.execute("SELECT * FROM staged_events").fetchall()),
                sorted(con.execute("SELECT * FROM quarantined_events").fetchall()),
            )
        )
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0][0]) == 20


def test_path_with_quotes_and_glob_characters(tmp_path: Path) -> None:
    folder = tmp_path / "in" / 'it\'s "quoted"'
    weird = write_lines(folder / "we'ird [1]*.jsonl", [json.dumps(event(event_id="w"))])
    write_lines(folder / "we'ird 1x.jsonl", [json.dumps(event(event_id="decoy"))])
    con, report = ingest(tmp_path, [weird])
    assert report.lines_read == 1
    assert con.execute("SELECT event_id, source_file FROM staged_events").fetchall() == [
        ("w", str(weird.resolve()))
    ]


def test_injection_string_is_stored_verbatim(tmp_path: Path) -> None:
    evil = "a'); DROP TABLE sessions; --"
    line = json.dumps(event(anonymous_id=evil, element=evil, event_type="click"))
    con = db.connect(tmp_path / "out.duckdb")
    con.execute("CREATE TABLE sessions (x INTEGER)")
    ingest_files(con, [write_lines(tmp_path / "in" / "e.jsonl", [line])], SETTINGS)
    row = con.execute("SELECT anonymous_id, element FROM staged_events").fetchall()
    assert row == [(evil, evil)]
    assert db.table_exists(con, "sessions")


def test_page_type_rules_and_unknown_given_page_type(tmp_path: Path) -> None:
    urls = {
        "home": "https://x.example/",
        "specs": "https://x.example/products/a/specs?x=1",
        "pricing": "/pricing",
        "comparison": "https://x.example/compare/a-vs-b",
        "product": "https://x.example/product/123",
        "checkout": "https://x.example/cart",
        "other": "https://x.example/blog/post",
    }
    lines = [json.dumps(event(event_id=k, page_url=u)) for k, u in urls.items()]
    lines.append(json.dumps(event(event_id="given", page_type="Pricing", page_url="/blog")))
    lines.append(json.dumps(event(event_id="unknown_given", page_type="landing", page_url="/cart")))
    con, _ = ingest(tmp_path, [write_lines(tmp_path / "in" / "p.jsonl", lines)])
    got = dict(con.execute("SELECT event_id, page_type FROM staged_events").fetchall())
    assert got == {**{k: k for k in urls}, "given": "pricing", "unknown_given": "checkout"}
    custom = IngestSettings(now=NOW, page_type_rules=((r"^/blog", "specs"),))
    con2, _ = ingest(
        tmp_path / "b", [write_lines(tmp_path / "b" / "in" / "p.jsonl", lines)], custom
    )
    assert con2.execute(
        "SELECT page_type FROM staged_events WHERE event_id = 'other'"
    ).fetchall() == [("specs",)]


def test_other_event_always_has_event_name(tmp_path: Path) -> None:
    lines = [
        json.dumps(event(event_type="other")),
        json.dumps(event(event_id="n", event_type="other", event_name="x")),
    ]
    con, _ = ingest(tmp_path, [write_lines(tmp_path / "in" / "o.jsonl", lines)])
    names = dict(con.execute("SELECT event_id, event_name FROM staged_events").fetchall())
    assert names == {"e1": "other", "n": "x"}


def test_native_csv_and_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    csv_path = folder / "events.csv"
    csv_path.write_text(
        "event_id,ts,event_type,anonymous_id,page_url,scroll_depth_pct\n"
        "c1,2024-05-01T10:00:00Z,scroll,a1,/pricing,55\n"
        "c2,2024-05-01T10:00:01Z,scroll,a1,/pricing,155\n"
    )
    source = duckdb.connect()
    parquet_path = folder / "events.parquet"
    source.execute(
        "COPY (SELECT 'p1' AS event_id, TIMESTAMP '2024-05-01 11:00:00' AS ts, "
        "'click' AS event_type, 'a2' AS anonymous_id, 0.5 AS x) TO ? (FORMAT parquet)",
        [str(parquet_path)],
    )
    source.close()
    con, report = ingest(tmp_path, [folder])
    assert report.formats == {
        str(csv_path.resolve()): "native/csv",
        str(parquet_path.resolve()): "native/parquet",
    }
    assert (report.lines_read, report.landed, report.quarantined) == (3, 2, 1)
    assert con.execute("SELECT source_line, reason FROM quarantined_events").fetchall() == [
        (2, "value_out_of_range")
    ]
    rows = dict(
        con.execute("SELECT event_id, coalesce(scroll_depth_pct, x) FROM staged_events").fetchall()
    )
    assert rows == {"c1": 55.0, "p1": 0.5}


def test_reader_connection_cannot_read_outside_input_directories(tmp_path: Path) -> None:
    secret = tmp_path / "secret" / "data.csv"
    secret.parent.mkdir()
    secret.write_text("event_id\nsecret\n")
    inputs = tmp_path / "in"
    path = write_lines(inputs / "e.jsonl", [json.dumps(event())])
    restricted = db.connect(tmp_path / "out.duckdb", allowed_directories=[inputs])
    report = ingest_files(restricted, [path], SETTINGS)  # a restricted con reads directly
    assert report.landed == 1
    with pytest.raises(duckdb.Error):
        restricted.execute("SELECT * FROM read_csv(?)", [str(secret)]).fetchall()
    with pytest.raises(PermissionError):
        ingest_files(restricted, [secret], SETTINGS)
    with pytest.raises(duckdb.Error):
        restricted.execute("SET enable_external_access = true")
