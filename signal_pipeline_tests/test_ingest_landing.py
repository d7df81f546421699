"""``land_window``: the staged table is handed over to ``raw_events`` (no second copy) when the
window holds every staged and landed row, and every other case keeps the delete + insert
semantics: partitions replaced exactly, idempotent, lookback, staged_events always readable."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.ingest.landing import land_window, staged_is_handed_over

SETTINGS = IngestSettings(earliest=date(2024, 1, 1))


def _write(path: Path, days: list[int], prefix: str) -> Path:
    """One canonical event per entry of ``days`` (May 2024), ids ``<prefix><i>``."""
    lines = [
        json.dumps(
            {
                "event_id": f"{prefix}{i}",
                "ts": f"2024-05-{day:02d}T10:00:00Z",
                "event_type": "page_view",
                "anonymous_id": "a1",
                "page_url": "https://shop.example.com/pricing",
            }
        )
        for i, day in enumerate(days)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    connection = db.connect(tmp_path / "w.duckdb", allowed_directories=[tmp_path / "in"])
    yield connection
    connection.close()


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY event_id").fetchall()


def _per_day(con: duckdb.DuckDBPyConnection) -> dict[int, list[str]]:
    rows = con.execute(
        "SELECT day(event_date), list(event_id ORDER BY event_id) FROM raw_events GROUP BY 1"
    ).fetchall()
    return dict(rows)


def test_whole_range_hands_the_staged_table_over(con, tmp_path: Path) -> None:
    source = _write(tmp_path / "in" / "a.jsonl", [1, 2, 2, 3], "a")
    ingest_files(con, [source], SETTINGS)
    staged = _rows(con, "staged_events")
    counts = land_window(con, date(2024, 5, 1), date(2024, 5, 4), 0)
    assert counts == {
        "replaced_rows": 0,
        "landed_rows": 4,
        "late_events_landed": 0,
        "handed_over": 1,
    }
    assert staged_is_handed_over(con)
    assert _rows(con, "raw_events") == staged
    assert _rows(con, "staged_events") == staged
    # Landing again (any window) while handed over replaces rows with themselves.
    again = land_window(con, date(2024, 5, 2), date(2024, 5, 3), 3)
    assert again == {
        "replaced_rows": 2,
        "landed_rows": 2,
        "late_events_landed": 0,
        "handed_over": 0,
    }
    assert _rows(con, "raw_events") == staged


def test_next_ingest_replaces_the_view_and_partial_windows_copy(con, tmp_path: Path) -> None:
    first = _write(tmp_path / "in" / "a.jsonl", [1, 2, 3], "a")
    ingest_files(con, [first], SETTINGS)
    land_window(con, date(2024, 5, 1), date(2024, 5, 4), 0)
    second = _write(tmp_path / "in" / "b.jsonl", [2, 3, 3, 4], "b")
    ingest_files(con, [second], SETTINGS)
    assert not staged_is_handed_over(con)
    assert [r[0] for r in _rows(con, "staged_events")] == ["b0", "b1", "b2", "b3"]
    # raw_events holds day 1 outside the window: a copy of the window, day 1 kept.
    counts = land_window(con, date(2024, 5, 2), date(2024, 5, 5), 0)
    assert counts["handed_over"] == 0
    assert counts["replaced_rows"] == 2 and counts["landed_rows"] == 4
    assert _per_day(con) == {1: ["a0"], 2: ["b0"], 3: ["b1", "b2"], 4: ["b3"]}
    assert not staged_is_handed_over(con)
    # Idempotent: the same window again gives the same table.
    before = _rows(con, "raw_events")
    land_window(con, date(2024, 5, 2), date(2024, 5, 5), 0)
    assert _rows(con, "raw_events") == before


def test_staged_rows_outside_the_window_are_copied_not_handed_over(con, tmp_path: Path) -> None:
    source = _write(tmp_path / "in" / "a.jsonl", [1, 2, 3], "a")
    ingest_files(con, [source], SETTINGS)
    one_day = land_window(con, date(2024, 5, 2), date(2024, 5, 3), 0)
    assert one_day["handed_over"] == 0 and one_day["landed_rows"] == 1
    assert _per_day(con) == {2: ["a1"]}
    # A later run over the whole range: day 2 is inside it, so the staged table is handed over.
    whole = land_window(con, date(2024, 5, 1), date(2024, 5, 4), 0)
    assert whole["handed_over"] == 1 and whole["replaced_rows"] == 1
    assert _per_day(con) == {1: ["a0"], 2: ["a1"], 3: ["a2"]}


def test_a_failed_landing_leaves_both_tables(con, tmp_path: Path) -> None:
    source = _write(tmp_path / "in" / "a.jsonl", [1, 2], "a")
    ingest_files(con, [source], SETTINGS)
    staged = _rows(con, "staged_events")
    con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events WHERE false")
    con.execute("ALTER TABLE raw_events ADD COLUMN extra INTEGER")  # no longer the same shape
    with pytest.raises(duckdb.Error):
        land_window(con, date(2024, 5, 2), date(2024, 5, 3), 0)
    assert _rows(con, "staged_events") == staged
    assert not staged_is_handed_over(con)
