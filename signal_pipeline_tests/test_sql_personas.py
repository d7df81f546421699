"""The SQL features recover what the simulator planted, per human persona, on two seeds.

Per persona (bots excluded by the simulator's labels), pooled over the persona's page views: mean
dwell per page view, mean per-page maximum scroll depth and CTA clicks per page view must come
back within 10 % of `HUMAN_PERSONAS`. Measured at 6,000 sessions on seeds 3, 17, 99: every figure
within 2.3 % (the simulator plants CTA clicks per page view nearly exactly); 1,500 sessions per
seed keep the test fast while leaving the 10 % bound several standard errors away.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signal_pipeline.db import connect
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.simulate import simulate
from signal_pipeline.simulate.personas import HUMAN_PERSONAS
from signal_pipeline.sql_models import build_models, load_models

SEEDS = (3, 17)
SESSIONS = 1_500
TOLERANCE = 0.10

PERSONA_MEANS_SQL = """
SELECT
    labels.persona,
    sum(m.dwell_total_s) / sum(m.page_views) AS dwell_per_page_s,
    sum(m.mean_scroll_depth_pct * m.page_views) / sum(m.page_views) AS scroll_depth_pct,
    sum(m.cta_clicks) AS cta_clicks,
    sum(m.page_views) AS page_views
FROM session_metrics AS m
INNER JOIN read_csv(?, header = true, all_varchar = true) AS labels
    ON m.session_id = labels.session_id
WHERE labels.is_bot = 'false'
GROUP BY labels.persona
"""


def persona_means(tmp_path: Path, seed: int) -> dict[str, tuple[float, float, int, int]]:
    """Simulate, ingest, build the models up to session_metrics; pooled means per persona."""
    simulate(tmp_path / "sim", sessions=SESSIONS, days=3, seed=seed)
    con = connect(tmp_path / "signal.duckdb")
    try:
        ingest_files(con, [tmp_path / "sim" / "events.jsonl"], IngestSettings(now=None))
        con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events")
        models = load_models(external_tables=("raw_events", "session_bot_flags"))
        build_models(
            con,
            models,
            names=["identity_map", "event_sessions", "page_views", "sessionized_events"],
        )
        build_models(con, models, names=["session_metrics"])
        rows = con.execute(PERSONA_MEANS_SQL, [str(tmp_path / "sim" / "labels.csv")]).fetchall()
    finally:
        con.close()
    return {r[0]: (float(r[1]), float(r[2]), int(r[3]), int(r[4])) for r in rows}


@pytest.fixture(scope="module")
def means_by_seed(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    return {seed: persona_means(tmp_path_factory.mktemp(f"personas{seed}"), seed) for seed in SEEDS}


def within(measured: float, planted: float) -> bool:
    return abs(measured - planted) <= TOLERANCE * planted


@pytest.mark.parametrize("seed", SEEDS)
def test_dwell_scroll_depth_and_cta_ctr_per_persona(
    means_by_seed: dict[int, dict], seed: int
) -> None:
    means = means_by_seed[seed]
    assert set(means) == {p.persona_id for p in HUMAN_PERSONAS}
    for persona in HUMAN_PERSONAS:
        dwell, depth, cta_clicks, page_views = means[persona.persona_id]
        assert within(dwell, persona.dwell_mean_s), (persona.persona_id, dwell)
        assert within(depth, persona.scroll_depth_mean_pct), (persona.persona_id, depth)
        ctr = cta_clicks / page_views
        assert within(ctr, persona.cta_ctr), (persona.persona_id, ctr)
