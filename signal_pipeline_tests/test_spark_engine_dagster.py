"""The engine setting in Dagster: the same asset graph for both engines, and the Spark-capable
assets materialized through the project's jobs on local Spark give the DuckDB engine's
``session_features`` and ``session_segments``; DuckDB-only assets fail naming the engine and
nothing is written to the DuckDB file.

One local Spark session (local[2], 2 shuffle partitions, no UI) for the module's one Spark test.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from signal_pipeline.engine import (
    ENV_ENGINE,
    ENV_SPARK_CONF,
    ENV_SPARK_MASTER,
    ENV_SPARK_WAREHOUSE,
    EngineError,
)
from signal_pipeline.settings import ENV_ARTIFACTS, ENV_DB, ENV_EVENTS


def _graph(definitions: dg.Definitions) -> dict[str, set[str]]:
    graph = definitions.resolve_asset_graph()
    return {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }


def _checks(definitions: dg.Definitions) -> set[str]:
    return {key.to_user_string() for key in definitions.resolve_asset_graph().asset_check_keys}


def _load(monkeypatch: pytest.MonkeyPatch, engine: str) -> dg.Definitions:
    from signal_pipeline.definitions import defs

    monkeypatch.setenv(ENV_ENGINE, engine)
    return defs()


def test_both_engines_load_the_same_asset_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    duck = _load(monkeypatch, "duckdb")
    spark = _load(monkeypatch, "spark")
    assert _graph(spark) == _graph(duck)
    assert len(_graph(duck)) >= 15
    assert _checks(spark) == _checks(duck) and _checks(duck)
    assert duck.resources["duckdb"].engine.kind == "duckdb"
    assert spark.resources["duckdb"].engine.is_spark
    monkeypatch.setenv(ENV_ENGINE, "presto")
    with pytest.raises(Exception) as failed:  # Dagster wraps it, naming resources.py
        _load(monkeypatch, "presto")
    cause = failed.value
    while not isinstance(cause, EngineError) and cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, EngineError)
    assert "unknown engine 'presto': choose one of duckdb, spark" in str(cause)


def test_cli_run_refuses_the_spark_engine_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from signal_pipeline.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "event_id": "e1",
                "ts": "2026-01-01T00:00:00Z",
                "event_type": "page_view",
                "anonymous_id": "a1",
            }
        )
        + "\n"
    )
    monkeypatch.setenv(ENV_ENGINE, "spark")
    code = main(["run", "--events", str(events), "--db", str(tmp_path / "w.duckdb"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "SIGNAL_PIPELINE_ENGINE is 'spark'" in err and "docs/spark.md" in err
    assert not (tmp_path / "w.duckdb").exists()


SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}

#: The assets Spark runs in land_and_process_job; the rest must fail (or be skipped after).
SPARK_ASSETS = {
    "raw_events",
    "identity_map",
    "event_sessions",
    "page_views",
    "sessionized_events",
    "session_metrics",
    "session_bot_flags",
    "sessions",
    "validated_sessions",
    "session_features",
    "cluster_model",
    "session_segments",
}
DUCKDB_ONLY = {"drift_statistics", "segment_profiles", "segment_experiment_lift"}


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.step_key: event.event_specific_data.error.message  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure and event.step_key
    }


def _succeeded(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.step_key for event in result.all_events if event.is_step_success}


def test_dagster_jobs_on_spark_give_the_duckdb_engines_features_and_segments(
    simulated_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    from signal_pipeline.ingest import IngestSettings
    from signal_pipeline.spark.duckdb_reference import run_duckdb_reference
    from signal_pipeline_tests.test_spark_parity import _duckdb_table, assert_same_table

    events = [str(simulated_small / "events.jsonl")]
    reference_db = tmp_path / "reference.duckdb"
    reference = run_duckdb_reference(reference_db, events, ingest_settings=IngestSettings())
    database = tmp_path / "spark_run" / "signal.duckdb"
    warehouse = tmp_path / "warehouse"
    monkeypatch.setenv(ENV_DB, str(database))
    monkeypatch.setenv(ENV_EVENTS, events[0])
    monkeypatch.setenv(ENV_ARTIFACTS, str(tmp_path / "models"))
    monkeypatch.setenv(ENV_SPARK_MASTER, "local[2]")
    monkeypatch.setenv(ENV_SPARK_WAREHOUSE, str(warehouse))
    monkeypatch.setenv(ENV_SPARK_CONF, json.dumps(SPARK_CONF))
    definitions = _load(monkeypatch, "spark")
    engine = definitions.resources["duckdb"].engine
    spark = engine.spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        instance = dg.DagsterInstance.ephemeral()
        ingest = definitions.resolve_job_def("ingest_job").execute_in_process(instance=instance)
        assert ingest.success
        staged_meta = ingest.asset_materializations_for_node("ingested_events")[0].metadata
        assert staged_meta["reconciles"].value is True
        assert staged_meta["landed"].value == reference.ingest.landed
        days = [d.isoformat() for d in reference.ingest.event_dates]
        process = definitions.resolve_job_def("land_and_process_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={
                "dagster/asset_partition_range_start": days[0],
                "dagster/asset_partition_range_end": days[-1],
            },
        )
        failures = _failures(process)
        assert set(failures) == DUCKDB_ONLY, failures
        for step, message in failures.items():
            assert f"{step} runs on the duckdb engine only and the engine is 'spark'" in message
        assert _succeeded(process) >= SPARK_ASSETS
        for table in ("session_features", "session_segments"):
            assert_same_table(
                _duckdb_table(reference_db, table), spark.table(table).toPandas(), table
            )
        segments = spark.table("session_segments").toPandas()
        assert segments["segment_id"].nunique() >= 2
    finally:
        spark.stop()
    assert not database.exists()  # nothing ran on DuckDB
    assert list((warehouse / "session_features").glob("session_date=*/*.parquet"))
