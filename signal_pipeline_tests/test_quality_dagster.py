"""Bot flags and quality checks through Dagster, on simulated data with known ground truth.

Two simulated samples (different seeds) are built up to ``session_metrics`` with the SQL models
directly (cheap); everything from ``session_bot_flags`` on runs through ``dg.materialize`` with
the project's own asset and check definitions.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from signal_pipeline import db
from signal_pipeline.bots import BotThresholds, session_rule_reasons
from signal_pipeline.bots.signals import SESSION_SIGNALS_SQL
from signal_pipeline.defs.quality.checks import quality_check_defs
from signal_pipeline.defs.segments.assets import cluster_model
from signal_pipeline.defs.sql_models.assets import PYTHON_ASSET_TABLES, sql_model_asset
from signal_pipeline.ingest import ingest_files
from signal_pipeline.ingest.settings import IngestSettings
from signal_pipeline.resources import ArtifactStoreResource, WarehouseResource
from signal_pipeline.simulate import simulate
from signal_pipeline.sql_models import build_models, load_models

SEEDS = (5, 23)
SESSIONS = 1200
DAYS = 2
UPSTREAM_MODELS = (
    "identity_map",
    "event_sessions",
    "page_views",
    "sessionized_events",
    "session_metrics",
)
DOWNSTREAM_MODELS = ("sessions", "validated_sessions", "session_features")
BOT_KINDS = {"rapid_clicker", "short_session", "crawler_ua", "scripted_browser"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MODELS = load_models(external_tables=PYTHON_ASSET_TABLES)
SQL_ASSETS = {name: sql_model_asset(MODELS[name]) for name in DOWNSTREAM_MODELS}
QUALITY = quality_check_defs()
CHECKS = list(QUALITY.asset_checks or [])


def bot_flags_asset() -> dg.AssetsDefinition:
    from signal_pipeline.defs.quality.assets import session_bot_flags

    return session_bot_flags


@dataclass
class Sample:
    """One simulated sample: its folder (events + labels) and a DuckDB up to session_metrics."""

    seed: int
    folder: Path
    database: Path

    @property
    def labels(self) -> pd.DataFrame:
        return pd.read_csv(self.folder / "labels.csv", keep_default_na=False)

    def copy_database(self, target: Path) -> Path:
        shutil.copyfile(self.database, target)
        return target


def build_sample(seed: int, folder: Path) -> Sample:
    simulate(folder, sessions=SESSIONS, days=DAYS, seed=seed)
    database = folder / "upstream.duckdb"
    with db.open_db(database) as con:
        ingest_files(con, [folder / "events.jsonl"], IngestSettings())
        con.execute("CREATE TABLE raw_events AS SELECT * FROM staged_events")
        build_models(con, MODELS, UPSTREAM_MODELS)
    return Sample(seed, folder, database)


def resources(database: Path, artifacts: Path) -> dict[str, Any]:
    return {
        "duckdb": WarehouseResource(database=str(database)),
        "artifacts": ArtifactStoreResource(directory=str(artifacts)),
    }


def flags_config(**fields: Any) -> dg.RunConfig:
    from signal_pipeline.defs.quality.assets import BotDetectionConfig

    return dg.RunConfig(ops={"session_bot_flags": BotDetectionConfig(**fields)})


def materialize(
    assets: list[Any],
    database: Path,
    *,
    run_config: dg.RunConfig | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, *CHECKS],
        resources=resources(database, database.parent / "models"),
        run_config=run_config,
        instance=instance,
        raise_on_error=False,
    )


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        event.asset_key.to_user_string()  # type: ignore[union-attr]
        for event in result.get_asset_materialization_events()
    }


def check_evaluation(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def metadata_value(metadata: dict[str, Any], key: str) -> Any:
    return metadata[key].value


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Sample]:
    return {seed: build_sample(seed, tmp_path_factory.mktemp(f"bots_{seed}")) for seed in SEEDS}


@pytest.fixture(scope="module")
def clean_runs(
    samples: dict[int, Sample], tmp_path_factory: pytest.TempPathFactory
) -> dict[int, tuple[dg.ExecuteInProcessResult, Path]]:
    """Per seed: bot flags (with the labels) → sessions → validated → features, checks on."""
    runs = {}
    for seed, sample in samples.items():
        database = sample.copy_database(tmp_path_factory.mktemp(f"clean_{seed}") / "w.duckdb")
        result = materialize(
            [bot_flags_asset(), *SQL_ASSETS.values()],
            database,
            run_config=flags_config(labels_path=str(sample.folder / "labels.csv")),
        )
        runs[seed] = (result, database)
    return runs


@pytest.mark.parametrize("seed", SEEDS)
def test_quality_figures_on_ground_truth_meet_the_targets(
    clean_runs: dict[int, tuple[dg.ExecuteInProcessResult, Path]], seed: int
) -> None:
    result, _ = clean_runs[seed]
    (flags_event,) = result.asset_materializations_for_node("session_bot_flags")
    meta = flags_event.metadata
    assert metadata_value(meta, "bot_precision") >= 0.95
    assert metadata_value(meta, "bot_recall") >= 0.95
    assert metadata_value(meta, "human_false_positive_rate") <= 0.02
    by_kind = metadata_value(meta, "bot_recall_by_kind")
    assert set(by_kind) == BOT_KINDS
    truth = metadata_value(meta, "ground_truth")
    assert truth["labelled_sessions"] == SESSIONS
    assert truth["unlabelled_sessions"] == 0 and truth["labels_without_session"] == 0
    assert truth["bots"] + truth["humans"] == SESSIONS
    print(  # the closing-note figures (pytest -s shows them)
        f"seed={seed} sessions={SESSIONS} precision={truth['precision']:.4f} "
        f"recall={truth['recall']:.4f} fpr={truth['false_positive_rate']:.4f} "
        f"recall_by_kind={by_kind}"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_bot_reasons_table_and_chart_are_in_the_metadata(
    clean_runs: dict[int, tuple[dg.ExecuteInProcessResult, Path]], seed: int
) -> None:
    result, database = clean_runs[seed]
    (flags_event,) = result.asset_materializations_for_node("session_bot_flags")
    table = metadata_value(flags_event.metadata, "bot_reasons")
    chart = metadata_value(flags_event.metadata, "bot_reasons_chart")
    with db.open_db(database, read_only=True) as con:
        reasons = con.execute(
            "SELECT reason, count(*) FROM (SELECT unnest(bot_reasons) AS reason "
            "FROM session_bot_flags) GROUP BY reason"
        ).fetchall()
    assert reasons
    for reason, count in reasons:
        assert f"| {reason} | {count} |" in table
    payload = chart.split("base64,", 1)[1].rstrip(")")
    assert base64.b64decode(payload).startswith(PNG_MAGIC)


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_data_passes_the_checks_and_reaches_features(
    clean_runs: dict[int, tuple[dg.ExecuteInProcessResult, Path]], seed: int
) -> None:
    result, database = clean_runs[seed]
    assert result.success
    survive = check_evaluation(result, "no_bot_sessions_survive")
    assert survive.passed and survive.blocking
    assert check_evaluation(result, "session_features_are_plausible").passed
    assert materialized(result) == {"session_bot_flags", *DOWNSTREAM_MODELS}
    with db.open_db(database, read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM session_features), "
            "(SELECT count(*) FROM sessions WHERE NOT is_bot)"
        ).fetchone()
    assert row is not None and row[0] == row[1] > 0


def plant_bots(database: Path, labels: pd.DataFrame, kinds: tuple[str, ...]) -> list[str]:
    """Flip the verdict of one labelled bot of each kind to human (a detector fault)."""
    planted = [
        str(labels.loc[labels["bot_kind"] == kind, "session_id"].sort_values().iloc[0])
        for kind in kinds
    ]
    with db.open_db(database) as con:
        con.execute(
            "UPDATE session_bot_flags SET is_bot = false, bot_reasons = [] "
            "WHERE list_contains(?, session_id)",
            [planted],
        )
    return planted


def test_a_planted_bot_fails_the_blocking_check_and_stops_downstream(
    samples: dict[int, Sample], tmp_path: Path
) -> None:
    sample = samples[SEEDS[0]]
    database = sample.copy_database(tmp_path / "w.duckdb")
    instance = dg.DagsterInstance.ephemeral()
    first = materialize([bot_flags_asset()], database, instance=instance)
    assert first.success
    planted = plant_bots(database, sample.labels, ("crawler_ua", "rapid_clicker"))

    result = materialize([*SQL_ASSETS.values(), cluster_model], database, instance=instance)
    survive = check_evaluation(result, "no_bot_sessions_survive")
    assert not survive.passed and survive.blocking
    assert materialized(result) == {"sessions", "validated_sessions"}
    # the failed blocking check fails its step; every step downstream of it is never started
    assert not result.success
    assert set(result.get_failed_step_keys()) == {"validated_sessions_no_bot_sessions_survive"}
    for step in ("session_features", "session_features_session_features_are_plausible"):
        assert result.is_node_untouched(step)
    assert result.is_node_untouched("cluster_model")

    meta = survive.metadata
    failed = metadata_value(meta, "failed_rules")
    assert {"bot_rule_crawler_user_agent", "bot_rule_rapid_clicks"} <= set(failed)
    assert "is_bot_false" not in failed  # the verdict was flipped; the rules still catch it
    failures = {item["rule"]: item for item in metadata_value(meta, "failures")}
    crawler = failures["bot_rule_crawler_user_agent"]
    with db.open_db(database, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM validated_sessions").fetchone()
    validated = int(row[0]) if row else 0
    assert crawler["unexpected_count"] == 1
    assert crawler["unexpected_percent"] == pytest.approx(100 / validated)
    assert crawler["sample_ids"] == [planted[0]]
    assert failures["bot_rule_rapid_clicks"]["sample_ids"] == [planted[1]]
    offending = metadata_value(meta, "offending_sessions")
    assert all(session_id in offending for session_id in planted)
    assert "rapid_click_pairs=" in offending
    assert "bot_rule_rapid_clicks" in survive.description


def test_thresholds_from_run_config_change_the_outcome(
    samples: dict[int, Sample],
    clean_runs: dict[int, tuple[dg.ExecuteInProcessResult, Path]],
    tmp_path: Path,
) -> None:
    sample = samples[SEEDS[0]]
    default_result, _ = clean_runs[SEEDS[0]]
    (default_event,) = default_result.asset_materializations_for_node("session_bot_flags")
    default_bots = metadata_value(default_event.metadata, "bot_sessions")

    database = sample.copy_database(tmp_path / "w.duckdb")
    assets = [bot_flags_asset(), SQL_ASSETS["sessions"], SQL_ASSETS["validated_sessions"]]
    lax = materialize(assets, database, run_config=flags_config(crawler_user_agent=False))
    (lax_event,) = lax.asset_materializations_for_node("session_bot_flags")
    assert metadata_value(lax_event.metadata, "thresholds")["crawler_user_agent"] is False
    assert metadata_value(lax_event.metadata, "bot_sessions") < default_bots
    survive = check_evaluation(lax, "no_bot_sessions_survive")
    # the check judges by the thresholds in force: crawlers are no longer a rule to enforce
    assert survive.passed
    assert metadata_value(survive.metadata, "thresholds")["crawler_user_agent"] is False
    crawlers = set(sample.labels.loc[sample.labels["bot_kind"] == "crawler_ua", "session_id"])
    with db.open_db(database, read_only=True) as con:
        validated = {
            r[0] for r in con.execute("SELECT session_id FROM validated_sessions").fetchall()
        }
    assert crawlers & validated

    strict = materialize(
        [bot_flags_asset()],
        database,
        run_config=flags_config(min_session_s=60.0, short_session_min_page_views=1),
    )
    (strict_event,) = strict.asset_materializations_for_node("session_bot_flags")
    assert metadata_value(strict_event.metadata, "bot_sessions") > default_bots
    assert metadata_value(strict_event.metadata, "thresholds")["min_session_s"] == 60.0


def test_session_rule_reasons_scores_one_duckdb_row_like_the_batch(
    clean_runs: dict[int, tuple[dg.ExecuteInProcessResult, Path]],
) -> None:
    """Real-time reuse: one session's row (session_metrics + signals, plain Python values)."""
    _, database = clean_runs[SEEDS[1]]
    with db.open_db(database, read_only=True) as con:
        cursor = con.execute(SESSION_SIGNALS_SQL, {"rapid_click_gap_s": 0.2})
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        stored = dict(
            con.execute("SELECT session_id, bot_reasons FROM session_bot_flags").fetchall()
        )
    thresholds = BotThresholds()
    assert len(rows) == len(stored) == SESSIONS
    assert sum(bool(reasons) for reasons in stored.values()) > 0
    for row in rows:
        assert session_rule_reasons(row, thresholds) == stored[row["session_id"]], row["session_id"]


def test_raw_events_check_validates_a_repeatable_sample_above_the_limit(
    samples: dict[int, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    from signal_pipeline.defs.quality import checks

    database = samples[SEEDS[0]].database
    with db.open_db(database, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM raw_events").fetchone()
        total = int(row[0]) if row else 0
        monkeypatch.setattr(checks, "RAW_EVENTS_SAMPLE_ROWS", 500)
        first, counted = checks.raw_events_sample(con)
        again, _ = checks.raw_events_sample(con)
    assert counted == total > 500
    assert len(first) == 500 and first["event_id"].is_unique
    assert set(first["event_id"]) == set(again["event_id"])  # repeatable
    result = checks.raw_events_meet_contract(duckdb=WarehouseResource(database=str(database)))
    assert result.passed
    assert result.metadata["rows_total"].value == total
    assert result.metadata["rows_validated"].value == 500
