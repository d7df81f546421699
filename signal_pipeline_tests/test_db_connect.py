"""`db.connect`: the warehouse file is attached with the project's row-group size, connections in
one process share it, and read-only / read-write mixes fail clearly."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from signal_pipeline import db


def row_groups(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Row groups of ``table`` in the connection's default catalog."""
    row = con.execute(
        "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info(?)", [table]
    ).fetchone()
    return int(row[0]) if row else 0


def test_tables_are_written_in_row_groups_of_the_project_size(tmp_path: Path) -> None:
    rows = 3 * db.ROW_GROUP_SIZE + 10
    with db.open_db(tmp_path / "w.duckdb") as con:
        con.execute("CREATE TABLE t AS SELECT range AS i FROM range(?)", [rows])
        assert con.execute("SELECT current_database()").fetchone() == (db.CATALOG,)
        assert row_groups(con, "t") == 4  # DuckDB's default size would give 2
    # The file is an ordinary DuckDB file: a plain client reads it back.
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as plain:
        assert plain.execute("SELECT count(*), sum(i) FROM t").fetchone() == (
            rows,
            rows * (rows - 1) // 2,
        )


def test_connections_in_one_process_share_the_file(tmp_path: Path) -> None:
    database = tmp_path / "shared.duckdb"
    with db.open_db(database) as writer:
        writer.execute("CREATE TABLE t AS SELECT 1 AS x")
        with db.open_db(database) as second, db.open_db(database, read_only=True) as reader:
            second.execute("INSERT INTO t VALUES (2)")
            assert reader.execute("SELECT sum(x) FROM t").fetchone() == (3,)
        assert writer.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_writing_while_the_file_is_open_read_only_in_the_process_fails_clearly(
    tmp_path: Path,
) -> None:
    database = tmp_path / "ro.duckdb"
    with db.open_db(database) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    with db.open_db(database, read_only=True) as reader:
        with pytest.raises(RuntimeError, match="open read-only in this process"):
            db.connect(database)
        assert reader.execute("SELECT x FROM t").fetchone() == (1,)
    with db.open_db(database) as con:  # once the readers are closed, writing works again
        con.execute("INSERT INTO t VALUES (2)")
        assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_spilling_goes_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "spill.duckdb"
    with db.open_db(database) as con:
        row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    assert row == (f"{database.resolve()}.tmp",)
