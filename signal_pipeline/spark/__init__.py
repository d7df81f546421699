"""Apache Spark as a second engine for the same pipeline: the same SQL models (transpiled from
DuckDB with sqlglot), the same ingest rules, bot rules and cluster model, at cluster scale.

Nothing here is imported by the DuckDB path; ``pyspark`` is needed only when this package is.
"""

from signal_pipeline.spark.session import SparkSettings, build_spark_session
from signal_pipeline.spark.transpile import SparkModel, SparkTranspileError, transpile_models

__all__ = [
    "SparkModel",
    "SparkSettings",
    "SparkTranspileError",
    "build_spark_session",
    "transpile_models",
]
