"""Shared builders for the ingest tests."""

from __future__ import annotations


def event(**overrides: object) -> dict[str, object]:
    """A valid canonical event, with overrides (value None drops the key)."""
    base: dict[str, object] = {
        "event_id": "e1",
        "ts": "2024-05-01T10:00:00Z",
        "event_type": "page_view",
        "anonymous_id": "a1",
        "page_url": "https://shop.example.com/pricing",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}
