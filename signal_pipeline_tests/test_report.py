"""The HTML segment report: self-contained, with the reference table, bots, drift and versions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signal_pipeline.cli import main
from signal_pipeline.pipeline import run_pipeline


@pytest.fixture(scope="module")
def report_db(simulated_small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    database = out / "signal.duckdb"
    run_pipeline([str(simulated_small / "events.jsonl")], database, out / "models")
    return database


def test_report_asset_and_cli_write_a_self_contained_page(report_db: Path, tmp_path: Path):
    asset_report = report_db.parent / "reports" / "segment_report.html"
    assert asset_report.exists()  # written by the segment_report asset during the run
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(report_db), "--out", str(out), "--quiet"]) == 0
    page = out.read_text(encoding="utf-8")
    # No network needed: no script or stylesheet is fetched from anywhere.
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"https?:", page)
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)
    for header in (
        "pattern",
        "avg dwell per page",
        "scroll depth",
        "CTR on CTA",
        "conversion vs average",
    ):
        assert f"<th>{header}</th>" in page
    assert page.count("<svg") >= 4  # sizes, scatter, profile heatmap, bots (+ drift)
    assert "flagged as bots" in page
    assert 'id="drift-table"' in page and 'id="version-table"' in page


def test_report_on_an_empty_database_says_what_is_missing(tmp_path: Path, capsys) -> None:
    from signal_pipeline.db import open_db

    database = tmp_path / "empty.duckdb"
    with open_db(database) as con:
        con.execute("CREATE TABLE placeholder AS SELECT 1 AS x")
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(database), "--out", str(out), "--quiet"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Not yet materialized" in page and "segment_profiles" in page


def test_interaction_density_and_charts_for_metadata(report_db: Path) -> None:
    from signal_pipeline.db import open_db
    from signal_pipeline.report.attention import density_heatmap_markdown, interaction_density
    from signal_pipeline.segments.projection import segment_scatter_markdown

    with open_db(report_db, read_only=True) as con:
        density = interaction_density(con)
        named = con.execute(
            "SELECT f.*, s.segment_name FROM session_features f JOIN session_segments s "
            "USING (session_id)"
        ).df()
    assert not density.empty
    expected = 100.0 * (density["hovers"] + density["clicks"]) / density["page_views"]
    assert (density["per_100_page_views"] - expected).abs().max() < 1e-9
    assert {"pricing", "specs"} <= set(density["page_type"])
    heatmap = density_heatmap_markdown(density)
    assert heatmap is not None and heatmap.startswith(
        "![interaction density heatmap](data:image/png"
    )
    scatter = segment_scatter_markdown(named)
    assert scatter is not None and "data:image/png;base64," in scatter
    assert segment_scatter_markdown(named.head(2)) is None
    assert density_heatmap_markdown(density.head(0)) is None
