"""The SQL model loader: dependencies from the SQL, clear errors at load, atomic builds."""

from pathlib import Path

import pytest

from signal_pipeline.db import open_db
from signal_pipeline.sql_models import ModelParams, SqlModelError, build_models, load_models
from signal_pipeline.sql_models.lineage import column_lineage


def write(folder: Path, name: str, sql: str) -> None:
    (folder / f"{name}.sql").write_text(sql, encoding="utf-8")


def test_dependencies_come_from_the_sql(tmp_path: Path) -> None:
    write(tmp_path, "b", "-- B reads A.\n-- group: sessions\nSELECT x * 2 AS y FROM a")
    write(tmp_path, "a", "WITH src AS (SELECT x FROM raw_events) SELECT x FROM src")
    models = load_models(tmp_path, external_tables=["raw_events"])
    assert list(models) == ["a", "b"]  # dependency order, not file order
    assert models["a"].upstream == ("raw_events",)  # the CTE name is not a dependency
    assert models["b"].upstream == ("a",)
    assert models["b"].group == "sessions"
    assert models["b"].description == "B reads A."


def test_model_params_is_not_a_dependency(tmp_path: Path) -> None:
    write(tmp_path, "m", "SELECT p.session_gap_s FROM raw_events CROSS JOIN model_params p")
    assert load_models(tmp_path, external_tables=["raw_events"])["m"].upstream == ("raw_events",)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "broken", "-- header\nSELECT a,\nFROM FROM raw_events\n")
    with pytest.raises(SqlModelError, match=r"broken\.sql:3"):
        load_models(tmp_path, external_tables=["raw_events"])


def test_unknown_table_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "m", "-- header\nSELECT *\nFROM no_such_table\n")
    with pytest.raises(SqlModelError, match=r"m\.sql:3: unknown table 'no_such_table'"):
        load_models(tmp_path, external_tables=["raw_events"])


def test_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a", "SELECT * FROM b")
    write(tmp_path, "b", "SELECT * FROM a")
    with pytest.raises(SqlModelError, match="cycle"):
        load_models(tmp_path)


def test_more_than_one_statement_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "m", "SELECT 1; DROP TABLE raw_events")
    with pytest.raises(SqlModelError, match="exactly one SELECT"):
        load_models(tmp_path)


def test_build_is_atomic_and_uses_params(tmp_path: Path) -> None:
    write(tmp_path, "a", "SELECT x, p.heartbeat_s AS hb FROM raw_events CROSS JOIN model_params p")
    write(tmp_path, "b", "SELECT x / (SELECT count(*) FROM a WHERE x = 0) AS y FROM a")
    models = load_models(tmp_path, external_tables=["raw_events"])
    with open_db(tmp_path / "t.duckdb") as con:
        con.execute("CREATE TABLE raw_events AS SELECT range AS x FROM range(3)")
        counts = build_models(con, models, params=ModelParams(heartbeat_s=7.0))
        assert counts == {"a": 3, "b": 3}
        assert con.execute("SELECT DISTINCT hb FROM a").fetchall() == [(7.0,)]
        before = con.execute("SELECT y FROM b ORDER BY y").fetchall()
        # A failing rebuild (division by zero in integer-cast) leaves the previous table intact.
        con.execute("DELETE FROM raw_events WHERE x = 0")
        build_models(con, models, names=["a"])
        write(tmp_path, "b", "SELECT CAST('not a number' AS INTEGER) AS y FROM a")
        broken = load_models(tmp_path, external_tables=["raw_events"])
        with pytest.raises(Exception, match="Conversion"):
            build_models(con, broken, names=["b"])
        assert con.execute("SELECT y FROM b ORDER BY y").fetchall() == before


def test_column_lineage_follows_ctes_and_star(tmp_path: Path) -> None:
    write(
        tmp_path,
        "m",
        "WITH e AS (SELECT * FROM raw_events) "
        "SELECT e.session_id, max(e.ts) AS last_ts, count(*) AS n FROM e GROUP BY 1",
    )
    model = load_models(tmp_path, external_tables=["raw_events"])["m"]
    schema = {"raw_events": {"session_id": "VARCHAR", "ts": "TIMESTAMP"}}
    lineage = column_lineage(model, ["session_id", "last_ts", "n"], schema)
    assert lineage["session_id"] == [("raw_events", "session_id")]
    assert lineage["last_ts"] == [("raw_events", "ts")]
    assert lineage["n"] == []
