"""The one place that opens DuckDB connections.

Every connection the project makes goes through :func:`connect`: an absolute path, one constant
configuration (no extension auto-install or auto-load, a memory limit, spilling to DuckDB's
default temp folder ``<database>.tmp``), and, for connections that read untrusted files,
external access restricted to the input directories with the configuration locked.

The file is attached (as the catalog ``warehouse``, made the default) to a named in-memory
DuckDB instance, one per file and process, so that it can be written with row groups of
:data:`ROW_GROUP_SIZE` rows instead of DuckDB's 122,880: DuckDB gives each thread a row group,
and the per-session tables (tens to hundreds of thousands of rows) would otherwise be read and
written by one or two threads. Connections to the same file in one process share the instance,
as they do when DuckDB opens a file directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from signal_pipeline.reliability.file_modes import forbid_world_write

DEFAULT_MEMORY_LIMIT = "4GB"

#: Rows per row group written to the warehouse (DuckDB's default is 122,880): half, so that a
#: 150k-row session table is two and a half row groups, read and written by both threads of a
#: two-core machine. Measured in BENCHMARKS.md (feature chain); tables grow by 3-8 %.
ROW_GROUP_SIZE = 61_440

#: The catalog name the warehouse file is attached as.
CATALOG = "warehouse"


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
    temp_dir = Path(f"{path}.tmp")  # the spill folder, beside the database as DuckDB's default
    config = _base_config(memory_limit, threads)
    config["temp_directory"] = str(temp_dir)
    instance = ":memory:signal_pipeline_" + hashlib.sha256(str(path).encode()).hexdigest()[:24]
    con = duckdb.connect(instance, config=config)
    try:
        _attach(con, path, read_only=read_only)
    except duckdb.IOException as exc:
        con.close()
        if "lock" in str(exc).lower():
            raise DatabaseBusyError(
                f"database busy: {path} is locked by another process (a running Dagster UI run "
                "or another signal-pipeline command). Wait for it to finish, or use another --db."
            ) from exc
        raise
    except BaseException:
        con.close()
        raise
    if allowed_directories is not None:
        allowed = [str(Path(d).expanduser().resolve()) for d in allowed_directories]
        allowed.append(str(temp_dir))
        # Order matters: the list first, then switch external access off, then lock.
        con.execute("SET allowed_directories = ?", [[d.rstrip("/") + "/" for d in allowed]])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def _attach(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
    """Attach ``path`` as :data:`CATALOG` unless this process's instance already holds it, and
    make it the connection's default catalog."""
    row = con.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = ?", [CATALOG]
    ).fetchone()
    if row is None:
        options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"
        con.execute(f"ATTACH IF NOT EXISTS ? AS {CATALOG} ({options})", [str(path)])
    elif row[0] and not read_only:
        raise RuntimeError(
            f"{path} is open read-only in this process; close those connections before "
            "writing to it"
        )
    con.execute(f"USE {CATALOG}")


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
