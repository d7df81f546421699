"""Dagster entry point: only loads the definitions found under ``signal_pipeline/defs/``."""

import warnings
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Every asset, check, job, schedule, sensor and resource of the project.

    Assets are annotated with code references (the UI links each asset to its source). Code
    references are a beta Dagster API; its BetaWarning is silenced so that it doesn't reach users.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
        assets = dg.with_source_code_references(list(loaded.assets or []))
    return dg.Definitions(
        assets=assets,
        asset_checks=loaded.asset_checks,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        jobs=loaded.jobs,
        resources=loaded.resources,
        executor=loaded.executor,
        loggers=loaded.loggers,
        metadata=loaded.metadata,
    )
