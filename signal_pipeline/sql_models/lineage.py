"""Column lineage of a SQL model, derived with sqlglot from the SQL and its inputs' schemas."""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.lineage import lineage as sqlglot_lineage

from signal_pipeline.sql_models.catalog import SQL_DIALECT, SqlModel

Schema = Mapping[str, Mapping[str, str]]


def column_lineage(
    model: SqlModel, output_columns: list[str], schema: Schema
) -> dict[str, list[tuple[str, str]]]:
    """For every output column, the (upstream table, column) pairs it is computed from.

    ``schema`` maps each upstream table to its columns and types (from DuckDB at run time), so
    ``SELECT *`` expands correctly. Columns whose lineage sqlglot cannot resolve map to ``[]``.
    """
    tree = sqlglot.parse_one(model.sql, read=SQL_DIALECT)
    result: dict[str, list[tuple[str, str]]] = {}
    plain_schema = {t: dict(cols) for t, cols in schema.items()}
    for column in output_columns:
        deps: set[tuple[str, str]] = set()
        try:
            node = sqlglot_lineage(column, tree, schema=plain_schema, dialect=SQL_DIALECT)
        except Exception:  # sqlglot raises plain exceptions for unresolvable columns
            result[column] = []
            continue
        for leaf in node.walk():
            if isinstance(leaf.expression, exp.Table):
                table = leaf.expression.name
                up_column = leaf.name.split(".")[-1]
                if table in schema and table != "model_params":
                    deps.add((table, up_column))
        result[column] = sorted(deps)
    return result
