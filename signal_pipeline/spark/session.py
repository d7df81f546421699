"""Build a Spark session from plain settings: master URL, warehouse path, app name, extra conf.

``master`` is anything ``spark.master`` accepts: ``local[N]`` on one machine, ``spark://host:7077``
for a standalone cluster, ``yarn``, ``k8s://https://api-server:443`` for Kubernetes. With
``remote`` set (``sc://host:15002``, a Spark Connect server, or Databricks Connect's URL) the
session is a Spark Connect client instead and ``master`` is ignored (see docs/spark.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Settings every session gets unless ``extra_conf`` overrides them. UTC session time zone: the
#: pipeline's timestamps are naive UTC (DuckDB TIMESTAMP = Spark TIMESTAMP_NTZ); Arrow transfer
#: for toPandas / mapInPandas.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}


@dataclass(frozen=True)
class SparkSettings:
    """Where and how the Spark engine runs and writes its tables.

    ``warehouse`` is the folder (local path or ``s3a://`` / ``hdfs://`` / ``abfss://`` URI) the
    pipeline writes its Parquet tables under, one sub-folder per table. ``extra_conf`` is passed
    to the session builder verbatim (executor memory, S3 credentials provider, catalogs, ...).
    """

    master: str = "local[*]"
    warehouse: str = "spark-warehouse"
    app_name: str = "signal-pipeline"
    extra_conf: Mapping[str, str] = field(default_factory=dict)
    remote: str | None = None

    def table_path(self, table: str) -> str:
        """The folder (or URI) holding ``table``'s Parquet files."""
        base = self.warehouse.rstrip("/")
        if "://" not in base and not base.startswith("/"):
            base = str(Path(base).expanduser().resolve())
        return f"{base}/{table}"

    def conf(self) -> dict[str, str]:
        """Every configuration pair the session is built with.

        In local mode the Python workers run this interpreter (so they import this project's
        environment); on a cluster the executors' Python is the cluster's business
        (``spark.pyspark.python`` in ``extra_conf``, or the image / cluster libraries).
        """
        local = {"spark.pyspark.python": sys.executable} if self.master.startswith("local") else {}
        return {**BASE_CONF, **local, **{str(k): str(v) for k, v in self.extra_conf.items()}}


def local_settings(warehouse: str | Path, shuffle_partitions: int = 2) -> SparkSettings:
    """Settings for tests and benchmarks on one machine: ``local[2]``, no UI, few partitions."""
    return SparkSettings(
        master="local[2]",
        warehouse=str(warehouse),
        app_name="signal-pipeline-test",
        extra_conf={
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(shuffle_partitions),
            "spark.default.parallelism": str(shuffle_partitions),
            "spark.driver.memory": "2g",
            # Tiny inputs: compiling generated code costs more than it saves, and adaptive
            # re-planning adds jobs; neither changes a result.
            "spark.sql.adaptive.enabled": "false",
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.codegen.factoryMode": "NO_CODEGEN",
        },
    )


def build_spark_session(settings: SparkSettings) -> Any:
    """A ``SparkSession`` for ``settings`` (reusing the running one in this process, if any).

    Returns ``pyspark.sql.SparkSession`` (typed ``Any`` so importing this module does not need
    pyspark). Raises ``ImportError`` with an install hint when pyspark is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Spark engine needs pyspark: pip install 'signal-pipeline[spark]'"
        ) from exc
    builder = SparkSession.builder.appName(settings.app_name)
    if settings.remote:
        builder = builder.remote(settings.remote)
    else:
        builder = builder.master(settings.master)
        if settings.master.startswith("local"):
            # PySpark starts local Python workers with $PYSPARK_PYTHON (default: python3 on the
            # PATH), not with spark.pyspark.python: point it at this interpreter.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in settings.conf().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
