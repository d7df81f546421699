"""Run loggers: Dagster's console logger and the CLI's step-progress logger."""

import dagster as dg

from signal_pipeline.run_progress import progress_logger


@dg.definitions
def loggers() -> dg.Definitions:
    """``console`` (Dagster's default) and ``progress`` (used by `signal-pipeline run`)."""
    return dg.Definitions(
        loggers={"console": dg.colored_console_logger, "progress": progress_logger}
    )
