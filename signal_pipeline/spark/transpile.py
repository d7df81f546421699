"""Transpile the DuckDB SQL models to Spark SQL with sqlglot, once, at definition load.

The models stay written in DuckDB's dialect (``dbt_like_sql/``); :func:`transpile_models` turns
every one into Spark SQL and fails on the first construct sqlglot cannot express in Spark,
naming the file (``SparkTranspileError``). On top of sqlglot's own translation two small,
generic rewrites keep results identical across engines:

* **A left fold becomes Spark's ``aggregate``.** DuckDB's ``list_reduce(list, lambda, initial)``
  (the three-argument form) is Spark's ``aggregate(list, initial, lambda)``: the same fold over
  the same order. sqlglot knows the fold (``exp.Reduce``) but not DuckDB's name for it.

* **Decimal literals become doubles.** DuckDB evaluates ``x / 1000000.0`` and ``0.4 * x`` in
  floating point (or exact decimal that then meets a DOUBLE); Spark types ``1000000.0`` as
  ``DECIMAL(8,1)`` and would run ``BIGINT / DECIMAL`` in decimal arithmetic, rounding to its
  result scale (six digits). Writing such literals as ``1000000.0D`` gives Spark the same
  double arithmetic DuckDB uses, so features agree to floating-point rounding.

Two checks make a non-portable model fail here, at load, naming the file and line, rather than
in the middle of a run: a function sqlglot does not know (it would be copied verbatim, e.g.
``epoch_us``, ``list_stddev_pop``, ``regexp_full_match``: DuckDB-only names Spark lacks) and a
join method Spark has no equivalent for (``ASOF``, ``POSITIONAL``). Anything else sqlglot cannot
express raises too (``ErrorLevel.RAISE``). Fix such a model by writing the SQL portably, not by
patching here: see docs/spark.md for the constructs to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from signal_pipeline.sql_models import SqlModel
from signal_pipeline.sql_models.catalog import SQL_DIALECT

SPARK_DIALECT = "spark"


class SparkTranspileError(ValueError):
    """A SQL model that cannot be expressed in Spark SQL: the message names the file."""


@dataclass(frozen=True)
class SparkModel:
    """A SQL model with its Spark SQL text (upstream tables as in the DuckDB model)."""

    name: str
    path: Path
    spark_sql: str
    upstream: tuple[str, ...]


def _decimal_literals_as_double(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.Literal)
        and node.is_number
        and "." in node.this
        and "e" not in node.this.lower()
    ):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    return node


def _list_reduce_as_fold(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "list_reduce"
        and len(node.expressions) == 3
    ):
        items, merge, initial = (arg.copy() for arg in node.expressions)
        return exp.Reduce(this=items, initial=initial, merge=merge)
    return node


#: Join methods of DuckDB that Spark SQL does not have.
NON_PORTABLE_JOIN_METHODS = frozenset({"ASOF", "POSITIONAL"})


def non_portable_constructs(tree: exp.Expression) -> list[tuple[str, int | None]]:
    """``(construct, line)`` of every function sqlglot does not know and every DuckDB-only join
    in a parsed DuckDB model (empty when it is portable)."""
    found: list[tuple[str, int | None]] = []
    for function in tree.find_all(exp.Anonymous):
        found.append((f"function {function.name}() is not known to sqlglot", _line(function)))
    for join in tree.find_all(exp.Join):
        method = str(join.args.get("method") or "").upper()
        if method in NON_PORTABLE_JOIN_METHODS:
            found.append((f"{method} JOIN has no Spark equivalent", _line(join.this)))
    return found


def _line(node: exp.Expression) -> int | None:
    token_line = node.meta.get("line") if node.meta else None
    if token_line is None and isinstance(node.this, exp.Expression):
        return _line(node.this)
    return token_line


def transpile_sql(sql: str, path: Path) -> str:
    """Spark SQL for one DuckDB model; ``SparkTranspileError`` names ``path`` on failure."""
    try:
        tree = sqlglot.parse_one(sql, read=SQL_DIALECT).transform(_list_reduce_as_fold)
        problems = non_portable_constructs(tree)
        if problems:
            construct, line = problems[0]
            where = f"{path}:{line}" if line else str(path)
            raise SparkTranspileError(f"{where}: cannot run on Spark: {construct}")
        tree = tree.transform(_decimal_literals_as_double)
        return tree.sql(
            dialect=SPARK_DIALECT, unsupported_level=sqlglot.ErrorLevel.RAISE, comments=False
        )
    except SqlglotError as exc:
        raise SparkTranspileError(f"{path}: cannot run on Spark: {exc}") from exc


def transpile_model(model: SqlModel) -> SparkModel:
    """The Spark version of ``model``."""
    return SparkModel(
        name=model.name,
        path=model.path,
        spark_sql=transpile_sql(model.sql, model.path),
        upstream=model.upstream,
    )


def transpile_models(models: Mapping[str, SqlModel]) -> dict[str, SparkModel]:
    """Every model transpiled, in the (dependency) order of ``models``."""
    return {name: transpile_model(model) for name, model in models.items()}
