"""SQL models: one ``.sql`` file in ``dbt_like_sql/`` = one DuckDB table = one Dagster asset."""

from signal_pipeline.sql_models.catalog import (
    DEFAULT_MODELS_DIR,
    SqlModel,
    SqlModelError,
    load_models,
)
from signal_pipeline.sql_models.params import ModelParams
from signal_pipeline.sql_models.runner import build_model, build_models

__all__ = [
    "DEFAULT_MODELS_DIR",
    "ModelParams",
    "SqlModel",
    "SqlModelError",
    "build_model",
    "build_models",
    "load_models",
]
