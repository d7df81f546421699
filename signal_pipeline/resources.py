"""Dagster resources: the DuckDB warehouse, the event source and the model artifact store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from signal_pipeline import db
from signal_pipeline.engine import EngineConfig


class WarehouseResource(DuckDBResource):
    """The project's DuckDB file. Connections come from :func:`signal_pipeline.db.connect`.

    A connection request waits (with back-off, up to ``busy_timeout_s``) while another process
    holds the file's lock, then fails with one clear "database busy" message.
    """

    memory_limit: str = Field(
        default=db.DEFAULT_MEMORY_LIMIT,
        description="DuckDB memory_limit; larger work spills to <database>.tmp.",
    )
    busy_timeout_s: float = Field(
        default=120.0, description="How long to wait for another writer to release the file."
    )
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="Which engine builds the tables: duckdb (this file) or spark (docs/spark.md).",
    )

    @contextmanager
    def get_connection(  # type: ignore[override]
        self, allowed_directories: list[Path] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open a connection (waiting while the file is busy) and always close it.

        With ``allowed_directories`` the connection may read files only below them (see
        :func:`signal_pipeline.db.connect`): used for reading untrusted input files.
        """
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.1
        while True:
            try:
                con = db.connect(
                    self.database,
                    memory_limit=self.memory_limit,
                    allowed_directories=allowed_directories,
                )
                break
            except db.DatabaseBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        try:
            yield con
        finally:
            con.close()

    @property
    def path(self) -> Path:
        """Absolute path of the database file."""
        return Path(self.database).expanduser().resolve()


class EventSourceResource(dg.ConfigurableResource):
    """Where raw event files are read from (files, directories or globs) and in what format."""

    paths: list[str] = Field(description="Event files, directories or glob patterns.")
    format: str = Field(
        default="auto", description="auto | native | snowplow | segment (auto-detected per file)."
    )


class ArtifactStoreResource(dg.ConfigurableResource):
    """Folder holding persisted cluster models (one file set per version)."""

    directory: str = Field(description="Folder for cluster model artifacts.")

    @property
    def path(self) -> Path:
        """Absolute folder path (created on first use)."""
        folder = Path(self.directory).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
