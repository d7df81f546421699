"""Reliability: the whole-run lock, fault-injection harnesses and the reliability figures.

The fault, fuzz and hostile-input tests record what they injected and what survived with
:func:`signal_pipeline.reliability.recorder.record`; ``python -m signal_pipeline.reliability.table``
renders those records as the reliability table of docs/reliability.md (and the README).
"""
