"""Every SQL model parses as DuckDB and transpiles to Spark SQL with sqlglot (portability)."""

from __future__ import annotations

import pytest
import sqlglot

from signal_pipeline.sql_models import DEFAULT_MODELS_DIR, load_models

MODELS = load_models(DEFAULT_MODELS_DIR, external_tables=["raw_events", "session_bot_flags"])

CONTRACT_MODELS = {
    "identity_map",
    "sessionized_events",
    "page_views",
    "session_metrics",
    "sessions",
    "validated_sessions",
    "session_features",
}


def test_every_contract_model_exists_with_a_group_and_description() -> None:
    assert set(MODELS) >= CONTRACT_MODELS
    for model in MODELS.values():
        assert model.group in {"sessions", "quality", "features"}, model.name
        assert len(model.description) > 40, model.name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_transpiles_to_spark(name: str) -> None:
    spark = sqlglot.transpile(
        MODELS[name].sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
    )
    assert len(spark) == 1
    # The Spark text parses back as Spark SQL.
    assert sqlglot.parse_one(spark[0], read="spark") is not None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_avoids_duckdb_only_epoch_functions(name: str) -> None:
    # epoch() becomes Spark UNIX_TIMESTAMP (whole seconds) and epoch_us/epoch_ms have no Spark
    # equivalent; durations use date_diff('microsecond', a, b) (Spark DATEDIFF(MICROSECOND, ..)).
    functions = {f.sql_name().lower() for f in MODELS[name].expression.find_all(sqlglot.exp.Func)}
    assert not functions & {"epoch", "epoch_ms", "epoch_us", "unix_to_time", "time_to_unix"}, name
