"""Turn a failed Dagster step into the one line a user should read.

Dagster wraps an asset's exception in ``DagsterExecutionStepExecutionError``; the useful part is
the first cause that is not a Dagster wrapper (a DuckDB out-of-memory or disk error, a
``Failure`` description...). A :class:`~signal_pipeline.db.DatabaseBusyError` anywhere in the
chain means another process held the database for longer than the busy timeout: the caller
re-raises it so the CLI exits with code 3, and the DuckDB "Could not set lock" text below it
never reaches the user.
"""

from __future__ import annotations

from typing import Any

from signal_pipeline.db import DatabaseBusyError

_WRAPPER_PREFIXES = ("Dagster",)


def _chain(error: Any) -> list[Any]:
    items = []
    while error is not None and len(items) < 20:
        items.append(error)
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return items


def _first_line(message: str) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def step_error_line(error: Any) -> str:
    """The first line of the first non-Dagster exception in ``error``'s cause chain.

    ``error`` is a Dagster ``SerializableErrorInfo`` (``message``, ``cls_name``, ``cause``).
    """
    chain = _chain(error)
    useful = next(
        (e for e in chain if not str(e.cls_name or "").startswith(_WRAPPER_PREFIXES)),
        chain[0] if chain else None,
    )
    return _first_line(useful.message) if useful is not None else ""


def raise_if_busy(error: Any) -> None:
    """Raise :class:`DatabaseBusyError` (with its own message) when it caused ``error``."""
    for item in _chain(error):
        if item.cls_name == DatabaseBusyError.__name__:
            message = _first_line(item.message)
            prefix = "signal_pipeline.db.DatabaseBusyError: "
            raise DatabaseBusyError(message.removeprefix(prefix))
