"""Materialization metadata of a view: counted cheaply, described instead of previewed."""

from __future__ import annotations

from pathlib import Path

from signal_pipeline import db
from signal_pipeline.metadata import table_metadata


def test_a_view_is_counted_and_described_without_a_row_preview(db_path: Path) -> None:
    with db.open_db(db_path) as con:
        con.execute("CREATE TABLE events AS SELECT range AS n, range % 7 AS s FROM range(1000)")
        con.execute(
            "CREATE VIEW numbered AS SELECT n, s, row_number() OVER (PARTITION BY s ORDER BY n) "
            "AS seq FROM events"
        )
        view = table_metadata(con, "numbered")
        table = table_metadata(con, "events")
    assert view["dagster/row_count"].value == 1000
    assert [c.name for c in view["dagster/column_schema"].columns] == ["n", "s", "seq"]
    assert "view" in view["preview"].value and "|" not in view["preview"].value
    assert table["dagster/row_count"].value == 1000
    assert table["preview"].value.count("\n") == 11  # header, rule and 10 rows
