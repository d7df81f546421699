"""Step-by-step progress of an in-process Dagster run (the bars `signal-pipeline run` shows).

Dagster hands every structured run event to each configured logger. ``progress_logger`` is a
logger whose handler forwards step starts and step ends to the *progress sink* installed by
``reporting_steps`` for the duration of one run; outside such a block (the UI, the daemon) it
does nothing. It is activated only when a run's config names it (``loggers: {progress: {}}``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import dagster as dg


class StepSink(Protocol):
    """Receives the steps of a run as they start and end."""

    def step_started(self, step_key: str) -> None:
        """A step (an asset, a multi-asset or a check) started."""

    def step_finished(self, step_key: str, succeeded: bool) -> None:
        """A step ended (succeeded, failed or was skipped)."""


_ENDED = {"STEP_SUCCESS": True, "STEP_FAILURE": False, "STEP_SKIPPED": False}
_sink_lock = threading.Lock()
_sink: StepSink | None = None


@contextmanager
def reporting_steps(sink: StepSink) -> Iterator[None]:
    """Send the step events of runs executed in this block to ``sink``."""
    global _sink
    with _sink_lock:
        _sink = sink
    try:
        yield
    finally:
        with _sink_lock:
            _sink = None


class _StepEventHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        event = meta.get("dagster_event") if isinstance(meta, dict) else None
        sink = _sink
        if event is None or sink is None or not event.step_key:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            sink.step_started(event.step_key)
        elif kind in _ENDED:
            sink.step_finished(event.step_key, _ENDED[kind])


@dg.logger(description="Forwards step starts and ends to the CLI's progress bar (no output).")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """A logger that turns step events into progress updates; silent outside the CLI."""
    logger = logging.getLogger("signal_pipeline.run_progress")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if not any(isinstance(h, _StepEventHandler) for h in logger.handlers):
        logger.addHandler(_StepEventHandler())
    return logger


@dataclass
class TqdmStepBar:
    """A tqdm bar over a run's steps, labelled with the step running now."""

    total: int
    label: str
    disable: bool = False

    def __post_init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=self.total, desc=self.label, unit="step", disable=self.disable, leave=True
        )
        self.failed: list[str] = []

    def step_started(self, step_key: str) -> None:
        """Show the running step."""
        self._bar.set_postfix_str(step_key, refresh=True)

    def step_finished(self, step_key: str, succeeded: bool) -> None:
        """Advance the bar; remember failures."""
        if not succeeded:
            self.failed.append(step_key)
        self._bar.update(1)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.set_postfix_str("", refresh=False)
        self._bar.close()
