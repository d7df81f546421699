"""Dagster entry point: only loads the definitions found under ``signal_pipeline/defs/``."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Every asset, check, job, schedule, sensor and resource of the project."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
