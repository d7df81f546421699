"""Project paths and their environment overrides, resolved when definitions load (not at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_DB = "SIGNAL_PIPELINE_DB"
ENV_EVENTS = "SIGNAL_PIPELINE_EVENTS"
ENV_ARTIFACTS = "SIGNAL_PIPELINE_ARTIFACTS"
ENV_PARTITION_START = "SIGNAL_PIPELINE_PARTITION_START"
ENV_FORMAT = "SIGNAL_PIPELINE_FORMAT"

DEFAULT_PARTITION_START = "2020-01-01"


@dataclass(frozen=True)
class PipelinePaths:
    """Where the pipeline reads events and writes its database and model artifacts."""

    database: Path
    events: tuple[Path, ...]
    artifacts: Path
    events_format: str = "auto"


def resolve_paths() -> PipelinePaths:
    """Paths from the environment, with defaults inside the project's ``data/`` folder.

    SIGNAL_PIPELINE_EVENTS may list several files, folders or globs separated by ``os.pathsep``.
    """
    data = PROJECT_ROOT / "data"
    return PipelinePaths(
        database=Path(os.environ.get(ENV_DB, data / "signal.duckdb")).expanduser().resolve(),
        events=tuple(
            Path(p).expanduser().resolve()
            for p in os.environ.get(ENV_EVENTS, str(data / "events")).split(os.pathsep)
            if p
        ),
        artifacts=Path(os.environ.get(ENV_ARTIFACTS, data / "models")).expanduser().resolve(),
        events_format=os.environ.get(ENV_FORMAT, "auto"),
    )


def partition_start() -> str:
    """First day of the daily partitions of ``raw_events`` (older events are quarantined)."""
    return os.environ.get(ENV_PARTITION_START, DEFAULT_PARTITION_START)
