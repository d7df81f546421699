"""A/B lift per segment: proportions, stratified (CMH) and regression estimates, DiD, power."""

from signal_pipeline.experiments.lift import LiftSettings, experiment_lift_table

__all__ = ["LiftSettings", "experiment_lift_table"]
