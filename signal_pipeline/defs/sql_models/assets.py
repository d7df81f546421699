"""One Dagster asset per SQL file in ``dbt_like_sql/``; dependencies parsed from the SQL."""

import dagster as dg
from pydantic import Field

from signal_pipeline.engine import engine_kind_from_env
from signal_pipeline.metadata import table_metadata
from signal_pipeline.resources import WarehouseResource
from signal_pipeline.sql_models import ModelParams, SqlModel, build_model, load_models
from signal_pipeline.sql_models.lineage import column_lineage

#: Tables that Python assets produce and SQL models may read.
PYTHON_ASSET_TABLES = ("raw_events", "session_bot_flags")

#: Of those, the daily-partitioned ones. Every SQL model is a full refresh: it reads all of their
#: partitions (sessions cross midnight), so it depends on every partition and is rebuilt whole.
PARTITIONED_TABLES = frozenset({"raw_events"})


def upstream_deps(model: SqlModel) -> list[dg.AssetDep]:
    """The model's upstream assets; a partitioned input is read whole (all partitions)."""
    return [
        dg.AssetDep(table, partition_mapping=dg.AllPartitionMapping())
        if table in PARTITIONED_TABLES
        else dg.AssetDep(table)
        for table in model.upstream
    ]


class SqlModelConfig(dg.Config):
    """Run-time constants the SQL models read from the one-row table ``model_params``."""

    session_gap_s: float = Field(
        default=ModelParams.session_gap_s,
        description="Inactivity (s) that starts a new session when events carry no session_id.",
    )
    session_cap_s: float = Field(
        default=ModelParams.session_cap_s,
        description="Longest session (s); longer ones are split and counted.",
    )
    heartbeat_s: float = Field(
        default=ModelParams.heartbeat_s, description="Page-ping heartbeat of the tracker (s)."
    )
    min_visit_s: float = Field(
        default=ModelParams.min_visit_s,
        description="Minimum visit length (s) before the first page ping.",
    )

    def to_params(self) -> ModelParams:
        """The plain parameter object the runner binds."""
        return ModelParams(
            session_gap_s=self.session_gap_s,
            session_cap_s=self.session_cap_s,
            heartbeat_s=self.heartbeat_s,
            min_visit_s=self.min_visit_s,
        )


def _upstream_schema(con, tables: tuple[str, ...]) -> dict[str, dict[str, str]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND list_contains(?, table_name)",
        [list(tables)],
    ).fetchall()
    schema: dict[str, dict[str, str]] = {t: {} for t in tables}
    for table, column, dtype in rows:
        schema[table][column] = dtype
    return schema


def sql_model_asset(model: SqlModel) -> dg.AssetsDefinition:
    """The asset that (re)builds ``model``'s table atomically and records its metadata."""

    @dg.asset(
        name=model.name,
        deps=upstream_deps(model),
        group_name=model.group,
        description=model.description,
        kinds={"duckdb", "sql"},
        owners=["team:data-engineering"],
        pool="duckdb",
        metadata={
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
            "dagster/code_references": dg.CodeReferencesMetadataValue(
                code_references=[dg.LocalFileCodeReference(file_path=str(model.path))]
            ),
        },
    )
    def _sql_model(
        context: dg.AssetExecutionContext, config: SqlModelConfig, duckdb: WarehouseResource
    ) -> dg.MaterializeResult:
        if duckdb.engine.is_spark:
            from signal_pipeline.spark.dagster_steps import sql_model_step

            return sql_model_step(context, duckdb.engine, model, config.to_params())
        with duckdb.get_connection() as con:
            rows = build_model(con, model, config.to_params())
            columns = [
                d[0] for d in con.execute(f'SELECT * FROM "{model.name}" LIMIT 0').description
            ]
            lineage = column_lineage(model, columns, _upstream_schema(con, model.upstream))
            metadata = table_metadata(con, model.name, lineage=lineage, row_count=rows)
        context.log.info("built %s: %d rows", model.name, rows)
        return dg.MaterializeResult(metadata=metadata)

    return _sql_model


@dg.definitions
def sql_model_defs() -> dg.Definitions:
    """Every SQL model as an asset (a broken model fails here, naming its file and line)."""
    models = load_models(external_tables=PYTHON_ASSET_TABLES)
    if engine_kind_from_env() == "spark":  # a model Spark cannot run fails here, naming it
        from signal_pipeline.spark.dagster_steps import transpile_for_spark

        transpile_for_spark(models)
    return dg.Definitions(assets=[sql_model_asset(m) for m in models.values()])
