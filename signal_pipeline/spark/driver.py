"""Moving data between the driver and the executors: bounded samples and broadcast values."""

from __future__ import annotations

from typing import Any

import pandas as pd


def driver_sample(frame: Any, max_rows: int, seed: int, order_by: str) -> pd.DataFrame:
    """Up to about ``max_rows`` rows of the Spark DataFrame ``frame`` on the driver, ordered by
    ``order_by``: every row when the frame is small enough (then the result equals a full
    collect), otherwise a seeded Bernoulli sample of fraction ``max_rows / count``."""
    total = frame.count()
    sample = frame if total <= max_rows else frame.sample(False, max_rows / total, seed)
    return sample.orderBy(order_by).toPandas()


def broadcast_value(spark: Any, value: Any) -> Any:
    """A broadcast variable holding ``value`` (classic Spark). Under Spark Connect, which has no
    SparkContext, ``value`` itself: it is then shipped with the function, once per task."""
    try:
        return spark.sparkContext.broadcast(value)
    except Exception:  # pyspark.errors differ between classic and Connect
        return value


def broadcast_payload(shared: Any) -> Any:
    """The value inside what :func:`broadcast_value` returned (call it inside a task)."""
    from pyspark import Broadcast

    return shared.value if isinstance(shared, Broadcast) else shared


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with Arrow-backed and string extension columns as plain object columns (None
    for missing), the form PySpark's pandas-to-Arrow conversion accepts from pandas 3."""
    converted = {}
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.StringDtype | pd.ArrowDtype) or str(dtype) == "str":
            values = frame[name].astype(object)
            converted[name] = values.where(values.notna(), None)
    return frame.assign(**converted) if converted else frame
