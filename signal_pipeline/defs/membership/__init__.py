"""Segment membership exports for activation (ad and CRM tools)."""
