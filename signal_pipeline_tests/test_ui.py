"""Real clients: the Dagster webserver's GraphQL API and the UI in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from signal_pipeline.pipeline import run_pipeline

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT_DIR = os.environ.get("SIGNAL_PIPELINE_SCREENSHOTS")  # set to refresh docs/ images

INSTANCE_YAML = """
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
concurrency:
  pools:
    default_limit: 1
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def start_webserver(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, str]:
    """A dagster-webserver on a free loopback port; returns the process and its URL once up."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            *extra,
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/server_info", timeout=5)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()[-2000:]) from None
            time.sleep(1)
    proc.terminate()
    raise TimeoutError("webserver did not start")


@pytest.fixture(scope="module")
def webserver(
    simulated_small: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """A webserver on a loopback port over a temp instance whose pipeline has run once."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    data = tmp_path_factory.mktemp("ui_data")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SIGNAL_PIPELINE_DB": str(data / "signal.duckdb"),
        "SIGNAL_PIPELINE_EVENTS": str(simulated_small / "events.jsonl"),
        "SIGNAL_PIPELINE_ARTIFACTS": str(data / "models"),
    }
    saved = {k: os.environ.get(k) for k in env if k.startswith(("DAGSTER", "SIGNAL"))}
    os.environ["DAGSTER_HOME"] = str(home)
    try:  # one full run recorded in the instance, so asset pages have metadata to show
        run_pipeline(
            [str(simulated_small / "events.jsonl")], data / "signal.duckdb", data / "models"
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    proc, url = start_webserver(env)
    try:
        yield url, env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


ASSETS_QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

RUN_STATUS = """
query($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""


JOB_PARAMS = {
    "selector": {
        "repositoryLocationName": "signal_pipeline",
        "repositoryName": "__repository__",
        "pipelineName": "ingest_job",
    },
    "runConfigData": {},
    "mode": "default",
}


def test_read_only_webserver_refuses_to_launch_runs(webserver) -> None:
    _, env = webserver
    proc, url = start_webserver(env, "--read-only")
    try:
        assert graphql(url, ASSETS_QUERY)["assetNodes"]  # viewers can still look
        launched = graphql(url, LAUNCH, {"params": JOB_PARAMS})["launchPipelineExecution"]
        assert launched["__typename"] == "UnauthorizedError", launched
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_graphql_serves_the_asset_graph_and_runs_a_job(webserver) -> None:
    url, _ = webserver
    nodes = graphql(url, ASSETS_QUERY)["assetNodes"]
    graph = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {
        "raw_events",
        "sessions",
        "session_features",
        "cluster_model",
        "segment_profiles",
    } <= set(graph)
    assert graph["session_features"]["groupName"] == "features"
    assert {"validated_sessions"} == {
        "/".join(d["path"]) for d in graph["session_features"]["dependencyKeys"]
    }
    launched = graphql(url, LAUNCH, {"params": JOB_PARAMS})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    assert status == "SUCCESS"


def test_ui_in_headless_chromium_shows_assets_and_metadata(webserver, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    url, _ = webserver
    shots = Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1500, "height": 950})

        def visit(path: str) -> None:
            page.goto(f"{url}{path}", wait_until="networkidle", timeout=120_000)
            skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
            if skip.count():
                skip.first.click()

        visit("/assets")
        page.get_by_text("segment_profiles").first.wait_for(timeout=60_000)
        catalog = page.inner_text("body")
        for asset in (
            "raw_events",
            "validated_sessions",
            "session_features",
            "cluster_model",
            "segment_profiles",
            "drift_statistics",
        ):
            assert asset in catalog
        visit("/locations/signal_pipeline/asset-groups/sessions")
        page.get_by_text("sessionized_events").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "asset_group_sessions.png"))
        visit("/assets/segment_profiles")
        page.get_by_text("segment_table").first.wait_for(timeout=60_000)
        details = page.inner_text("body")
        assert "dagster/row_count" in details or "Row count" in details
        page.screenshot(path=str(shots / "segment_profiles.png"), full_page=True)
        browser.close()
    assert (shots / "segment_profiles.png").stat().st_size > 10_000
