"""One writing command per database at a time: an advisory lock held for a whole run.

DuckDB's own file lock is taken per connection, so two `signal-pipeline run` processes on one
database would interleave asset by asset (one's sessions built from the other's events). The
commands that rewrite the database hold ``<database>.run.lock`` (``flock``, released by the
kernel even when the process is killed) for their whole run: a second one waits for it up to
the busy timeout, then fails with the one-line "database busy" error (exit code 3).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from signal_pipeline.db import DatabaseBusyError

ENV_BUSY_TIMEOUT = "SIGNAL_PIPELINE_BUSY_TIMEOUT_S"
DEFAULT_BUSY_TIMEOUT_S = 120.0


def busy_timeout_s() -> float:
    """Seconds a writer waits for another one to finish (SIGNAL_PIPELINE_BUSY_TIMEOUT_S, ≥ 0)."""
    raw = os.environ.get(ENV_BUSY_TIMEOUT, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_BUSY_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{ENV_BUSY_TIMEOUT} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_BUSY_TIMEOUT} must be >= 0, got {raw!r}")
    return value


def lock_path(database: Path) -> Path:
    """The run-lock file beside ``database``."""
    return Path(f"{Path(database).expanduser().resolve()}.run.lock")


@contextmanager
def exclusive_run(database: Path, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the run lock of ``database`` (waiting up to ``timeout_s``, default the busy timeout).

    Raises :class:`~signal_pipeline.db.DatabaseBusyError` when another run still holds it.
    Where ``fcntl`` does not exist (Windows) this is a no-op: DuckDB's file lock still applies.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield lock_path(database)
        return
    target = Path(database).expanduser().resolve()
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = busy_timeout_s() if timeout_s is None else timeout_s
    deadline = time.monotonic() + wait
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies
    try:
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"database busy: another signal-pipeline command is writing {target} "
                        f"(waited {wait:g} s). Wait for it to finish, set {ENV_BUSY_TIMEOUT} to "
                        "wait longer, or use another --db."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
