"""Pytest plugin: record tests that live in other files but count in the reliability table.

Load it with ``-p signal_pipeline.reliability.pytest_plugin`` or ``pytest_plugins = [...]`` in a
test module. It records each listed test when its call phase passes (nothing when it fails or
is skipped).
"""

from __future__ import annotations

import pytest

from signal_pipeline.reliability.recorder import Outcome, record

#: nodeid suffix → what the test proves.
COUNTED_TESTS: dict[str, Outcome] = {
    "test_ui.py::test_read_only_webserver_refuses_to_launch_runs": Outcome(
        "ui",
        "mutation against `dagster-webserver --read-only` (launch a run over GraphQL)",
        survived=True,
        outcome="refused with UnauthorizedError; no run created",
    ),
}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record a counted test once its call phase passed."""
    if report.when != "call" or not report.passed:
        return
    for suffix, outcome in COUNTED_TESTS.items():
        if report.nodeid.endswith(suffix):
            record(Outcome(**{**outcome.__dict__, "test": report.nodeid}))
