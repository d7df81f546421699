"""What the report shows, read from the DuckDB tables of the data contract."""

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from signal_pipeline.db import table_exists
from signal_pipeline.segments.projection import SCATTER_FEATURES

SCATTER_SAMPLE = 3000

#: Features shown in the per-segment profile heatmap (z-scores of segment means): the same
#: behavioural features as the segment scatter.
PROFILE_FEATURES = SCATTER_FEATURES


@dataclass
class ReportData:
    """Frames behind every section of the report (empty frames when a table is missing)."""

    profiles: pd.DataFrame
    feature_means: pd.DataFrame
    scatter: pd.DataFrame
    bot_reasons: pd.DataFrame
    bot_totals: dict[str, int]
    drift: pd.DataFrame
    versions: pd.DataFrame
    missing: list[str] = field(default_factory=list)
    lift: pd.DataFrame | None = None
    """`segment_experiment_lift`; None when the table does not exist (the section is hidden)."""


def _frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    sql: str,
    missing: list[str],
    params: list | None = None,
) -> pd.DataFrame:
    if not table_exists(con, table):
        missing.append(table)
        return pd.DataFrame()
    return con.execute(sql, params or []).df()


def load_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    """Read the report's inputs (SQL from code; the sample is repeatable)."""
    missing: list[str] = []
    profiles = _frame(
        con, "segment_profiles", "SELECT * FROM segment_profiles ORDER BY sessions DESC", missing
    )
    has_features = table_exists(con, "session_features") and table_exists(con, "session_segments")
    feature_list = ", ".join(f"avg(f.{c}) AS {c}" for c in PROFILE_FEATURES)
    feature_means = (
        con.execute(
            f"SELECT s.segment_id, any_value(s.segment_name) AS segment_name, {feature_list} "
            "FROM session_features f JOIN session_segments s USING (session_id) GROUP BY 1"
        ).df()
        if has_features
        else pd.DataFrame()
    )
    scatter = (
        con.execute(
            "SELECT f.*, s.segment_id, s.segment_name FROM session_features f "
            "JOIN session_segments s USING (session_id) ORDER BY hash(session_id) LIMIT ?",
            [SCATTER_SAMPLE],
        ).df()
        if has_features
        else pd.DataFrame()
    )
    bot_reasons = _frame(
        con,
        "sessions",
        "SELECT reason, count(*) AS sessions FROM (SELECT unnest(bot_reasons) AS reason "
        "FROM sessions) GROUP BY 1 ORDER BY 2 DESC",
        missing,
    )
    totals: dict[str, int] = {}
    if table_exists(con, "sessions"):
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_bot) FROM sessions"
        ).fetchall()[0]
        totals = {"sessions": int(row[0]), "bots": int(row[1])}
    drift = _frame(
        con, "drift_statistics", "SELECT * FROM drift_statistics ORDER BY signal, day", missing
    )
    versions = _frame(
        con,
        "cluster_model_versions",
        "SELECT version, window_start, window_end, sessions, clusters, noise_share, eps, "
        "membership_churn FROM cluster_model_versions ORDER BY version DESC LIMIT 5",
        missing,
    )
    lift = (
        con.execute("SELECT * FROM segment_experiment_lift").df()
        if table_exists(con, "segment_experiment_lift")
        else None
    )
    return ReportData(
        profiles, feature_means, scatter, bot_reasons, totals, drift, versions, missing, lift
    )
