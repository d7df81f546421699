"""Column lineage of a SQL model, derived with sqlglot from the SQL and its inputs' schemas."""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node
from sqlglot.lineage import lineage as sqlglot_lineage

from signal_pipeline.sql_models.catalog import RUNTIME_TABLES, SQL_DIALECT, SqlModel

Schema = Mapping[str, Mapping[str, str]]


def _upstream_columns(node: Node, schema: Schema) -> list[tuple[str, str]]:
    deps: set[tuple[str, str]] = set()
    for leaf in node.walk():
        if isinstance(leaf.expression, exp.Table):
            table = leaf.expression.name
            if table in schema and table not in RUNTIME_TABLES:
                deps.add((table, leaf.name.split(".")[-1]))
    return sorted(deps)


def column_lineage(
    model: SqlModel, output_columns: list[str], schema: Schema
) -> dict[str, list[tuple[str, str]]]:
    """For every output column, the (upstream table, column) pairs it is computed from.

    ``schema`` maps each upstream table to its columns and types (from DuckDB at run time), so
    ``SELECT *`` expands correctly. The query is qualified once and every column's graph is built
    in one sqlglot pass with a shared cache (well under a second for the largest model).
    Columns whose lineage sqlglot cannot resolve map to ``[]``.
    """
    plain_schema = {t: dict(cols) for t, cols in schema.items()}
    try:
        nodes = sqlglot_lineage(
            None, model.sql, schema=plain_schema, dialect=SQL_DIALECT, trim_selects=False
        )
    except SqlglotError:
        nodes = {}
    assert isinstance(nodes, dict)
    return {
        column: _upstream_columns(nodes[column], schema) if column in nodes else []
        for column in output_columns
    }
