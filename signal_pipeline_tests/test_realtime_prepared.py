"""The prepared request path of live scoring against ingest and the batch pipeline.

The service validates a body with the ingest package's per-line judge inside one prepared
statement and computes features with the SQL models in the same statement; these tests hold that
path to :func:`ingest_files` (line splitting, quarantine reasons and details, typed columns, page
types) and to the pipeline's ``session_features``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from signal_pipeline import db
from signal_pipeline.ingest import DEFAULT_PAGE_TYPE_RULES, IngestSettings, ingest_files
from signal_pipeline.ingest.lines import LINES_TABLE
from signal_pipeline.ingest.page_types import derive_page_types
from signal_pipeline.ingest.request_lines import judged_lines_sql, page_types_sql, split_body_lines
from signal_pipeline.pipeline import run_pipeline
from signal_pipeline.realtime import LiveScorer, score_records
from signal_pipeline.realtime.engine import PATH_INGEST, PATH_PREPARED
from signal_pipeline.realtime.request_query import sql_literal

NOW = datetime(2026, 3, 1, 12, 0, 0)


def good(**overrides: object) -> dict[str, object]:
    """A valid canonical event."""
    return {
        "event_id": "e-1",
        "ts": "2026-03-01T10:00:00Z",
        "event_type": "page_view",
        "anonymous_id": "a-1",
        "session_id": "s-1",
        "page_url": "https://shop.example.com/products/x/specs?x=1",
        "page_view_id": "pv-1",
        **overrides,
    }


#: One line per bad-input kind (and a few valid ones), as raw text.
MIXED_LINES = [
    json.dumps(good()),
    "not json at all",
    "[1, 2]",
    "",
    json.dumps(good(event_id=" ")),
    json.dumps(good(event_id="e-5", anonymous_id=None, user_id="")),
    json.dumps(good(event_id="e-6", ts="yesterday")),
    json.dumps(good(event_id="e-7", ts="2031-01-01T00:00:00Z")),
    json.dumps(good(event_id="e-8", ts="1999-12-31T23:59:59Z")),
    json.dumps(good(event_id="e-9", event_type="teleport")),
    json.dumps(good(event_id="e-10", event_type="scroll", scroll_depth_pct=140)),
    json.dumps(good(event_id="e-11", event_type="hover", hover_ms="fast")),
    json.dumps(good(event_id="e-12", ts=1772359200123, page_url="/pricing", page_type="")),
    json.dumps(good(event_id="e-13", ts="2026-03-01 10:00:05", page_type="PRICING ")),
    "   " + json.dumps(good(event_id="e-14", x=0.5, y=0.25, event_type="click")) + "\r",
    json.dumps(good(event_id="e-15", event_type="OTHER", event_name=None, user_id="u-1")),
    json.dumps(good(event_id="e-16", page_url="x" * 300)),
]


def judge_with_request_sql(lines: list[str], settings: IngestSettings) -> pd.DataFrame:
    """The per-line judge of :mod:`signal_pipeline.ingest.request_lines` over ``lines``."""
    sql, params = judged_lines_sql(
        max_line_bytes=settings.max_line_bytes,
        future_limit=NOW + settings.future_tolerance,
        earliest=settings.earliest,
    )
    query = (
        f"WITH {LINES_TABLE} AS (SELECT 1 AS file_no, unnest($lines_n) AS n, "
        "unnest($lines_text) AS line, false AS bad_utf8) "
        f"SELECT * FROM ({sql}) ORDER BY source_line"
    )
    params |= {"file_no": 1, "lines_n": list(range(1, len(lines) + 1)), "lines_text": lines}
    con = duckdb.connect(":memory:")
    try:
        return con.execute(query, params).df()
    finally:
        con.close()


def test_split_body_lines_follows_the_ingest_line_rule(tmp_path: Path) -> None:
    text = "\ufeff{}\r\n\n  \r\n{}\r\r\nlast"
    path = tmp_path / "lines.jsonl"
    path.write_text(text, encoding="utf-8")
    con = db.connect(tmp_path / "l.duckdb")
    try:
        ingest_files(con, [path], IngestSettings(format="native", now=NOW))
        raw = con.execute("SELECT source_line, raw_line FROM quarantined_events").fetchall()
    finally:
        con.close()
    lines = split_body_lines(text)
    assert lines == ["{}", "", "  ", "{}", "last"]
    assert {line: lines[line - 1] for line, _ in raw} == dict(raw)
    assert split_body_lines("a\nb\n") == ["a", "b"] and split_body_lines("") == []


@pytest.mark.parametrize("max_line_bytes", [1_000_000, 200])
def test_request_judge_gives_the_ingest_reasons_and_values(
    tmp_path: Path, max_line_bytes: int
) -> None:
    settings = IngestSettings(format="native", now=NOW, max_line_bytes=max_line_bytes)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(MIXED_LINES) + "\n", encoding="utf-8")
    con = db.connect(tmp_path / "i.duckdb")
    try:
        report = ingest_files(con, [path], settings)
        quarantined = con.execute(
            "SELECT source_line, reason, detail FROM quarantined_events ORDER BY 1"
        ).df()
        staged = con.execute("SELECT * FROM staged_events ORDER BY source_line").df()
    finally:
        con.close()
    judged = judge_with_request_sql(split_body_lines(path.read_text()), settings)
    bad = judged[judged["reason"].notna()].reset_index(drop=True)
    assert report.quarantined == len(bad) >= 10
    assert bad["source_line"].tolist() == quarantined["source_line"].tolist()
    assert bad["reason"].tolist() == quarantined["reason"].tolist()
    assert bad["detail"].tolist() == quarantined["detail"].tolist()
    valid = judged[judged["reason"].isna()].reset_index(drop=True)
    assert valid["source_line"].tolist() == staged["source_line"].tolist()
    for column in ("event_id", "ts", "event_type", "event_name", "user_id", "x", "y"):
        pd.testing.assert_series_equal(
            valid[column], staged[column], check_dtype=False, check_names=False
        )
    given = valid["page_type"].notna()  # a given known page type is kept, else derived later
    assert (valid.loc[given, "page_type"] == staged.loc[given, "page_type"]).all()


def test_page_types_sql_equals_derive_page_types(tmp_path: Path) -> None:
    urls = [
        "https://a.example/products/x/specs",
        "/pricing?plan=pro",
        "HTTPS://A.EXAMPLE/Compare#top",
        "https://a.example/",
        "https://a.example/index.html",
        "/cart",
        "/blog/post",
        " /products ",
        None,
    ]
    con = db.connect(tmp_path / "p.duckdb")
    try:
        con.execute("CREATE TABLE urls AS SELECT unnest(?::VARCHAR[]) AS page_url", [urls])
        derive_page_types(con, "urls", "derived", DEFAULT_PAGE_TYPE_RULES)
        expected = dict(con.execute("SELECT * FROM derived").fetchall())
        sql, params = page_types_sql("urls", DEFAULT_PAGE_TYPE_RULES)
        got = dict(con.execute(sql, params).fetchall())
    finally:
        con.close()
    assert got == expected and len(got) == len(urls) - 1
    assert set(got.values()) >= {"specs", "pricing", "comparison", "home", "checkout", "other"}


def test_sql_literal_inlines_only_plain_constants() -> None:
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal([1, 2]) == "[CAST(1 AS BIGINT), CAST(2 AS BIGINT)]"
    assert sql_literal(datetime(2026, 1, 2, 3, 4, 5)) == "TIMESTAMP '2026-01-02 03:04:05'"
    con = duckdb.connect(":memory:")
    try:
        assert con.execute(f"SELECT {sql_literal(chr(39) + ' OR 1=1 --')}").fetchone() == (
            "' OR 1=1 --",
        )
    finally:
        con.close()
    for bad in (float("nan"), datetime.now(UTC), [], object()):
        with pytest.raises(ValueError):
            sql_literal(bad)


# --- the prepared request query against the batch pipeline ------------------------------------


@pytest.fixture(scope="module")
def pipeline_run(simulated_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole pipeline over the small simulated clickstream."""
    out = tmp_path_factory.mktemp("realtime_prepared")
    run_pipeline([str(simulated_small / "events.jsonl")], out / "signal.duckdb", out / "models")
    return out


