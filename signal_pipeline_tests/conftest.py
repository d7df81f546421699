"""Shared fixtures: telemetry off, temp-file DuckDB paths, a small simulated clickstream."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# CI replays the same examples every run (a red CI must be reproducible); locally each run
# explores new ones. HYPOTHESIS_PROFILE=explore in CI explores too.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore")
)
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A temp-file DuckDB path (never :memory: shared across connections)."""
    return tmp_path / "signal.duckdb"


@pytest.fixture(scope="session")
def simulated_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated clickstream (600 sessions over 7 days, with bad lines and duplicates)."""
    from signal_pipeline.simulate import simulate

    out = tmp_path_factory.mktemp("sim_small")
    simulate(out, sessions=600, days=7, seed=11, bad_lines=12, duplicates=9)
    return out
