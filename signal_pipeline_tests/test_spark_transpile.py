"""The Spark translation of the SQL models, checked without starting Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from signal_pipeline.spark.session import SparkSettings
from signal_pipeline.spark.transpile import (
    SparkTranspileError,
    transpile_models,
    transpile_sql,
)
from signal_pipeline.sql_models import DEFAULT_MODELS_DIR, load_models

MODELS = load_models(DEFAULT_MODELS_DIR, external_tables=["raw_events", "session_bot_flags"])


def test_every_model_transpiles_in_dependency_order_with_its_upstream() -> None:
    spark_models = transpile_models(MODELS)
    assert list(spark_models) == list(MODELS)
    for name, model in spark_models.items():
        assert model.upstream == MODELS[name].upstream
        assert sqlglot.parse_one(model.spark_sql, read="spark") is not None


def test_decimal_literals_become_doubles_so_spark_divides_in_floating_point() -> None:
    spark_sql = transpile_sql(
        "SELECT count(*) / 1000000.0 AS s, 2 AS n, 1e3 AS e FROM t", Path("m")
    )
    tree = sqlglot.parse_one(spark_sql, read="spark")
    casts = [c for c in tree.find_all(exp.Cast) if c.to.is_type("double")]
    assert [c.this.this for c in casts] == ["1000000.0"]
    assert "2 AS n" in spark_sql  # integers and exponent literals are left alone


def test_a_duckdb_left_fold_becomes_spark_aggregate_with_its_initial_value_second() -> None:
    spark_sql = transpile_sql(
        "SELECT list_reduce(xs, lambda acc, x: acc + x, CAST(0 AS DOUBLE)) AS total FROM t",
        Path("m"),
    )
    fold = sqlglot.parse_one(spark_sql, read="spark").find(exp.Reduce)
    assert fold is not None, spark_sql
    assert fold.this.name == "xs"
    assert fold.args["initial"].is_type("double")  # Spark: aggregate(list, initial, merge)
    assert isinstance(fold.args["merge"], exp.Lambda)
    assert spark_sql.startswith("SELECT AGGREGATE(xs, CAST(0 AS DOUBLE), (acc, x) -> acc + x)")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT a,\n    epoch_us(ts) AS us\nFROM t", "epoch_us"),
        ("SELECT *\nFROM t\nASOF JOIN u ON t.a >= u.a", "ASOF JOIN"),
        ("SELECT TRY(1 / 0) AS x", "TRY"),
    ],
)
def test_a_non_portable_construct_is_reported_naming_the_file(sql: str, construct: str) -> None:
    with pytest.raises(SparkTranspileError, match=rf"models/bad\.sql.*{construct}"):
        transpile_sql(sql, Path("models/bad.sql"))


def test_a_broken_model_folder_fails_at_load_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad_model.sql").write_text(
        "-- A model that uses a DuckDB-only function Spark does not have.\n"
        "SELECT event_id,\n    list_stddev_pop([x, y]) AS spread\nFROM raw_events\n"
    )
    with pytest.raises(SparkTranspileError, match=r"bad_model\.sql:3: .*list_stddev_pop"):
        transpile_models(load_models(tmp_path, external_tables=["raw_events"]))


def test_settings_give_local_workers_this_python_and_utc(tmp_path: Path) -> None:
    local = SparkSettings(master="local[2]", warehouse=str(tmp_path))
    cluster = SparkSettings(master="spark://head:7077", warehouse="s3a://bucket/wh/")
    assert local.conf()["spark.sql.session.timeZone"] == "UTC"
    assert "spark.pyspark.python" in local.conf()
    assert "spark.pyspark.python" not in cluster.conf()
    assert cluster.table_path("raw_events") == "s3a://bucket/wh/raw_events"
    assert local.table_path("raw_events") == f"{tmp_path}/raw_events"
    overridden = SparkSettings(extra_conf={"spark.sql.session.timeZone": "Europe/Paris"})
    assert overridden.conf()["spark.sql.session.timeZone"] == "Europe/Paris"
