"""Files larger than one DuckDB read are ingested in parts with exact line numbers: forced here
with a tiny ``max_read_bytes`` so a small file is cut into many parts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files, typed_json_lines
from signal_pipeline.ingest.parts import file_parts
from signal_pipeline_tests.ingest_helpers import event
from signal_pipeline_tests.test_ingest_typed_path import MIXED_LINES, NOW


def _line(**overrides: object) -> bytes:
    return json.dumps(event(**overrides)).encode()


def _numbered_lines(n: int) -> list[bytes]:
    """Valid events whose event_id names their line number."""
    return [_line(event_id=f"line-{i}", anonymous_id=f"a{i % 7}") for i in range(1, n + 1)]


def _tables(
    con_path: Path, paths: list[Path], *, typed: bool, max_read_bytes: int, restricted: bool
) -> tuple[list, list, dict]:
    allowed = sorted({p.parent for p in paths}) if restricted else None
    con = db.connect(con_path, allowed_directories=allowed)
    settings = IngestSettings(
        now=NOW, max_line_bytes=2000, typed_json_lines=typed, max_read_bytes=max_read_bytes
    )
    report = ingest_files(con, paths, settings)
    staged = con.execute("SELECT * FROM staged_events ORDER BY source_file, source_line").fetchall()
    quarantined = con.execute(
        "SELECT * FROM quarantined_events ORDER BY source_file, source_line"
    ).fetchall()
    con.close()
    assert report.reconciles
    assert report.lines_read == report.landed + report.duplicates + report.quarantined
    counts = {
        "lines_read": report.lines_read,
        "landed": report.landed,
        "duplicates": report.duplicates,
        "by_reason": report.quarantined_by_reason,
    }
    return staged, quarantined, counts


def test_file_parts_cut_at_line_ends_and_number_lines(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    pieces = [b"a" * 50, b"", b"bb", b"c" * 300, b"dd\r", b"e"]
    pieces += [b"f" * (i % 90) for i in range(40)]
    data = b"\n".join(pieces) + b"\n" + b"tail"
    source.write_bytes(data)
    scratch = tmp_path / "scratch"
    seen = []
    for part in file_parts(source, 64, scratch):
        content = part.path.read_bytes()
        assert part.is_copy
        seen.append((part.first_line, content))
    # Every part but the last ends with a newline; together they are the file, byte for byte.
    assert b"".join(content for _, content in seen) == data
    assert all(content.endswith(b"\n") for _, content in seen[:-1])
    assert len(seen) > 10
    # first_line counts the lines of the earlier parts.
    lines_before = 0
    for first_line, content in seen:
        assert first_line == lines_before
        lines_before += content.count(b"\n")
    # The copies are gone once the parts have been read.
    assert list(scratch.rglob("part_*")) == []
    # A file within the limit is its own single part, not copied.
    (whole,) = list(file_parts(source, len(data), None))
    assert (whole.path, whole.first_line, whole.is_copy) == (source, 0, False)
    with pytest.raises(ValueError, match="scratch"):
        list(file_parts(source, 64, None))


@pytest.mark.parametrize("restricted", [True, False])
def test_parts_give_the_same_tables_and_line_numbers(tmp_path: Path, restricted: bool) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    numbered = folder / "a_numbered.jsonl"
    lines = _numbered_lines(120)
    numbered.write_bytes(b"\n".join(lines) + b"\n")
    mixed = folder / "b_mixed.jsonl"  # bad lines of every kind, CRLF, BOM, blank lines
    mixed.write_bytes(b"\r\n".join([*MIXED_LINES, b"", b"   ", *lines[:5]]))
    paths = [numbered, mixed]

    whole = _tables(
        tmp_path / "whole.duckdb", paths, typed=True, max_read_bytes=1 << 30, restricted=restricted
    )
    for typed in (True, False):
        cut = _tables(
            tmp_path / f"cut_{typed}.duckdb",
            paths,
            typed=typed,
            max_read_bytes=700,  # many parts per file, some with a blank line (per-line parser)
            restricted=restricted,
        )
        assert cut == whole
    staged, quarantined, counts = whole
    assert counts["lines_read"] == len(lines) + len(MIXED_LINES) + 2 + 5
    # Line numbers are global: event_id line-k sits on line k of the numbered file.
    by_file = [(row[-1], row[0]) for row in staged if Path(row[-2]).name == numbered.name]
    assert by_file == [(i, f"line-{i}") for i in range(1, len(lines) + 1)]
    # The BOM is stripped from line 1; the 5 copied lines (and MIXED_LINES' repeated good-1)
    # are duplicates.
    assert "bom" in {row[0] for row in staged}
    assert counts["duplicates"] == 5 + 1
    reasons = {(Path(r[0]).name, r[1]): r[3] for r in quarantined}
    blank_line = len(MIXED_LINES) + 1
    assert reasons[(mixed.name, blank_line)] == "invalid_json"
    assert reasons[(mixed.name, MIXED_LINES.index(b"[1, 2, 3]") + 1)] == "not_an_object"
    assert reasons[(mixed.name, MIXED_LINES.index(b'{"event_id": "u\xff"}') + 1)] == "invalid_utf8"


def test_lines_are_numbered_by_row_id_and_by_ordinality_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parallel read numbers lines by row id when the plan keeps file order; a connection
    that does not preserve insertion order gets ``WITH ORDINALITY`` instead, same result."""
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "events.jsonl"
    lines = _numbered_lines(3000)
    source.write_bytes(b"\n".join(lines) + b"\n" + b"[1]\n")
    modes: list[bool] = []
    original = typed_json_lines._typed_reader_sql

    def recording(numbered: bool) -> str:
        modes.append(numbered)
        return original(numbered)

    monkeypatch.setattr(typed_json_lines, "_typed_reader_sql", recording)
    results = []
    for preserve in (True, False):
        modes.clear()
        con = duckdb.connect(
            str(tmp_path / f"order_{preserve}.duckdb"),
            config={"preserve_insertion_order": preserve},
        )
        con.execute("SET allowed_directories = ?", [[str(folder) + "/"]])
        con.execute("SET enable_external_access = false")
        report = ingest_files(con, [source], IngestSettings(now=NOW))
        assert report.reconciles and report.landed == len(lines)
        results.append(
            con.execute("SELECT source_line, event_id FROM staged_events ORDER BY 1").fetchall()
        )
        quarantined = con.execute("SELECT source_line, reason FROM quarantined_events").fetchall()
        assert quarantined == [(len(lines) + 1, "not_an_object")]
        con.close()
        # The insert that reads the file: numbered by ordinality only without preserved order.
        assert modes[-1] is (not preserve)
    assert results[0] == results[1] == [(i, f"line-{i}") for i in range(1, len(lines) + 1)]
