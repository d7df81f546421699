"""Per-persona distribution of ``urgency_score`` (and the depth index) on the simulator.

Usage: ``python bench/urgency_by_persona.py --sessions 6000 --seed 3`` — simulates, ingests,
builds the SQL models (bot flags from the simulator's labels: the real bot detector is another
stage) and prints, per human persona, the quantiles of ``urgency_score``, its share at 0 and at 1,
and the mean ``engagement_depth_index``, as a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings, ingest_files
from signal_pipeline.simulate import simulate
from signal_pipeline.sql_models import build_models, load_models

LABEL_FLAGS_SQL = """
CREATE OR REPLACE TABLE session_bot_flags AS
SELECT session_id, is_bot = 'true' AS is_bot, CAST([] AS VARCHAR[]) AS bot_reasons,
       CAST(0.0 AS DOUBLE) AS anomaly_score
FROM read_csv(?, header = true, all_varchar = true)
"""

DISTRIBUTION_SQL = """
SELECT
    labels.persona,
    count(*) AS sessions,
    quantile_cont(f.urgency_score, [0.1, 0.25, 0.5, 0.75, 0.9]) AS quantiles,
    avg(CAST(f.urgency_score = 0 AS DOUBLE)) AS share_at_0,
    avg(CAST(f.urgency_score = 1 AS DOUBLE)) AS share_at_1,
    avg(f.engagement_depth_index) AS mean_depth_index
FROM session_features AS f
INNER JOIN read_csv(?, header = true, all_varchar = true) AS labels
    ON f.session_id = labels.session_id
GROUP BY labels.persona
ORDER BY labels.persona
"""


def main() -> None:
    """Simulate, build, print the per-persona urgency table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=6000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="urgency_") as tmp:
        folder = Path(tmp)
        simulate(folder / "sim", sessions=args.sessions, days=args.days, seed=args.seed)
        labels = str(folder / "sim" / "labels.csv")
        with db.open_db(folder / "signal.duckdb", allowed_directories=[folder / "sim"]) as con:
            ingest_files(con, [folder / "sim" / "events.jsonl"], IngestSettings(now=None))
        with db.open_db(folder / "signal.duckdb") as con:
            con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events")
            con.execute(LABEL_FLAGS_SQL, [labels])
            build_models(con, load_models(external_tables=("raw_events", "session_bot_flags")))
            rows = con.execute(DISTRIBUTION_SQL, [labels]).fetchall()
    header = ["persona", "sessions", "p10", "p25", "median", "p75", "p90", "at 0", "at 1"]
    print("| " + " | ".join([*header, "mean depth index"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for persona, sessions, q, at0, at1, depth in rows:
        cells = " | ".join(f"{v:.3f}" for v in q)
        print(f"| {persona} | {sessions} | {cells} | {at0:.1%} | {at1:.1%} | {depth:.3f} |")


if __name__ == "__main__":
    main()
