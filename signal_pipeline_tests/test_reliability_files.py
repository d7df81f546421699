"""Files keep the user's umask but are never world-writable (a child process per umask)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signal_pipeline.reliability.recorder import Outcome, record

#: In a child with umask argv[2]: create a database, write a table, export it; print the modes.
WRITE_FILES = """
import json, os, sys
from pathlib import Path
from signal_pipeline import db
root = Path(sys.argv[1])
os.umask(int(sys.argv[2], 8))
with db.open_db(root / "signal.duckdb") as con:
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(1000)")
    con.table("t").write_csv(str(root / "export.csv"))
    con.table("t").write_parquet(str(root / "export.parquet"))
print(json.dumps({p.name: p.stat().st_mode & 0o777 for p in root.iterdir() if p.is_file()}))
"""


@pytest.mark.parametrize(("umask", "expected"), [("077", 0o600), ("022", 0o644), ("000", 0o664)])
def test_files_follow_the_umask_and_are_never_world_writable(
    tmp_path: Path, umask: str, expected: int
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    result = subprocess.run(
        [sys.executable, "-c", WRITE_FILES, str(tmp_path), umask],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modes = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"signal.duckdb", "export.csv", "export.parquet"} <= set(modes)
    assert all(mode == expected for mode in modes.values()), modes
    record(
        Outcome(
            "files",
            f"database and exports written under umask {umask}",
            survived=True,
            outcome=f"mode {expected:o}: the umask"
            + (" plus o-w (never world-writable)" if umask == "000" else ", respected"),
        )
    )
