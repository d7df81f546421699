"""Malformed input lines, each derived from a real event line and mutated in one way.

Each kind maps to the quarantine reason the ingest stage should give it
(`QUARANTINE_REASON`, see docs/data_contract.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import orjson

from signal_pipeline.simulate import ids

Event = dict[str, object]

QUARANTINE_REASON: dict[str, str] = {
    "invalid_json": "invalid_json",
    "not_an_object": "not_an_object",
    "missing_event_id": "missing_event_id",
    "missing_identity": "missing_identity",
    "unparseable_timestamp": "unparseable_timestamp",
    "timestamp_in_future": "timestamp_in_future",
    "unknown_event_type": "unknown_event_type",
    "negative_hover_ms": "value_out_of_range",
    "scroll_depth_out_of_range": "value_out_of_range",
}
"""Bad-line kind → quarantine reason of the data contract."""

BAD_LINE_KINDS: tuple[str, ...] = tuple(QUARANTINE_REASON)

_GARBLED_TIMESTAMPS = ("2026-13-45T99:61:00Z", "yesterday at noon", "31/02/2026 25:00", "NaN")
_UNKNOWN_TYPES = ("mouse_wiggle", "heatmap_sample", "pageview2", "tab_blur")


def _renamed(event: Event, rng: np.random.Generator) -> Event:
    """A copy with a fresh event id, so the bad line never collides with a real event."""
    copy = dict(event)
    copy["event_id"] = ids.uuid4_strings(rng, 1)[0]
    return copy


def _invalid_json(event: Event, rng: np.random.Generator) -> bytes:
    text = orjson.dumps(_renamed(event, rng))
    cut = int(rng.integers(len(text) // 3, len(text) - 2))
    return text[:cut]


def _not_an_object(event: Event, rng: np.random.Generator) -> bytes:
    return orjson.dumps([_renamed(event, rng)])


def _missing_event_id(event: Event, rng: np.random.Generator) -> bytes:
    copy = dict(event)
    del copy["event_id"]
    return orjson.dumps(copy)


def _missing_identity(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    copy.pop("anonymous_id", None)
    copy.pop("user_id", None)
    return orjson.dumps(copy)


def _unparseable_timestamp(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    copy["ts"] = _GARBLED_TIMESTAMPS[int(rng.integers(len(_GARBLED_TIMESTAMPS)))]
    return orjson.dumps(copy)


def _timestamp_in_future(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    when = dt.datetime.fromisoformat(str(copy["ts"]).replace("Z", "+00:00"))
    later = when.replace(year=when.year + 50, day=min(when.day, 28))
    copy["ts"] = later.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps(copy)


def _unknown_event_type(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    copy["event_type"] = _UNKNOWN_TYPES[int(rng.integers(len(_UNKNOWN_TYPES)))]
    return orjson.dumps(copy)


def _negative_hover_ms(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    copy.update(event_type="hover", element="pricing_table", x=0.61, y=0.42)
    copy["hover_ms"] = -float(rng.integers(1, 5000))
    return orjson.dumps(copy)


def _scroll_depth_out_of_range(event: Event, rng: np.random.Generator) -> bytes:
    copy = _renamed(event, rng)
    copy["event_type"] = "scroll"
    copy["scroll_depth_pct"] = float(rng.choice([-5.0, 101.5, 140.0, 250.0]))
    return orjson.dumps(copy)


MAKERS: dict[str, Callable[[Event, np.random.Generator], bytes]] = {
    "invalid_json": _invalid_json,
    "not_an_object": _not_an_object,
    "missing_event_id": _missing_event_id,
    "missing_identity": _missing_identity,
    "unparseable_timestamp": _unparseable_timestamp,
    "timestamp_in_future": _timestamp_in_future,
    "unknown_event_type": _unknown_event_type,
    "negative_hover_ms": _negative_hover_ms,
    "scroll_depth_out_of_range": _scroll_depth_out_of_range,
}


def bad_line_kinds(rng: np.random.Generator, count: int) -> list[str]:
    """`count` kinds, as even a mix as possible, in shuffled order."""
    kinds = [BAD_LINE_KINDS[i % len(BAD_LINE_KINDS)] for i in range(count)]
    return [kinds[i] for i in rng.permutation(count)]


def make_bad_line(kind: str, template_line: bytes, rng: np.random.Generator) -> bytes:
    """One bad line of `kind` (no trailing newline) derived from a valid event line."""
    event = orjson.loads(template_line)
    return MAKERS[kind](event, rng)
