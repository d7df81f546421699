"""The engine setting in Dagster: the same asset graph for both engines, and the Spark-capable
assets materialized through the project's jobs on local Spark (every asset, the session-level
ones on a driver copy) give the DuckDB engine's tables, membership export and report, and
nothing is written to the DuckDB file.

One local Spark session (local[2], 2 shuffle partitions, no UI) for the module's one Spark test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
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

#: Every asset of land_and_process_job: all of them run on Spark.
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
    "drift_statistics",
    "segment_profiles",
    "segment_experiment_lift",
    "segment_report",
    "segment_membership",
}
#: Tables both engines store, compared row for row.
COMPARED_TABLES = (
    "session_features",
    "session_segments",
    "segment_profiles",
    "drift_statistics",
    "segment_experiment_lift",
)


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.step_key: event.event_specific_data.error.message  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure and event.step_key
    }


def _succeeded(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.step_key for event in result.all_events if event.is_step_success}


def _point_at(
    monkeypatch: pytest.MonkeyPatch, root: Path, events: str, engine: str
) -> dg.Definitions:
    """The definitions of a run writing under ``root`` on ``engine`` (local Spark settings)."""
    monkeypatch.setenv(ENV_DB, str(root / "signal.duckdb"))
    monkeypatch.setenv(ENV_EVENTS, events)
    monkeypatch.setenv(ENV_ARTIFACTS, str(root / "models"))
    monkeypatch.setenv(ENV_SPARK_MASTER, "local[2]")
    monkeypatch.setenv(ENV_SPARK_WAREHOUSE, str(root / "warehouse"))
    monkeypatch.setenv(ENV_SPARK_CONF, json.dumps(SPARK_CONF))
    return _load(monkeypatch, engine)


def _run_jobs(
    definitions: dg.Definitions, days: list[str] | None = None
) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """ingest_job, then land_and_process_job over ``days`` (default: every staged day, read
    from the DuckDB engine's staged_events), on one instance like the UI; the days too."""
    instance = dg.DagsterInstance.ephemeral()
    ingest = definitions.resolve_job_def("ingest_job").execute_in_process(instance=instance)
    assert ingest.success
    if days is None:
        database = definitions.resources["duckdb"].path
        days = [str(d) for d in _duckdb_days(database)]
    result = definitions.resolve_job_def("land_and_process_job").execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
    )
    return result, days


def _duckdb_days(database: Path) -> list:
    from signal_pipeline import db

    with db.connect(database, read_only=True) as con:
        rows = con.execute("SELECT DISTINCT event_date FROM staged_events ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return dict(result.asset_materializations_for_node(asset)[0].metadata)


def _driver_copy_fails_cleanly(engine: Any, spark: Any, settings: Any) -> None:
    """A missing input fails naming it; a failing asset body leaves the stored table as it was."""
    from signal_pipeline.spark.driver_tables import driver_copy
    from signal_pipeline.spark.tables import open_table

    missing = "'no_such_table' is not in the Spark warehouse"
    with pytest.raises(dg.Failure, match=missing), driver_copy(engine, ["no_such_table"]):
        pass
    before = open_table(spark, settings, "segment_profiles").count()
    failing = driver_copy(engine, ["segment_profiles"], ["segment_profiles"])
    with pytest.raises(RuntimeError, match="asset body failed"), failing as con:
        con.execute("DELETE FROM segment_profiles")
        raise RuntimeError("asset body failed")
    assert before and open_table(spark, settings, "segment_profiles").count() == before


def _same_json(left: object, right: object) -> bool:
    """Equal JSON metadata values, floats within the parity tolerance (1e-9 relative)."""
    from signal_pipeline_tests.test_spark_parity import REL_TOL

    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same_json(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same_json, left, right))
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=1e-12)
    return left == right


def _membership(root: Path) -> pd.DataFrame:
    frame = pd.read_parquet(root / "models" / "segment_membership" / "segment_membership.parquet")
    return frame.drop(columns=["assigned_at"])  # the export's wall-clock time


def test_dagster_jobs_on_spark_give_the_duckdb_engines_tables(
    simulated_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Materialize all" on Spark: every asset of land_and_process_job runs, and the tables,
    membership export and report equal those of the same jobs on the DuckDB engine."""
    pytest.importorskip("pyspark")
    from signal_pipeline.drift.sensor_policy import DriftReading
    from signal_pipeline.spark.tables import open_table
    from signal_pipeline_tests.test_spark_parity import _duckdb_table, assert_same_table

    events = str(simulated_small / "events.jsonl")
    duck_root, spark_root = tmp_path / "duckdb_run", tmp_path / "spark_run"
    duck, days = _run_jobs(_point_at(monkeypatch, duck_root, events, "duckdb"))
    assert not _failures(duck), _failures(duck)
    definitions = _point_at(monkeypatch, spark_root, events, "spark")
    engine = definitions.resources["duckdb"].engine
    spark = engine.spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        process, _ = _run_jobs(definitions, days)
        assert not _failures(process), _failures(process)
        assert _succeeded(process) >= SPARK_ASSETS
        settings = engine.spark_settings()
        for table in COMPARED_TABLES:
            stored = open_table(spark, settings, table).toPandas()
            assert len(stored), table
            assert_same_table(_duckdb_table(duck_root / "signal.duckdb", table), stored, table)
        segments = spark.table("session_segments").toPandas()
        assert segments["segment_id"].nunique() >= 2
        registry = open_table(spark, settings, "cluster_model_versions").toPandas()
        _driver_copy_fails_cleanly(engine, spark, settings)
    finally:
        spark.stop()
    assert not (spark_root / "signal.duckdb").exists()  # nothing ran on DuckDB
    assert list((spark_root / "warehouse" / "session_features").glob("session_date=*/*.parquet"))
    assert registry["version"].tolist() == [1] and registry["baseline"].iloc[0] != "{}"
    drift_duck, drift_spark = (
        _metadata(duck, "drift_statistics"),
        _metadata(process, "drift_statistics"),
    )
    for key in ("signal_status", "drift_alarm", "model_version", "as_of_day"):
        assert _same_json(drift_spark[key].value, drift_duck[key].value), key
    assert drift_spark["engine"].value == "spark"
    # The drift sensor reads only this metadata: it decides alike on either engine.
    reading = DriftReading.from_metadata(drift_spark)
    assert reading == DriftReading.from_metadata(drift_duck)
    assert reading.model_version == 1 and reading.as_of_day is not None
    pd.testing.assert_frame_equal(_membership(spark_root), _membership(duck_root))
    report_duck, report_spark = (
        _metadata(duck, "segment_report"),
        _metadata(process, "segment_report"),
    )
    for key in ("segments", "charts", "interaction_density"):
        assert report_spark.get(key) == report_duck.get(key), key
    assert (spark_root / "reports" / "segment_report.html").stat().st_size > 10_000
