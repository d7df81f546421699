"""Live scoring against the batch pipeline on the simulator: API, CLI, service, membership."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import uvicorn

from signal_pipeline import db
from signal_pipeline.cli import main
from signal_pipeline.ingest import IngestSettings
from signal_pipeline.pipeline import run_pipeline
from signal_pipeline.realtime import LiveScorer
from signal_pipeline.realtime.service import ServiceSettings, create_app
from signal_pipeline.segments.model_artifact import ClusterModel

TOKEN = "test-token-1f2e"


@pytest.fixture(scope="module")
def pipeline_run(simulated_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole pipeline over the small simulated clickstream (database + artifacts)."""
    out = tmp_path_factory.mktemp("realtime_pipeline")
    run_pipeline([str(simulated_small / "events.jsonl")], out / "signal.duckdb", out / "models")
    return out


@pytest.fixture(scope="module")
def batch_tables(pipeline_run: Path) -> dict[str, pd.DataFrame]:
    """session_features, session_segments, sessions and raw_events of the batch run."""
    with db.open_db(pipeline_run / "signal.duckdb", read_only=True) as con:
        return {
            name: con.execute(f"SELECT * FROM {name} ORDER BY 1").df()  # names from code
            for name in ("session_features", "session_segments", "sessions", "raw_events")
        }


@pytest.fixture(scope="module")
def live_batch(pipeline_run: Path, simulated_small: Path) -> pd.DataFrame:
    """Every session of the simulated file scored live in one call."""
    with LiveScorer(pipeline_run / "models") as scorer:
        result = scorer.score_files([simulated_small / "events.jsonl"])
    assert result.report.quarantined > 0  # the simulator plants bad lines; they are judged
    return result.scores


def session_body(raw_events: pd.DataFrame, session_id: str) -> bytes:
    """One session's landed events as canonical JSON lines."""
    rows = raw_events[raw_events["session_id"] == session_id]
    keep = [
        c
        for c in rows.columns
        if c not in ("event_date", "source_format", "source_file", "source_line")
    ]
    records = rows[keep].assign(ts=rows["ts"].map(lambda t: pd.Timestamp(t).isoformat() + "Z"))
    return records.to_json(orient="records", lines=True).encode()


def test_live_segments_agree_with_batch(live_batch, batch_tables) -> None:
    batch = batch_tables["session_segments"]
    joined = batch.merge(live_batch, on="session_id", how="left", suffixes=("_batch", "_live"))
    assert len(joined) > 400
    agreement = float((joined["segment_id_batch"] == joined["segment_id_live"]).mean())
    assert agreement >= 0.999, agreement


def test_live_features_equal_the_sql_models(live_batch, batch_tables) -> None:
    features = batch_tables["session_features"]
    joined = features.merge(live_batch, on="session_id", suffixes=("_batch", "_live"))
    assert len(joined) == len(features)
    for column in ("urgency_score", "engagement_depth_index"):
        np.testing.assert_allclose(joined[f"{column}_live"], joined[f"{column}_batch"], atol=1e-9)
    assert (joined["person_id_live"] == joined["person_id_batch"]).all()


def test_live_bot_reasons_match_the_batch_flags(live_batch, batch_tables) -> None:
    sessions = batch_tables["sessions"][["session_id", "is_bot", "bot_reasons"]]
    joined = sessions.merge(live_batch, on="session_id", suffixes=("_batch", "_live"))
    assert len(joined) == len(sessions)  # live scores bots too
    assert joined["is_bot_batch"].sum() > 0
    assert (joined["is_bot_batch"] == joined["is_bot_live"]).all()
    bots = joined[joined["is_bot_live"]]
    assert (bots["action_flag"] == "none").all()
    same = [
        list(a) == list(b)
        for a, b in zip(bots["bot_reasons_batch"], bots["bot_reasons_live"], strict=True)
    ]
    assert all(same)


def test_action_flags_come_from_the_profiles(pipeline_run, live_batch) -> None:
    with db.open_db(pipeline_run / "signal.duckdb", read_only=True) as con:
        flags = dict(con.execute("SELECT segment_id, action_flag FROM segment_profiles").fetchall())
    humans = live_batch[~live_batch["is_bot"]]
    expected = humans["segment_id"].map(flags)
    assert (humans["action_flag"] == expected).all()


