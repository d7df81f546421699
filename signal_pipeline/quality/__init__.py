"""Great Expectations 1.x quality suites (built in code) and their reports."""

from signal_pipeline.quality.gx_suites import SUITE_BUILDERS, ExpectationSpec, PreparedSuite
from signal_pipeline.quality.gx_validate import ExpectationOutcome, QualityReport, validate_frame

__all__ = [
    "SUITE_BUILDERS",
    "ExpectationOutcome",
    "ExpectationSpec",
    "PreparedSuite",
    "QualityReport",
    "validate_frame",
]
