"""The one place that opens DuckDB connections.

Every connection the project makes goes through :func:`connect`: an absolute path, one constant
configuration (no extension auto-install or auto-load, a memory limit, spilling to DuckDB's
default temp folder ``<database>.tmp``), and, for connections that read untrusted files,
external access restricted to the input directories with the configuration locked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from signal_pipeline.reliability.file_modes import forbid_world_write

DEFAULT_MEMORY_LIMIT = "4GB"


class DatabaseBusyError(RuntimeError):
    """The DuckDB file is locked by another process (for example a running Dagster UI run)."""


def _base_config(memory_limit: str | None, threads: int | None) -> dict[str, str | bool | int]:
    config: dict[str, str | bool | int] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT,
    }
    if threads:
        config["threads"] = threads
    return config


def connect(
    database: str | Path,
    *,
    read_only: bool = False,
    allowed_directories: Sequence[str | Path] | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection on ``database`` (made absolute; parent folder created).

    With ``allowed_directories`` the connection can read files only below those folders (and its
    own temp folder): external access is disabled, and the configuration is locked so SQL cannot
    loosen it. Raises :class:`DatabaseBusyError` with a clear message when another process holds
    the file's write lock.
    """
    forbid_world_write()  # the user's umask, plus o-w: no file we write is world-writable
    path = Path(database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = Path(f"{path}.tmp")  # DuckDB's default spill folder beside the database
    config = _base_config(memory_limit, threads)
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseBusyError(
                f"database busy: {path} is locked by another process (a running Dagster UI run "
                "or another signal-pipeline command). Wait for it to finish, or use another --db."
            ) from exc
        raise
    if allowed_directories is not None:
        allowed = [str(Path(d).expanduser().resolve()) for d in allowed_directories]
        allowed.append(str(temp_dir))
        # Order matters: the list first, then switch external access off, then lock.
        con.execute("SET allowed_directories = ?", [[d.rstrip("/") + "/" for d in allowed]])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


@contextmanager
def open_db(
    database: str | Path,
    *,
    read_only: bool = False,
    allowed_directories: Sequence[str | Path] | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around :func:`connect` that always closes the connection."""
    con = connect(
        database,
        read_only=read_only,
        allowed_directories=allowed_directories,
        memory_limit=memory_limit,
        threads=threads,
    )
    try:
        yield con
    finally:
        con.close()


def parse_sql_json(sql: str) -> str:
    """DuckDB's own parse of ``sql`` as JSON (``json_serialize_sql``), on a private in-memory
    connection that touches no file: used to check SQL models' syntax at definition load."""
    parser = duckdb.connect(":memory:", config=_base_config(None, 1))
    try:
        rows = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    finally:
        parser.close()
    return str(rows[0][0]) if rows else "{}"


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when ``table`` exists in the main schema."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_name = ?",
        [table],
    ).fetchall()
    return bool(rows and rows[0][0])
