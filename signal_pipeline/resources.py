"""Dagster resources: the DuckDB warehouse, the event source and the model artifact store."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

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

    def session_tables(
        self,
        inputs: Sequence[str],
        outputs: Sequence[str] = (),
        optional: Sequence[str] = (),
    ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection holding the tables ``inputs`` (and ``optional`` when they exist) for an
        asset body that is the same on both engines: the warehouse file itself on DuckDB; on
        Spark a scratch driver copy of those warehouse tables whose ``outputs`` are written back
        when the block succeeds (:func:`signal_pipeline.spark.driver_tables.driver_copy`)."""
        if self.engine.is_spark:
            from signal_pipeline.spark.driver_tables import driver_copy

            return driver_copy(self.engine, inputs, outputs, optional)
        return self.get_connection()

    def stored_metadata(self, table: str | None = None) -> dict[str, Any]:
        """Where the engine stored ``table``: ``engine`` and ``path`` on Spark, nothing on DuckDB
        (the table's own metadata says the rest)."""
        if not self.engine.is_spark:
            return {}
        from signal_pipeline.spark.driver_tables import engine_metadata

        return engine_metadata(self.engine, table)

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
