"""Record the outcome of one reliability test as a JSON line, for the reliability table.

Records go to ``$SIGNAL_PIPELINE_RELIABILITY_DIR`` (default ``<tmp>/signal_pipeline_reliability``),
one file per pytest-xdist worker and process, so parallel workers never write the same file;
:mod:`signal_pipeline.reliability.table` merges them. A test records only after its assertions
passed: a failing test leaves no record, and the table shows it as missing.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ENV_RESULTS_DIR = "SIGNAL_PIPELINE_RELIABILITY_DIR"

#: What a record is about; the table groups by these, in this order.
CATEGORIES: tuple[str, ...] = ("fault", "fuzz", "bad_input", "ui", "files")


@dataclass(frozen=True)
class Outcome:
    """One injected fault, fuzz campaign or hostile input and what happened.

    ``survived`` is true when the defined outcome held (nothing corrupted, every event accounted
    for, a clear error where one is expected); ``examples`` counts fuzz examples or repetitions;
    ``events_in`` and ``events_lost`` count the input events and those neither landed, counted
    as duplicates nor quarantined (must be 0).
    """

    category: str
    name: str
    survived: bool
    outcome: str
    examples: int = 1
    events_in: int = 0
    events_lost: int = 0
    test: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {self.category!r}")


def results_dir() -> Path:
    """The folder records are written to (created on first use)."""
    folder = Path(
        os.environ.get(ENV_RESULTS_DIR)
        or Path(tempfile.gettempdir()) / "signal_pipeline_reliability"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _record_file() -> Path:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return results_dir() / f"{worker}-{os.getpid()}.jsonl"


def record(outcome: Outcome) -> Path:
    """Append ``outcome`` (with the current test's id and a timestamp) to this process's file."""
    test = outcome.test or os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    payload = {**asdict(outcome), "test": test, "recorded_at": time.time()}
    path = _record_file()
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(payload, sort_keys=True) + "\n")
    return path
