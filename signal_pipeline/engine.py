"""The engine the assets run on: DuckDB (embedded, the default) or Apache Spark.

One setting, ``engine``, on the warehouse resource (``duckdb``) that every asset already has.
With ``kind="duckdb"`` nothing changes: the assets use the DuckDB file. With ``kind="spark"`` the
assets run on a Spark session and write Parquet tables under ``warehouse``: ingest,
``raw_events``, every SQL model, bot flags, the cluster model, ``session_segments`` and the
asset checks natively; the session-level assets after them (drift, profiles, lift, report,
membership) run their DuckDB code on a driver copy of their input tables
(``signal_pipeline.spark.driver_tables``), never on the DuckDB file. The asset graph is the same
for both kinds.

No module-level ``from __future__ import annotations``: Dagster resolves config types at runtime.
"""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

DUCKDB = "duckdb"
SPARK = "spark"
ENGINES = (DUCKDB, SPARK)

ENV_ENGINE = "SIGNAL_PIPELINE_ENGINE"
ENV_SPARK_MASTER = "SIGNAL_PIPELINE_SPARK_MASTER"
ENV_SPARK_REMOTE = "SIGNAL_PIPELINE_SPARK_REMOTE"
ENV_SPARK_WAREHOUSE = "SIGNAL_PIPELINE_SPARK_WAREHOUSE"
ENV_SPARK_CONF = "SIGNAL_PIPELINE_SPARK_CONF"


class EngineError(ValueError):
    """An engine setting that cannot be used (the message says which one and why)."""


class EngineConfig(dg.Config):
    """Which engine executes the assets, and where Spark runs and writes when it is Spark."""

    kind: str = Field(default=DUCKDB, description="duckdb (embedded, default) | spark")
    spark_master: str = Field(
        default="local[*]",
        description="spark.master: local[N], spark://host:7077, yarn, k8s://https://host:443.",
    )
    spark_remote: str | None = Field(
        default=None,
        description="Spark Connect URL (sc://host:15002); when set, spark_master is ignored.",
    )
    warehouse: str = Field(
        default="spark-warehouse",
        description="Folder or URI (s3a://, hdfs://, abfss://) of the Spark Parquet tables.",
    )
    app_name: str = Field(default="signal-pipeline", description="Spark application name.")
    extra_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark configuration, passed to the session builder verbatim.",
    )

    @property
    def is_spark(self) -> bool:
        """True when the assets run on Spark (``kind`` is validated here, on first use)."""
        check_engine_kind(self.kind)
        return self.kind == SPARK

    def spark_settings(self) -> Any:
        """The :class:`signal_pipeline.spark.session.SparkSettings` of this resource."""
        from signal_pipeline.spark.session import SparkSettings

        return SparkSettings(
            master=self.spark_master,
            warehouse=self.warehouse,
            app_name=self.app_name,
            extra_conf=dict(self.extra_conf),
            remote=self.spark_remote,
        )

    def spark_session(self) -> Any:
        """The process's Spark session for these settings (started on first use, then reused)."""
        from signal_pipeline.spark.session import build_spark_session

        return build_spark_session(self.spark_settings())


def check_engine_kind(kind: str) -> str:
    """``kind`` when it names an engine; otherwise an ``EngineError`` listing the choices."""
    if kind not in ENGINES:
        raise EngineError(f"unknown engine {kind!r}: choose one of {', '.join(ENGINES)}")
    return kind


def spark_conf_from_env(text: str) -> dict[str, str]:
    """``SIGNAL_PIPELINE_SPARK_CONF``: a JSON object of Spark settings (``{}`` when empty)."""
    if not text.strip():
        return {}
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(f"{ENV_SPARK_CONF} is not a JSON object: {exc}") from exc
    if not isinstance(conf, dict):
        raise EngineError(f"{ENV_SPARK_CONF} must be a JSON object of settings")
    return {str(key): str(value) for key, value in conf.items()}


def engine_kind_from_env() -> str:
    """``SIGNAL_PIPELINE_ENGINE`` (``duckdb`` when unset), validated."""
    return check_engine_kind(os.environ.get(ENV_ENGINE, DUCKDB).strip().lower() or DUCKDB)


def engine_from_env(database: Path) -> EngineConfig:
    """The engine resource from the environment: ``SIGNAL_PIPELINE_ENGINE`` (default duckdb),
    ``SIGNAL_PIPELINE_SPARK_MASTER`` (default ``local[*]``), ``SIGNAL_PIPELINE_SPARK_REMOTE``,
    ``SIGNAL_PIPELINE_SPARK_WAREHOUSE`` (default ``spark-warehouse`` next to the DuckDB file) and
    ``SIGNAL_PIPELINE_SPARK_CONF`` (a JSON object). A bad value fails here, at load."""
    kind = engine_kind_from_env()
    warehouse = os.environ.get(ENV_SPARK_WAREHOUSE) or str(database.parent / "spark-warehouse")
    return EngineConfig(
        kind=kind,
        spark_master=os.environ.get(ENV_SPARK_MASTER) or "local[*]",
        spark_remote=os.environ.get(ENV_SPARK_REMOTE) or None,
        warehouse=warehouse,
        extra_conf=spark_conf_from_env(os.environ.get(ENV_SPARK_CONF, "")),
    )
