"""Resources bound to every asset: paths come from the environment, with embedded defaults."""

import dagster as dg

from signal_pipeline.engine import engine_from_env
from signal_pipeline.reliability.run_lock import busy_timeout_s
from signal_pipeline.resources import (
    ArtifactStoreResource,
    EventSourceResource,
    WarehouseResource,
)
from signal_pipeline.settings import resolve_paths


@dg.definitions
def resources() -> dg.Definitions:
    """``duckdb`` (the warehouse file and the engine), ``event_source`` and ``artifacts``.

    Override with SIGNAL_PIPELINE_DB, SIGNAL_PIPELINE_EVENTS (and SIGNAL_PIPELINE_FORMAT) and
    SIGNAL_PIPELINE_ARTIFACTS; SIGNAL_PIPELINE_BUSY_TIMEOUT_S (default 120) is how long a writer
    waits for another process to release the database. SIGNAL_PIPELINE_ENGINE (``duckdb``, the
    default, or ``spark``) picks the engine; SIGNAL_PIPELINE_SPARK_MASTER / _REMOTE / _WAREHOUSE /
    _CONF configure Spark (docs/spark.md).
    """
    paths = resolve_paths()
    return dg.Definitions(
        resources={
            "duckdb": WarehouseResource(
                database=str(paths.database),
                busy_timeout_s=busy_timeout_s(),
                engine=engine_from_env(paths.database),
            ),
            "event_source": EventSourceResource(
                paths=[str(p) for p in paths.events], format=paths.events_format
            ),
            "artifacts": ArtifactStoreResource(directory=str(paths.artifacts)),
        }
    )
