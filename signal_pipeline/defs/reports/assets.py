"""The HTML segment report, written next to the database for people who don't open Dagster."""

import dagster as dg
import pandas as pd

from signal_pipeline.resources import WarehouseResource

REPORT_NAME = "segment_report.html"
#: The session-level tables the report reads (each optional: a missing one is named in it).
REPORT_INPUTS = (
    "segment_profiles",
    "session_features",
    "session_segments",
    "sessions",
    "drift_statistics",
    "cluster_model_versions",
    "segment_experiment_lift",
)


@dg.asset(
    group_name="segments",
    deps=[
        "segment_profiles",
        "session_segments",
        "drift_statistics",
        "sessions",
        "page_views",
        "sessionized_events",
        "segment_experiment_lift",
    ],
    kinds={"html", "duckdb"},
    owners=["team:data-science"],
    pool="duckdb",
)
def segment_report(context: dg.AssetExecutionContext, duckdb: WarehouseResource):
    """A self-contained HTML report for marketing: the segment table in the reference shape
    (pattern, avg dwell, scroll depth, CTA CTR, conversion vs average), per-segment feature
    profiles, a 2-D map of sessions by segment, the bot summary, drift status and what changed
    since the last cluster version. Charts are inline SVG: no network is needed to view it.
    Written to `reports/segment_report.html` beside the database file. Its metadata also shows
    where attention concentrates: hovers + clicks per 100 page views by page type × element."""
    from signal_pipeline.report import write_report  # charts stack loads only when used
    from signal_pipeline.report.attention import density_heatmap_markdown, interaction_density

    out = duckdb.path.parent / "reports" / REPORT_NAME
    if duckdb.engine.is_spark:
        from signal_pipeline.report import attention
        from signal_pipeline.spark.driver_tables import driver_copy, spark_query

        with driver_copy(duckdb.engine, [], optional=REPORT_INPUTS) as con:
            summary = write_report(con, out, duckdb.engine.warehouse)  # a path or a URI
        # Per-event inputs stay on Spark: the same query runs there, only its result comes back.
        needed = attention.DENSITY_TABLES
        density = spark_query(duckdb.engine, attention.DENSITY_SQL, needed, attention.__file__)
        density = pd.DataFrame() if density is None else density
    else:
        with duckdb.get_connection() as con:
            summary = write_report(con, out, duckdb.path)
            density = interaction_density(con)
    heatmap = density_heatmap_markdown(density)
    context.log.info("wrote %s (%d bytes)", summary.path, summary.bytes)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(summary.path)),
            "segments": dg.MetadataValue.int(summary.segments),
            "charts": dg.MetadataValue.int(summary.charts),
            "bytes": dg.MetadataValue.int(summary.bytes),
            **({"interaction_density": dg.MetadataValue.md(heatmap)} if heatmap else {}),
        }
    )
