"""SQL models materialized as views: the ``-- materialized: view`` header, frozen parameters,
switching a model between table and view, and row counts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from signal_pipeline.sql_models import ModelParams, SqlModelError, build_model, load_models
from signal_pipeline.sql_models.runner import count_rows, existing_kind, frozen_params_table

EVENTS_SQL = """
CREATE TABLE raw_events AS
SELECT * FROM (VALUES ('e1', 10.0), ('e2', 2000.0), ('e3', NULL)) AS t(event_id, gap_s)
"""

LONG_GAPS_SQL = """-- Events whose gap is longer than the session gap parameter.
-- materialized: {kind}
-- group: sessions
SELECT e.event_id, e.gap_s > p.session_gap_s AS is_long
FROM raw_events AS e
CROSS JOIN model_params AS p
"""


def write_model(folder: Path, kind: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "long_gaps.sql"
    path.write_text(LONG_GAPS_SQL.format(kind=kind), encoding="utf-8")
    return path


@pytest.fixture()
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "views.duckdb"))
    connection.execute(EVENTS_SQL)
    yield connection
    connection.close()


def long_gaps(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT event_id, is_long FROM long_gaps ORDER BY event_id").fetchall()


def test_header_sets_the_materialization(tmp_path: Path) -> None:
    write_model(tmp_path / "views", "view")
    model = load_models(tmp_path / "views", external_tables=["raw_events"])["long_gaps"]
    assert model.materialized == "view"
    assert "materialized" not in model.description  # the header line is not description text
    write_model(tmp_path / "tables", "table")
    assert load_models(tmp_path / "tables", ["raw_events"])["long_gaps"].materialized == "table"


def test_unknown_materialization_names_file_and_line(tmp_path: Path) -> None:
    path = write_model(tmp_path / "bad", "ephemeral")
    with pytest.raises(SqlModelError, match=rf"{path.name}:2: materialized must be one of"):
        load_models(tmp_path / "bad", external_tables=["raw_events"])


def test_view_keeps_the_parameters_it_was_built_with(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(tmp_path / "m", "view")
    model = load_models(tmp_path / "m", external_tables=["raw_events"])["long_gaps"]
    assert build_model(con, model, ModelParams(session_gap_s=100.0)) == 3
    assert existing_kind(con, "long_gaps") == "view"
    assert long_gaps(con) == [("e1", False), ("e2", True), ("e3", None)]
    # Another model's run registers other parameters: the view still means gap > 100 s.
    con.execute("CREATE OR REPLACE TEMP TABLE model_params AS SELECT 5.0 AS session_gap_s")
    assert long_gaps(con) == [("e1", False), ("e2", True), ("e3", None)]
    frozen = con.execute(f'SELECT session_gap_s FROM "{frozen_params_table(model)}"').fetchall()
    assert frozen == [(100.0,)]
    # Rebuilding the view with new parameters changes it.
    build_model(con, model, ModelParams(session_gap_s=5.0))
    assert long_gaps(con) == [("e1", True), ("e2", True), ("e3", None)]


def test_view_is_visible_from_another_connection(tmp_path: Path) -> None:
    database = tmp_path / "shared.duckdb"
    writer = duckdb.connect(str(database))
    writer.execute(EVENTS_SQL)
    write_model(tmp_path / "m", "view")
    model = load_models(tmp_path / "m", external_tables=["raw_events"])["long_gaps"]
    build_model(writer, model, ModelParams(session_gap_s=100.0))
    writer.close()
    with duckdb.connect(str(database), read_only=True) as reader:
        assert long_gaps(reader) == [("e1", False), ("e2", True), ("e3", None)]


def test_a_model_switches_between_table_and_view(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    write_model(tmp_path / "t", "table")
    write_model(tmp_path / "v", "view")
    as_table = load_models(tmp_path / "t", external_tables=["raw_events"])["long_gaps"]
    as_view = load_models(tmp_path / "v", external_tables=["raw_events"])["long_gaps"]
    build_model(con, as_table)
    assert existing_kind(con, "long_gaps") == "table"
    build_model(con, as_view)
    assert existing_kind(con, "long_gaps") == "view"
    build_model(con, as_table)
    assert existing_kind(con, "long_gaps") == "table"
    assert long_gaps(con) == [("e1", False), ("e2", True), ("e3", None)]


def test_count_rows_counts_rows_with_nulls(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE VIEW only_nulls AS SELECT NULL AS a, 1 AS b FROM range(4)")
    assert count_rows(con, "only_nulls") == 4
    assert count_rows(con, "raw_events") == 3
