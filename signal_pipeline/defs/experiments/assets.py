"""Experiments: does treating a segment differently move its CTA click-through or conversion?"""

from datetime import date

import dagster as dg
from pydantic import Field

from signal_pipeline.experiments import LiftSettings, experiment_lift_table
from signal_pipeline.experiments.chart import forest_plot_markdown
from signal_pipeline.experiments.data import (
    INPUT_TABLES,
    LIFT_TABLE,
    MissingInputError,
    read_experiment_sessions,
    write_lift_table,
)
from signal_pipeline.experiments.summary import SUMMARY_HEADER, is_true, lift_summary_rows
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import WarehouseResource


class SegmentExperimentLiftConfig(dg.Config):
    """How the lift is estimated; every field has a default."""

    treatment_start: str | None = Field(
        default=None,
        description="YYYY-MM-DD the treatment (e.g. content reinforcement) started: the lift is "
        "measured from that day, earlier days give the placebo and difference-in-differences "
        "check. Empty = every day, no before/after check.",
    )
    control_variant: str | None = Field(
        default=None,
        description="Name of the control variant; empty = a variant named control / baseline / "
        "holdout / original / default / a, else the first by name.",
    )
    alpha: float = Field(default=0.05, description="Significance level (two-sided) and FDR.")
    power: float = Field(default=0.8, description="Power the sample sizes are computed for.")
    target_relative_lift: float = Field(
        default=0.10, description="Relative lift (0.10 = +10 %) the power is computed for."
    )
    min_sessions_per_arm: int = Field(
        default=30, description="Fewer sessions in an arm = 'not enough data', no estimate."
    )
    strata: list[str] = Field(
        default=["device_type", "campaign"],
        description="session_features columns the adjusted estimates control for.",
    )

    def to_settings(self) -> LiftSettings:
        """The library settings (ValueError on a bad value)."""
        return LiftSettings(
            treatment_start=date.fromisoformat(self.treatment_start)
            if self.treatment_start
            else None,
            control_variant=self.control_variant,
            alpha=self.alpha,
            power=self.power,
            target_relative_lift=self.target_relative_lift,
            min_sessions_per_arm=self.min_sessions_per_arm,
            strata=tuple(self.strata),
        )


@dg.asset(
    group_name="segments",
    deps=["session_segments", "session_features"],
    kinds={"statsmodels", "duckdb"},
    owners=["team:data-engineering"],
    pool="duckdb",
)
def segment_experiment_lift(
    context: dg.AssetExecutionContext,
    config: SegmentExperimentLiftConfig,
    duckdb: WarehouseResource,
) -> dg.MaterializeResult:
    """A/B lift per segment: does treating a segment differently move CTA click-through
    (share of sessions with a CTA click) or conversion?

    For sessions carrying `experiment` and `variant`, per segment and for all sessions: the rate
    per arm (Wilson 95 % CI), absolute lift (Newcombe CI) and relative lift, the raw z-test
    p-value; beside it the estimate stratified by device type and campaign (Mantel–Haenszel risk
    difference, CMH test, and a logistic regression odds ratio) so a campaign's mix shift is not
    read as a segment effect; Benjamini–Hochberg q-values across segments. With a
    `treatment_start`, a placebo (lift before the start) and a difference in differences answer
    "did it rise only after the start?". Power and sessions needed per segment; "not enough
    data" instead of a number when an arm is too small. Table `segment_experiment_lift`
    (columns: `signal_pipeline/experiments/lift.py`); a forest plot in metadata.
    """
    try:
        settings = config.to_settings()
    except ValueError as error:
        raise dg.Failure(description=f"invalid segment_experiment_lift config: {error}") from error
    stored = duckdb.stored_metadata(LIFT_TABLE)
    with duckdb.session_tables(INPUT_TABLES, [LIFT_TABLE]) as con:
        try:
            sessions = read_experiment_sessions(con, settings.strata)
        except MissingInputError as error:
            raise dg.Failure(description=str(error)) from error
        try:
            table = experiment_lift_table(sessions, settings)
        except ValueError as error:
            raise dg.Failure(description=str(error)) from error
        write_lift_table(con, table)
        metadata = table_metadata(con, LIFT_TABLE)
    metadata.update(stored)
    context.log.info("lift of %d enrolled sessions in %d rows", len(sessions), len(table))
    metadata["enrolled_sessions"] = dg.MetadataValue.int(len(sessions))
    metadata["experiments"] = dg.MetadataValue.json(sorted(set(table["experiment"].dropna())))
    significant = table[[is_true(v) for v in table["significant"]] if len(table) else []]
    metadata["significant_segments"] = dg.MetadataValue.json(
        [
            f"{r.segment_name}: {r.metric} ({r.treatment_variant})"
            for r in significant.itertuples()
            if not r.is_overall
        ]
    )
    if len(table):
        metadata["lift_table"] = dg.MetadataValue.md(
            markdown_table(SUMMARY_HEADER, lift_summary_rows(table))
        )
        plot = forest_plot_markdown(table)
        if plot:
            metadata["forest_plot"] = dg.MetadataValue.md(plot)
    else:
        metadata["lift_table"] = dg.MetadataValue.md(
            "No session carries an experiment and variant."
        )
    return dg.MaterializeResult(metadata=metadata)
