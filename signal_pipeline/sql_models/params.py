"""Run-time parameters of the SQL models, exposed to them as the one-row table ``model_params``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb


@dataclass(frozen=True)
class ModelParams:
    """Tunable constants the SQL models read from ``model_params`` (units in the names)."""

    session_gap_s: float = 1800.0
    """Inactivity that starts a new session when events carry no ``session_id``."""
    session_cap_s: float = 86400.0
    """Longest session; longer ones are split (and counted)."""
    heartbeat_s: float = 10.0
    """Page-ping heartbeat of the tracker (Snowplow's default)."""
    min_visit_s: float = 5.0
    """Minimum visit length before the first page ping (Snowplow's default)."""


def register_model_params(con: duckdb.DuckDBPyConnection, params: ModelParams) -> None:
    """(Re)create the temp table ``model_params`` holding ``params`` as one row.

    Column names come from the dataclass (code); values are bound parameters.
    """
    values = asdict(params)
    columns = ", ".join(f"CAST(? AS DOUBLE) AS {name}" for name in values)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE model_params AS SELECT {columns}", list(values.values())
    )
