"""Dagster materialization metadata for DuckDB tables: row count, schema, lineage, preview."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import duckdb

from signal_pipeline.sql_models.runner import count_rows, existing_kind, quote_identifier

PREVIEW_ROWS = 10


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (cells escaped and shortened)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """The table's columns and DuckDB types."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=n, type=t) for n, t in rows])


def table_metadata(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    lineage: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    where: str | None = None,
    params: Sequence[Any] = (),
    row_count: int | None = None,
) -> dict[str, Any]:
    """Standard metadata for a table: ``dagster/row_count``, ``dagster/column_schema``, a preview.

    ``where`` (code-supplied SQL with ``?`` placeholders bound to ``params``) restricts the count
    and preview, e.g. to a partition. ``lineage`` maps each column to its upstream
    (table, column) pairs and becomes ``dagster/column_lineage``. ``row_count``, when the caller
    already counted the rows, is used instead of counting again.

    A view (``-- materialized: view``) is computed when read: it is counted through one column
    (DuckDB prunes the rest) and gets no row preview, which would compute every column of every
    row (window functions cannot stop at ``LIMIT``).
    """
    if where is None and existing_kind(con, table) == "view":
        return _view_metadata(con, table, lineage, row_count)
    name = quote_identifier(table)
    clause = f" WHERE {where}" if where else ""
    if row_count is None:
        count_row = con.execute(f"SELECT count(*) FROM {name}{clause}", list(params)).fetchone()
        row_count = int(count_row[0]) if count_row else 0
    preview = con.execute(f"SELECT * FROM {name}{clause} LIMIT {PREVIEW_ROWS}", list(params))
    columns = [d[0] for d in preview.description]
    preview_rows = preview.fetchall()  # before the next query on `con` discards the result
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": table_schema(con, table),
        "preview": dg.MetadataValue.md(markdown_table(columns, preview_rows)),
        "dagster/table_name": dg.MetadataValue.text(table),
    }
    return with_lineage(metadata, lineage)


def _view_metadata(
    con: duckdb.DuckDBPyConnection,
    view: str,
    lineage: Mapping[str, Sequence[tuple[str, str]]] | None,
    row_count: int | None,
) -> dict[str, Any]:
    count = count_rows(con, view) if row_count is None else row_count
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(count),
        "dagster/column_schema": table_schema(con, view),
        "preview": dg.MetadataValue.md(
            f"`{view}` is a **view**, computed when read (no per-row copy is stored). "
            f"Query it like a table, e.g. `SELECT * FROM {view} LIMIT 10`; readers that select "
            "a few columns pay only for those."
        ),
        "dagster/table_name": dg.MetadataValue.text(view),
    }
    return with_lineage(metadata, lineage)


def with_lineage(
    metadata: dict[str, Any], lineage: Mapping[str, Sequence[tuple[str, str]]] | None
) -> dict[str, Any]:
    """``metadata`` plus ``dagster/column_lineage`` when ``lineage`` is given."""
    if lineage:
        metadata["dagster/column_lineage"] = dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=dg.AssetKey(up_table), column_name=up_column)
                    for up_table, up_column in deps
                ]
                for column, deps in lineage.items()
            }
        )
    return metadata
