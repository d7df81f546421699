"""Discover the SQL models in ``dbt_like_sql/`` and derive their dependencies with sqlglot.

One file is one table is one asset: ``page_views.sql`` builds the table ``page_views``. A model is
a single DuckDB ``SELECT`` (CTEs welcome); its upstream tables are the tables it reads, found by
parsing the SQL, never from a hand-kept list. Header comment lines (``-- ...``) before the first
statement are the asset's description; a line ``-- group: NAME`` sets its asset group and a line
``-- materialized: view`` (default ``table``) makes the model a DuckDB view instead of a table:
for per-event models whose readers each need a few columns (DuckDB prunes the rest).

Errors (syntax, a reference to an unknown table, a cycle) are raised as :class:`SqlModelError` at
definition load, naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import orjson
import sqlglot
from sqlglot import exp

from signal_pipeline.db import parse_sql_json

#: Tables the runner provides to every model for its run (not assets): one row of parameters.
RUNTIME_TABLES = frozenset({"model_params"})

SQL_DIALECT = "duckdb"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"

_GROUP_LINE = re.compile(r"^--\s*group:\s*(?P<group>[a-z_][a-z0-9_]*)\s*$")
_MATERIALIZED_LINE = re.compile(r"^--\s*materialized:\s*(?P<kind>\S+)\s*$")

#: How a model can be stored: a table (rebuilt atomically) or a view (computed when read).
MATERIALIZATIONS = ("table", "view")


class SqlModelError(ValueError):
    """A SQL model that cannot be loaded: the message names the file and line."""


@dataclass(frozen=True)
class SqlModel:
    """One SQL file: the table it builds, its SQL, and the tables it reads."""

    name: str
    path: Path
    sql: str
    upstream: tuple[str, ...]
    description: str
    group: str
    materialized: str = "table"

    @property
    def expression(self) -> exp.Expression:
        """The parsed statement (parsed again on each access; cheap for model-sized SQL)."""
        return sqlglot.parse_one(self.sql, read=SQL_DIALECT)


def _header(sql: str, path: Path) -> tuple[str, str | None, str]:
    """Description, group and materialization from the leading ``--`` comment lines."""
    lines: list[str] = []
    group: str | None = None
    materialized = "table"
    for number, raw in enumerate(sql.splitlines(), start=1):
        line = raw.strip()
        if not line:
            if lines:
                lines.append("")
            continue
        if not line.startswith("--"):
            break
        match = _GROUP_LINE.match(line)
        if match:
            group = match.group("group")
            continue
        kind = _MATERIALIZED_LINE.match(line)
        if kind:
            materialized = kind.group("kind")
            if materialized not in MATERIALIZATIONS:
                raise SqlModelError(
                    f"{path}:{number}: materialized must be one of {', '.join(MATERIALIZATIONS)}, "
                    f"not {materialized!r}"
                )
            continue
        lines.append(line[2:].strip())
    return "\n".join(lines).strip(), group, materialized


def _line_of(sql: str, name: str) -> int:
    pattern = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    for number, line in enumerate(sql.splitlines(), start=1):
        code = line.split("--", 1)[0]
        if pattern.search(code):
            return number
    return 1


def check_duckdb_syntax(sql: str, path: Path) -> None:
    """Parse ``sql`` with DuckDB's own parser (no tables needed); raise naming file and line."""
    result = orjson.loads(parse_sql_json(sql))
    if result.get("error"):
        position = int(result.get("position") or 0)
        line = sql.count("\n", 0, position) + 1
        raise SqlModelError(f"{path}:{line}: SQL syntax error: {result.get('error_message')}")


def referenced_tables(sql: str, path: Path) -> tuple[str, ...]:
    """The tables a model's SQL reads (CTE names and runtime tables excluded), sorted."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=SQL_DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise SqlModelError(
            f"{path}:{first.get('line', '?')}:{first.get('col', '?')}: SQL syntax error: "
            f"{first.get('description', exc)}"
        ) from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlModelError(f"{path}:1: a model must be exactly one SELECT statement")
    check_duckdb_syntax(sql, path)  # sqlglot is lenient; DuckDB's parser is the authority
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = {
        table.name
        for table in tree.find_all(exp.Table)
        if table.name and table.name not in ctes and table.name not in RUNTIME_TABLES
    }
    return tuple(sorted(tables))


def load_model(path: Path, default_group: str = "sql_models") -> SqlModel:
    """Parse one ``.sql`` file into a :class:`SqlModel`."""
    sql = path.read_text(encoding="utf-8")
    description, group, materialized = _header(sql, path)
    return SqlModel(
        name=path.stem,
        path=path,
        sql=sql,
        upstream=referenced_tables(sql, path),
        description=description or f"SQL model {path.name}",
        group=group or default_group,
        materialized=materialized,
    )


def load_models(
    models_dir: Path = DEFAULT_MODELS_DIR, external_tables: Iterable[str] = ()
) -> dict[str, SqlModel]:
    """Load every model in ``models_dir``, checking references and cycles.

    ``external_tables`` are the tables produced outside the SQL folder (Python assets); a model
    reading anything that is neither a model nor one of those fails here, naming file and line.
    Returns the models in dependency order.
    """
    if not models_dir.is_dir():
        raise SqlModelError(f"{models_dir}: SQL model folder not found")
    models = {m.name: m for m in (load_model(p) for p in sorted(models_dir.glob("*.sql")))}
    known = set(models) | set(external_tables)
    for model in models.values():
        for table in model.upstream:
            if table not in known:
                line = _line_of(model.sql, table)
                raise SqlModelError(
                    f"{model.path}:{line}: unknown table '{table}' (not a SQL model in "
                    f"{models_dir.name}/ nor a pipeline asset: {', '.join(sorted(known))})"
                )
    graph = {m.name: [u for u in m.upstream if u in models] for m in models.values()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise SqlModelError(f"{models_dir}: SQL models form a cycle: {cycle}") from exc
    return {name: models[name] for name in order}
