"""Jobs for the common actions, visible in the launchpad."""

import dagster as dg

INGEST_ASSETS = ("staged_events", "quarantined_events")
RECLUSTER_ASSETS = ("cluster_model", "session_segments", "segment_profiles")

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Read the event files: parse, validate, de-duplicate and quarantine.",
)

land_and_process_job = dg.define_asset_job(
    "land_and_process_job",
    selection=dg.AssetSelection.assets("raw_events").downstream(),
    description=(
        "Land the staged events of the chosen days into raw_events, then rebuild sessions, "
        "bot flags, features, segments, profiles and drift statistics."
    ),
)

rebuild_features_job = dg.define_asset_job(
    "rebuild_features_job",
    selection=dg.AssetSelection.assets("raw_events").downstream(include_self=False)
    - dg.AssetSelection.assets(*RECLUSTER_ASSETS).downstream(),
    description="Rebuild sessions, bot flags and session features from raw_events.",
)

daily_pipeline_job = dg.define_asset_job(
    "daily_pipeline_job",
    selection=dg.AssetSelection.all(),
    description="Ingest, land the chosen day(s) and rebuild everything downstream.",
)

recluster_job = dg.define_asset_job(
    "recluster_job",
    selection=dg.AssetSelection.assets(
        *RECLUSTER_ASSETS, "drift_statistics", "segment_experiment_lift"
    ),
    description="Fit a new cluster model on the validated sessions, re-assign and re-profile.",
)


@dg.definitions
def job_defs() -> dg.Definitions:
    """The project's jobs."""
    return dg.Definitions(
        jobs=[
            ingest_job,
            land_and_process_job,
            rebuild_features_job,
            recluster_job,
            daily_pipeline_job,
        ]
    )
