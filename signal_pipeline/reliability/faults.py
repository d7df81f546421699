"""Fault-injection harness: run a `signal-pipeline` command that stops at a chosen point.

``python -m signal_pipeline.reliability.faults --pause-at POINT --ready FILE -- run --events ...``
runs the CLI in this process with one hook installed; when the run reaches POINT it writes FILE
and sleeps until it is killed (the test then sends SIGKILL), so the kill lands at a known place
instead of after a guessed delay. Points:

- ``sql:<model>``: inside the transaction that rebuilds SQL model ``<model>``, after its new
  version was written and before COMMIT (the statement after ``BEGIN``, whatever it is);
- ``cluster_fit``: while the cluster model is being fitted (nothing written yet);
- ``cluster_register``: inside the transaction that registers a newly fitted cluster model,
  after its artifact file was saved and the registry row inserted, before COMMIT.

``--fsize-limit BYTES`` sets RLIMIT_FSIZE (SIGXFSZ ignored, so a write past the limit fails with
``EFBIG`` as on a full disk) before the command runs. The hooks replace names the asset modules
look up at call time; the production code paths are otherwise unchanged.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

PAUSE_POINTS = ("sql:<model>", "cluster_fit", "cluster_register")


def _reached(ready: Path) -> None:
    """Tell the parent the pause point was reached, then wait to be killed."""
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(ready)
    while True:
        time.sleep(3600)


class PausingConnection:
    """A DuckDB connection proxy that pauses at the first statement after ``BEGIN``."""

    def __init__(self, con: Any, ready: Path) -> None:
        self._con = con
        self._ready = ready
        self._in_transaction = False

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``sql``; inside a transaction, pause once it has run (before COMMIT)."""
        statement = sql.lstrip().upper()
        result = self._con.execute(sql, *args, **kwargs)
        if statement.startswith("BEGIN"):
            self._in_transaction = True
        elif self._in_transaction and not statement.startswith(("COMMIT", "ROLLBACK")):
            _reached(self._ready)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def install_hook(point: str, ready: Path) -> None:
    """Install the pause at ``point`` (see the module docstring)."""
    if point.startswith("sql:"):
        from signal_pipeline.defs.sql_models import assets as sql_assets

        target = point.removeprefix("sql:")
        original_build = sql_assets.build_model

        def build_model(con: Any, model: Any, params: Any = None) -> int:
            if model.name == target:
                return original_build(PausingConnection(con, ready), model, params)
            return original_build(con, model, params)

        sql_assets.build_model = build_model
    elif point == "cluster_fit":
        from signal_pipeline.defs.segments import assets as segment_assets

        def fit_cluster_model(*_args: Any, **_kwargs: Any) -> Any:
            _reached(ready)

        segment_assets.fit_cluster_model = fit_cluster_model
    elif point == "cluster_register":
        from signal_pipeline.defs.segments import assets as segment_assets

        original_register = segment_assets.register_model

        def register_model(con: Any, *args: Any, **kwargs: Any) -> None:
            original_register(con, *args, **kwargs)
            _reached(ready)

        segment_assets.register_model = register_model
    else:
        raise ValueError(f"unknown pause point {point!r}: one of {PAUSE_POINTS}")


def limit_file_size(max_bytes: int) -> None:
    """Make writes past ``max_bytes`` fail with EFBIG (like a full disk) instead of a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def main(argv: list[str] | None = None) -> int:
    """Install the requested fault, then run the CLI with the remaining arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause-at", default=None, help=f"one of {PAUSE_POINTS}")
    parser.add_argument("--ready", type=Path, default=None, help="file written at the pause")
    parser.add_argument("--fsize-limit", type=int, default=None, help="RLIMIT_FSIZE in bytes")
    parser.add_argument("cli_args", nargs=argparse.REMAINDER, help="-- then the CLI arguments")
    args = parser.parse_args(argv)
    cli_args = args.cli_args[1:] if args.cli_args[:1] == ["--"] else args.cli_args
    if args.pause_at:
        if args.ready is None:
            parser.error("--pause-at needs --ready")
        install_hook(args.pause_at, args.ready)
    if args.fsize_limit is not None:
        limit_file_size(args.fsize_limit)
    from signal_pipeline.cli import main as cli_main

    return cli_main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