@pytest.fixture(scope="module")
def batch(pipeline_run: Path) -> dict[str, pd.DataFrame]:
    """session_features and each session's landed events (JSON lines bodies)."""
    with db.open_db(pipeline_run / "signal.duckdb", read_only=True) as con:
        features = con.execute("SELECT * FROM session_features ORDER BY session_id").df()
        raw = con.execute(
            "SELECT r.*, s.session_id AS resolved FROM raw_events AS r "
            "JOIN sessionized_events AS s USING (event_id) ORDER BY resolved, r.ts"
        ).df()
    return {"features": features, "raw": raw}


def bodies_of(raw: pd.DataFrame, session_ids: list[str]) -> list[bytes]:
    """Canonical JSON-lines bodies of the given sessions."""
    drop = ["event_date", "source_format", "source_file", "source_line", "resolved"]
    out = []
    for session_id in session_ids:
        rows = raw[raw["resolved"] == session_id]
        frame = rows.drop(columns=drop).assign(
            ts=rows["ts"].map(lambda t: pd.Timestamp(t).isoformat() + "Z")
        )
        out.append(frame.to_json(orient="records", lines=True).encode())
    return out


def test_prepared_batch_scores_like_the_pipeline(pipeline_run, batch) -> None:
    features = batch["features"].set_index("session_id")
    chosen = list(features.index[:: max(1, len(features) // 12)][:12])
    bodies = bodies_of(batch["raw"], chosen)
    repeat = bodies[0]  # shares every id with body 0: scored in a second execution
    broken = bodies[1] + b"not json\n"  # a rejected line: judged by ingest_files itself
    with LiveScorer(pipeline_run / "models") as scorer:
        assert scorer.warm_up() is True  # DuckDB keeps the prepared plan
        results = scorer.score_bodies([*bodies, repeat, broken])
        alone = scorer.score_body(bodies[2])
        live = scorer.engine.feature_batch(bodies)
    assert [r.path for r in results] == [PATH_PREPARED] * (len(bodies) + 1) + [PATH_INGEST]
    assert results[-1].rejected[0]["reason"] == "invalid_json"
    for session_id, result in zip([*chosen, chosen[0]], results, strict=False):
        assert result.scores["session_id"].tolist() == [session_id]
        assert result.report.quarantined == 0 and result.report.landed > 0
    assert score_records(results[2].scores) == score_records(alone.scores)  # batch = alone
    got = live.features.set_index("session_id").loc[chosen]
    assert [chosen[i] for i in live.owner] == live.features["session_id"].tolist()
    for column in features.columns:
        expected = features.loc[chosen, column]
        if pd.api.types.is_float_dtype(expected):
            np.testing.assert_allclose(
                got[column].to_numpy(float), expected.to_numpy(float), atol=1e-9
            )
        else:
            assert got[column].astype(str).tolist() == expected.astype(str).tolist(), column


def test_prepared_path_honours_the_time_bounds(pipeline_run) -> None:
    now = datetime(2026, 3, 1, 12, 0, 0)
    body = (
        "\n".join(
            json.dumps(good(event_id=f"t-{i}", ts=(now + timedelta(hours=h)).isoformat() + "Z"))
            for i, h in enumerate((-2, 23))
        )
        + "\n"
    ).encode()
    late = (json.dumps(good(event_id="t-late", ts="2026-03-02T12:00:01Z")) + "\n").encode()
    settings = IngestSettings(format="native", now=now)
    with LiveScorer(pipeline_run / "models", ingest=settings) as scorer:
        accepted, rejected = scorer.score_bodies([body, late])
    assert accepted.path == PATH_PREPARED and accepted.report.landed == 2
    assert rejected.path == PATH_INGEST
    assert rejected.rejected[0]["reason"] == "timestamp_in_future"
