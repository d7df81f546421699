"""Step-by-step progress of an in-process Dagster run (the bars `signal-pipeline run` shows).

Dagster hands every structured run event to each configured logger. ``progress_logger`` is a
logger whose handler forwards step starts and step ends to the *progress sink* installed by
``reporting_steps`` for the duration of one run; outside such a block (the UI, the daemon) it
does nothing. It is activated only when a run's config names it (``loggers: {progress: {}}``).
A long step reports progress within itself by logging ``work_progress(done, total, unit)`` at
DEBUG level (e.g. ingest: bytes of the event files read); the sink shows it as a second bar.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import dagster as dg


class StepSink(Protocol):
    """Receives the steps of a run as they start and end."""

    def step_started(self, step_key: str) -> None:
        """A step (an asset, a multi-asset or a check) started."""

    def step_finished(self, step_key: str, succeeded: bool) -> None:
        """A step ended (succeeded, failed or was skipped)."""

    def step_progress(self, step_key: str, done: int, total: int, unit: str) -> None:
        """A running step has done ``done`` of ``total`` units of its work."""


#: How a step's progress message starts (followed by "<done>/<total> <unit>").
WORK_PROGRESS_MARKER = "signal-pipeline progress"
_WORK_PROGRESS = re.compile(re.escape(WORK_PROGRESS_MARKER) + r" (\d+)/(\d+) (\w+)$")


def work_progress(done: int, total: int, unit: str) -> str:
    """The log message by which a step reports ``done`` of ``total`` ``unit`` of its work."""
    return f"{WORK_PROGRESS_MARKER} {int(done)}/{int(total)} {unit}"


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
        try:
            self._forward(record)
        except Exception:  # a progress display must never fail a run
            self.handleError(record)

    def _forward(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        sink = _sink
        if not isinstance(meta, dict) or sink is None:
            return
        event = meta.get("dagster_event")
        if event is None:
            found = _WORK_PROGRESS.match(str(meta.get("orig_message", "")))
            report = getattr(sink, "step_progress", None)  # optional for sinks
            if found and meta.get("step_key") and report is not None:
                report(str(meta["step_key"]), int(found[1]), int(found[2]), found[3])
            return
        if not event.step_key:
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
        self._work: Any = None

    def step_started(self, step_key: str) -> None:
        """Show the running step."""
        self._bar.set_postfix_str(step_key, refresh=True)

    def step_progress(self, step_key: str, done: int, total: int, unit: str) -> None:
        """Show the running step's own progress on a second bar."""
        from tqdm import tqdm

        if self._work is None:
            self._work = tqdm(
                total=total,
                desc=f"  {step_key}",
                unit=unit,
                unit_scale=True,
                disable=self.disable,
                leave=False,
                position=1,
            )
        self._work.total = total
        self._work.n = done
        self._work.refresh()

    def step_finished(self, step_key: str, succeeded: bool) -> None:
        """Advance the bar; remember failures."""
        if self._work is not None:
            self._work.close()
            self._work = None
        if not succeeded:
            self.failed.append(step_key)
        self._bar.update(1)

    def close(self) -> None:
        """Finish the bar."""
        if self._work is not None:
            self._work.close()
            self._work = None
        self._bar.set_postfix_str("", refresh=False)
        self._bar.close()
