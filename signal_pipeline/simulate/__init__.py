"""Deterministic clickstream simulator with ground-truth personas, bots, drift and bad lines."""

from signal_pipeline.simulate.experiment import ExperimentDesign
from signal_pipeline.simulate.simulator import SimulationSummary, simulate

__all__ = ["ExperimentDesign", "SimulationSummary", "simulate"]
