"""Files the pipeline writes keep the user's umask, but are never world-writable.

:func:`forbid_world_write` adds ``o-w`` to the process umask (``umask |= 002``) and changes
nothing else: with the common ``022`` files are ``rw-r--r--``, with ``077`` ``rw-------``, and
even with ``000`` no one but the owner and the group can write them. It runs before every
DuckDB connection (so the database, its WAL and spill files, exports, reports and model
artifacts written afterwards are all covered).
"""

from __future__ import annotations

import os
from pathlib import Path

WORLD_WRITE = 0o002


def current_umask() -> int:
    """The process umask (read from /proc when possible, so it is never changed to read it)."""
    status = Path("/proc/self/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    previous = os.umask(0o077)
    os.umask(previous)
    return previous


def forbid_world_write() -> int:
    """Add ``o-w`` to the process umask if it is missing; return the umask now in force."""
    mask = current_umask()
    if not mask & WORLD_WRITE:
        mask |= WORLD_WRITE
        os.umask(mask)
    return mask
