"""Build SQL models in DuckDB: each one atomically, in dependency order."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from signal_pipeline.sql_models.catalog import SqlModel
from signal_pipeline.sql_models.params import ModelParams, register_model_params


def quote_identifier(name: str) -> str:
    """Quote a table or column name that comes from code (a model's file name)."""
    return '"' + name.replace('"', '""') + '"'


def build_model(
    con: duckdb.DuckDBPyConnection, model: SqlModel, params: ModelParams | None = None
) -> int:
    """(Re)build ``model``'s table in one transaction and return its row count.

    ``CREATE OR REPLACE TABLE`` inside a transaction: readers, and a run killed half-way, see the
    previous complete table until the commit.
    """
    register_model_params(con, params or ModelParams())
    table = quote_identifier(model.name)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS\n{model.sql}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def build_models(
    con: duckdb.DuckDBPyConnection,
    models: dict[str, SqlModel],
    names: Iterable[str] | None = None,
    params: ModelParams | None = None,
) -> dict[str, int]:
    """Build ``names`` (default: all) in the dependency order of ``models``; row counts by name."""
    wanted = set(names) if names is not None else set(models)
    return {
        name: build_model(con, model, params) for name, model in models.items() if name in wanted
    }
