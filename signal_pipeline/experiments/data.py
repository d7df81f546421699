"""Read the sessions of every experiment from the warehouse; write the lift table back."""

from __future__ import annotations

import duckdb
import pandas as pd

from signal_pipeline.db import table_exists
from signal_pipeline.experiments.lift import LIFT_COLUMNS
from signal_pipeline.sql_models.runner import quote_identifier

LIFT_TABLE = "segment_experiment_lift"
INPUT_TABLES = ("session_features", "session_segments")
SESSION_COLUMNS = ("session_id", "session_date", "experiment", "variant", "cta_clicks", "converted")


class MissingInputError(RuntimeError):
    """A table the lift analysis reads has not been built."""


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def read_experiment_sessions(
    con: duckdb.DuckDBPyConnection, strata: tuple[str, ...] = ("device_type", "campaign")
) -> pd.DataFrame:
    """Enrolled sessions (experiment and variant set) with their segment and strata columns.

    Strata columns that `session_features` lacks are skipped (the estimates then adjust for
    fewer variables); missing input tables raise `MissingInputError`.
    """
    for table in INPUT_TABLES:
        if not table_exists(con, table):
            raise MissingInputError(f"{table} does not exist: run the pipeline first")
    available = _columns(con, "session_features")
    missing = [c for c in SESSION_COLUMNS if c not in available]
    if missing:
        raise MissingInputError(f"session_features lacks {missing}")
    wanted = list(SESSION_COLUMNS) + [
        c for c in strata if c in available and c not in SESSION_COLUMNS
    ]
    select = ", ".join(f"f.{quote_identifier(c)}" for c in wanted)
    return con.execute(
        f"SELECT {select}, s.segment_id, s.segment_name FROM session_features f "
        "JOIN session_segments s USING (session_id) "
        "WHERE f.experiment IS NOT NULL AND f.variant IS NOT NULL ORDER BY f.session_id"
    ).df()


def write_lift_table(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> None:
    """Replace `segment_experiment_lift` with `table` (typed columns, even when empty)."""
    columns = ", ".join(f"{quote_identifier(c)} {t}" for c, t in LIFT_COLUMNS.items())
    casts = ", ".join(f"CAST({quote_identifier(c)} AS {t})" for c, t in LIFT_COLUMNS.items())
    frame = table.reindex(columns=list(LIFT_COLUMNS)).astype("object")
    frame = frame.where(frame.notna(), None)
    con.execute("BEGIN TRANSACTION")
    con.execute(f"CREATE OR REPLACE TABLE {LIFT_TABLE} ({columns})")
    if len(frame):
        con.register("lift_frame", frame)
        con.execute(f"INSERT INTO {LIFT_TABLE} SELECT {casts} FROM lift_frame")
        con.unregister("lift_frame")
    con.execute("COMMIT")