def test_one_unfinished_session_scores_like_the_batch(pipeline_run, batch_tables) -> None:
    raw = batch_tables["raw_events"]
    segments = batch_tables["session_segments"].set_index("session_id")["segment_id"]
    chosen = list(segments.index[:: max(1, len(segments) // 4)][:4])
    with LiveScorer(pipeline_run / "models", ingest=IngestSettings(format="native")) as scorer:
        for session_id in chosen:
            result = scorer.score_body(session_body(raw, session_id))
            assert result.scores["session_id"].tolist() == [session_id]
            assert result.scores["segment_id"].iloc[0] == segments[session_id]
        # The first half of a visit is a valid (unfinished) session with scores in [0, 1].
        body = session_body(raw, chosen[0]).splitlines()
        partial = scorer.score_body(b"\n".join(body[: max(2, len(body) // 2)]))
    row = partial.scores.iloc[0]
    assert 0.0 <= row["urgency_score"] <= 1.0
    assert 0.0 <= row["engagement_depth_index"] <= 1.0


def test_cli_assign_writes_scores(pipeline_run, simulated_small, tmp_path, capsys) -> None:
    out = tmp_path / "scores.parquet"
    code = main(
        [
            "assign",
            "--model",
            str(pipeline_run / "models"),
            "--events",
            str(simulated_small / "events.jsonl"),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    scores = pd.read_parquet(out)
    assert summary["sessions"] == len(scores) > 0
    assert summary["events_quarantined"] > 0
    assert {"urgency_score", "engagement_depth_index", "segment_id", "action_flag"} <= set(
        scores.columns
    )
    code = main(
        [
            "assign",
            "--model",
            str(tmp_path / "nowhere"),
            "--events",
            str(simulated_small / "events.jsonl"),
        ]
    )
    assert code == 2
    assert "model not found" in capsys.readouterr().err


def test_segment_membership_files(pipeline_run, batch_tables) -> None:
    folder = pipeline_run / "models" / "segment_membership"
    parquet = pd.read_parquet(folder / "segment_membership.parquet")
    csv = pd.read_csv(folder / "segment_membership.csv")
    segments = batch_tables["session_segments"]
    assert len(parquet) == len(csv) == len(segments)
    assert set(parquet["session_id"]) == set(segments["session_id"])
    assert parquet["person_id"].notna().all()
    assert (parquet["session_end"] >= parquet["session_start"]).all()
    assert set(parquet["action_flag"]) <= {"content_reinforcement", "ux_review", "none"}
    merged = parquet.merge(segments, on="session_id", suffixes=("", "_batch"))
    assert (merged["segment_id"] == merged["segment_id_batch"]).all()
    actions = json.loads(
        next((pipeline_run / "models").glob("segment_actions_v*.json")).read_text()
    )
    assert set(actions["segments"]) == set(segments["segment_id"])


# --- the HTTP service ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service(pipeline_run: Path, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The service on a free loopback port, over a copy of the artifacts, token required."""
    models = tmp_path_factory.mktemp("service_models")
    for path in (pipeline_run / "models").glob("*_v*.*"):
        (models / path.name).write_bytes(path.read_bytes())
    scorer = LiveScorer(models, ingest=IngestSettings(format="native"))
    settings = ServiceSettings(max_body_bytes=200_000, token=TOKEN, poll_s=0.2)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(scorer, settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", models
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def call(url: str, body: bytes | None = None, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_service_health_and_score(service, batch_tables) -> None:
    url, _ = service
    status, health = call(f"{url}/health")
    assert status == 200 and health["model_version"] >= 1
    assert health["ready"] is True and health["plan_cached"] is True  # warmed before serving
    segments = batch_tables["session_segments"]
    session_id = segments["session_id"].iloc[0]
    status, scored = call(f"{url}/score", session_body(batch_tables["raw_events"], session_id))
    assert status == 200, scored
    (row,) = scored["sessions"]
    assert row["session_id"] == session_id
    assert row["segment_id"] == segments["segment_id"].iloc[0]
    assert 0.0 <= row["urgency_score"] <= 1.0


def test_service_rejects_bad_requests(service, batch_tables) -> None:
    url, _ = service
    body = session_body(batch_tables["raw_events"], batch_tables["session_segments"].iloc[0, 0])
    assert call(f"{url}/score", body, token=None)[0] == 401
    assert call(f"{url}/score", body, token="wrong")[0] == 401
    assert call(f"{url}/score", b"x" * 300_000)[0] == 413
    assert call(f"{url}/score", b"   ")[0] == 400
    status, reply = call(f"{url}/score", b'{"event_id": "e1", "ts": "2026-01-01T00:00:00Z"}')
    assert status == 422
    assert reply["rejected"][0]["reason"] == "missing_identity"
    bad_type = json.dumps({**json.loads(body.splitlines()[0]), "event_type": "teleport"}).encode()
    status, reply = call(f"{url}/score", bad_type)
    assert status == 422 and reply["rejected"][0]["reason"] == "unknown_event_type"
    status, reply = call(f"{url}/score", b"not json at all")
    assert status == 422 and reply["rejected"][0]["reason"] == "invalid_json"


def test_service_reloads_a_new_model(service) -> None:
    url, models = service
    _, before = call(f"{url}/health")
    current = ClusterModel.load(next(models.glob("cluster_model_v*.npz")))
    newer = dataclasses.replace(current, version=before["model_version"] + 1)
    newer.save(models / f"cluster_model_v{newer.version:04d}.npz")
    deadline = time.monotonic() + 30
    health = before
    while time.monotonic() < deadline and health["model_version"] != newer.version:
        time.sleep(0.1)
        health = call(f"{url}/health")[1]
    assert health["model_version"] == newer.version
    assert health["action_flags_known"] is False  # no actions file for the new version yet
