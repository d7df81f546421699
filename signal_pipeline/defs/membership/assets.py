"""Segment memberships for activation: person/session → segment, as Parquet and CSV files."""

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from signal_pipeline.metadata import markdown_table
from signal_pipeline.realtime.model_source import write_segment_actions
from signal_pipeline.resources import ArtifactStoreResource, WarehouseResource

MEMBERSHIP_DIR = "segment_membership"
#: The tables MEMBERSHIP_SQL reads.
MEMBERSHIP_INPUTS = ("session_segments", "session_features", "sessions", "segment_profiles")
MEMBERSHIP_NAME = "segment_membership"

#: Rows of the export, one per validated session (column list: docs in the asset docstring).
MEMBERSHIP_SQL = """
SELECT
    f.person_id,
    s.anonymous_id,
    s.user_id,
    g.session_id,
    g.segment_id,
    g.segment_name,
    coalesce(p.action_flag, 'none') AS action_flag,
    g.cluster_version,
    f.session_start,
    s.session_end,
    CAST($assigned_at AS TIMESTAMP) AS assigned_at
FROM session_segments AS g
JOIN session_features AS f ON g.session_id = f.session_id
LEFT JOIN sessions AS s ON g.session_id = s.session_id
LEFT JOIN segment_profiles AS p ON g.segment_id = p.segment_id
ORDER BY f.person_id, f.session_start, g.session_id
"""


def _write_atomically(table: pa.Table, target: Path, writer) -> None:
    handle, temp_name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        writer(table, temp_name)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


@dg.asset(
    group_name="segments",
    deps=["session_segments", "segment_profiles", "session_features", "sessions"],
    kinds={"parquet", "csv", "duckdb"},
    owners=["team:data-engineering"],
    pool="duckdb",
)
def segment_membership(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Who is in which segment, for ad and CRM tools: one row per validated session.

    Columns: person_id (stitched person), anonymous_id, user_id, session_id, segment_id,
    segment_name, action_flag (the segment's flag from segment_profiles: content_reinforcement,
    ux_review or none), cluster_version, session_start, session_end (UTC) and assigned_at (UTC
    time of this export). Written as `segment_membership/segment_membership.parquet` and `.csv`
    under the artifacts folder (each replaced atomically). Also writes the action flag of every
    segment beside the model (`segment_actions_vNNNN.json`) so live scoring (`signal-pipeline
    serve` / `assign`) returns the same action flags as the batch profiles.
    """
    assigned_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with duckdb.session_tables(MEMBERSHIP_INPUTS) as con:
        table = con.sql(MEMBERSHIP_SQL, params={"assigned_at": assigned_at}).to_arrow_table()
        profiles = con.execute(
            "SELECT segment_id, segment_name, action_flag FROM segment_profiles ORDER BY 1"
        ).fetchall()
        version_row = con.execute("SELECT max(cluster_version) FROM session_segments").fetchone()
    folder = artifacts.path / MEMBERSHIP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    parquet_path = folder / f"{MEMBERSHIP_NAME}.parquet"
    csv_path = folder / f"{MEMBERSHIP_NAME}.csv"
    _write_atomically(table, parquet_path, pq.write_table)
    _write_atomically(table, csv_path, pa_csv.write_csv)
    metadata: dict[str, object] = {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "parquet": dg.MetadataValue.path(str(parquet_path)),
        "csv": dg.MetadataValue.path(str(csv_path)),
        "persons": dg.MetadataValue.int(len(set(table.column("person_id").to_pylist()))),
        "segments": dg.MetadataValue.md(
            markdown_table(["segment_id", "segment_name", "action_flag"], profiles)
        ),
    }
    version = version_row[0] if version_row else None
    if version is not None:
        actions = write_segment_actions(
            artifacts.path,
            int(version),
            {str(i): {"segment_name": str(n), "action_flag": str(a)} for i, n, a in profiles},
        )
        metadata["segment_actions"] = dg.MetadataValue.path(str(actions))
        metadata["cluster_version"] = dg.MetadataValue.int(int(version))
    context.log.info("wrote %d memberships to %s", table.num_rows, folder)
    return dg.MaterializeResult(metadata=metadata)
