"""Build SQL models in DuckDB: each one atomically, in dependency order.

A ``table`` model is rebuilt with ``CREATE OR REPLACE TABLE``. A ``view`` model
(``-- materialized: view``) becomes a DuckDB view, computed when read: readers that need a few of
its columns pay only for those (DuckDB prunes unused columns, window functions and joins). The
parameters a view was built with are frozen beside it in the table ``<view>__model_params`` (the
view reads that table, not the session's ``model_params``), so a view means the same thing to
every later reader, whatever parameters that reader's own run registers.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from signal_pipeline.sql_models.catalog import RUNTIME_TABLES, SqlModel
from signal_pipeline.sql_models.params import ModelParams, register_model_params

PARAMS_TABLE = next(iter(RUNTIME_TABLES))
FROZEN_PARAMS_SUFFIX = "__model_params"


def quote_identifier(name: str) -> str:
    """Quote a table or column name that comes from code (a model's file name)."""
    return '"' + name.replace('"', '""') + '"'


def frozen_params_table(model: SqlModel) -> str:
    """The table holding the parameters a view model was built with."""
    return f"{model.name}{FROZEN_PARAMS_SUFFIX}"


def _model_body(sql: str) -> str:
    """The model's SELECT without trailing ``;`` (safe to wrap in parentheses)."""
    body = sql.rstrip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return body


def existing_kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """``"table"``, ``"view"`` or None: what ``name`` currently is in the main schema."""
    row = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        [name],
    ).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def _create_statements(con: duckdb.DuckDBPyConnection, model: SqlModel) -> list[str]:
    """The DDL that (re)creates ``model`` (run inside one transaction)."""
    table = quote_identifier(model.name)
    statements: list[str] = []
    current = existing_kind(con, model.name)
    if current is not None and current != model.materialized:
        statements.append(f"DROP {current.upper()} {table}")
    if model.materialized == "table":
        statements.append(f"CREATE OR REPLACE TABLE {table} AS\n{model.sql}")
        return statements
    frozen = quote_identifier(frozen_params_table(model))
    statements.append(f"CREATE OR REPLACE TABLE {frozen} AS SELECT * FROM {PARAMS_TABLE}")
    statements.append(
        f"CREATE OR REPLACE VIEW {table} AS\n"
        f"WITH {PARAMS_TABLE} AS (SELECT * FROM {frozen})\n"
        f"SELECT * FROM (\n{_model_body(model.sql)}\n) AS {quote_identifier(model.name + '_rows')}"
    )
    return statements


def build_model(
    con: duckdb.DuckDBPyConnection, model: SqlModel, params: ModelParams | None = None
) -> int:
    """(Re)build ``model``'s table or view in one transaction and return its row count.

    Inside a transaction: readers, and a run killed half-way, see the previous complete table
    (or view) until the commit. Counting a view's rows reads only what ``count(*)`` needs.
    """
    register_model_params(con, params or ModelParams())
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in _create_statements(con, model):
            con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return count_rows(con, model.name)


def count_rows(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rows of table or view ``name``.

    Counted as ``count(<column> IS NULL)`` (never NULL, so every row counts): a plain
    ``count(*)`` over a view makes DuckDB keep every column, window and join of the view, while
    naming one column lets it prune the rest. The column is the first of a fixed-width type
    (a timestamp or a number reads faster than an id string), else the first.
    """
    table = quote_identifier(name)
    columns = con.execute(f"DESCRIBE {table}").fetchall()
    fixed = [row[0] for row in columns if _is_fixed_width(str(row[1]))]
    counted = fixed[0] if fixed else columns[0][0]
    row = con.execute(f"SELECT count({quote_identifier(counted)} IS NULL) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _is_fixed_width(column_type: str) -> bool:
    """A scalar type stored in a fixed number of bytes (not text, blob, list, struct or map)."""
    variable = ("VARCHAR", "BLOB", "BIT", "STRUCT", "MAP", "UNION", "[]", "JSON")
    return not any(marker in column_type.upper() for marker in variable)


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
