"""Every SQL model materialized through Dagster records row count, schema, lineage and a preview."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from signal_pipeline.defs.sql_models.assets import PYTHON_ASSET_TABLES, sql_model_asset
from signal_pipeline.resources import WarehouseResource
from signal_pipeline.sql_models import load_models
from signal_pipeline_tests.test_sql_sessionization import land_bot_flags, land_fixture_events


@pytest.fixture(scope="module")
def materialized(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dg.ExecuteInProcessResult, Path]:
    database = tmp_path_factory.mktemp("meta") / "signal.duckdb"
    con = duckdb.connect(str(database))
    land_fixture_events(con)
    land_bot_flags(con)
    con.close()
    models = load_models(external_tables=PYTHON_ASSET_TABLES)
    result = dg.materialize(
        [sql_model_asset(model) for model in models.values()],
        resources={"duckdb": WarehouseResource(database=str(database))},
    )
    return result, database


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def test_every_model_is_materialized(materialized: tuple) -> None:
    result, _ = materialized
    assert result.success
    assert set(metadata_of(result)) == set(load_models(external_tables=PYTHON_ASSET_TABLES))


def test_row_count_and_schema_match_the_table(materialized: tuple) -> None:
    result, database = materialized
    with duckdb.connect(str(database), read_only=True) as con:
        for name, metadata in metadata_of(result).items():
            count = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            assert metadata["dagster/row_count"].value == count[0], name
            described = [(r[0], r[1]) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
            schema = metadata["dagster/column_schema"].schema
            assert [(c.name, c.type) for c in schema.columns] == described, name


def test_column_lineage_is_recorded_from_the_sql(materialized: tuple) -> None:
    result, _ = materialized
    metadata = metadata_of(result)
    for name, values in metadata.items():
        lineage = values["dagster/column_lineage"].value.deps_by_column
        assert lineage, name
        upstream = {dep.asset_key.to_user_string() for deps in lineage.values() for dep in deps}
        assert upstream <= set(load_models(external_tables=PYTHON_ASSET_TABLES)[name].upstream)

    def deps(table: str, column: str) -> set[tuple[str, str]]:
        lineage = metadata[table]["dagster/column_lineage"].value.deps_by_column[column]
        return {(d.asset_key.to_user_string(), d.column_name) for d in lineage}

    # started_at is the ts of the page view's first page_view event, picked by (ts, event_id)
    assert deps("page_views", "dwell_s") == {
        ("event_sessions", "ts"),
        ("event_sessions", "event_type"),
        ("event_sessions", "event_id"),
    }
    assert ("raw_events", "session_id") in deps("event_sessions", "session_id")
    assert ("event_sessions", "session_id") in deps("sessionized_events", "session_id")
    assert deps("session_features", "cta_ctr") == {("validated_sessions", "cta_ctr")}
    assert ("session_bot_flags", "is_bot") in deps("sessions", "is_bot")


def test_preview_is_a_markdown_table_of_the_first_rows(materialized: tuple) -> None:
    from signal_pipeline.sql_models import load_models

    models = load_models(external_tables=("raw_events", "session_bot_flags"))
    result, _ = materialized
    for name, values in metadata_of(result).items():
        preview = values["preview"].value
        count = values["dagster/row_count"].value
        if models[name].materialized == "view":  # computed when read: described, not previewed
            assert "view" in preview and f"SELECT * FROM {name}" in preview, name
            continue
        header = preview.splitlines()[0]
        assert header.startswith("| ") and header.count("|") >= 3, name
        assert len(preview.splitlines()) == 2 + min(count, 10), name


def test_full_refresh_models_read_every_raw_events_partition() -> None:
    from signal_pipeline.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    raw = dg.AssetKey("raw_events")
    readers = [key for key in graph.get_all_asset_keys() if raw in graph.get(key).parent_keys]
    assert readers, "no SQL model reads raw_events"
    for key in readers:
        assert graph.get(key).partitions_def is None, key  # full refresh, rebuilt whole
        mapping = definitions.resolve_assets_def(key).get_partition_mapping(raw)
        assert isinstance(mapping, dg.AllPartitionMapping), key
