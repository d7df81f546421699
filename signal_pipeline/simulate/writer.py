"""Encode event columns as canonical JSON lines with Arrow string kernels (no per-event Python).

Every field is rendered as a fragment such as `,"page_url":"https://..."`; absent optional
fields are null fragments and vanish when the fragments are joined into a line.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from signal_pipeline.simulate import ids
from signal_pipeline.simulate.catalog import CAMPAIGNS, ELEMENTS, EXPERIMENT, VARIANTS, SiteMap
from signal_pipeline.simulate.personas import DEVICE_TYPES
from signal_pipeline.simulate.population import SessionPlan, user_agent_table
from signal_pipeline.simulate.sessions import EVENT_TYPES, EventColumns

FIELD_ORDER: tuple[str, ...] = (
    "event_id",
    "ts",
    "event_type",
    "anonymous_id",
    "user_id",
    "session_id",
    "page_url",
    "page_view_id",
    "element",
    "scroll_depth_pct",
    "hover_ms",
    "x",
    "y",
    "revenue",
    "user_agent",
    "device_type",
    "campaign",
    "experiment",
    "variant",
)
"""Key order of every written event object."""


def _fragments(name: str, values: list[str | None]) -> pa.StringArray:
    """`,"name":<json value>` for each value (null stays null)."""
    key = orjson.dumps(name).decode()
    return pa.array(
        [None if v is None else f",{key}:{orjson.dumps(v).decode()}" for v in values], pa.string()
    )


def _take(fragments: pa.Array, codes: np.ndarray) -> pa.Array:
    """Fragments by code; a negative code is a null fragment."""
    mask = codes < 0
    index = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    return pc.take(fragments, index)


def _numbers(name: str, values: np.ndarray) -> pa.Array:
    """`,"name":<number>` fragments; NaN is a null fragment."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    return pc.binary_join_element_wise(f',"{name}":', text, "")


def _prefixed_uuids(rng: np.random.Generator, count: int, prefix: str, suffix: str) -> pa.Array:
    """`prefix<uuid4>suffix` strings, built as one byte matrix."""
    head = np.frombuffer(prefix.encode(), np.uint8)
    tail = np.frombuffer(suffix.encode(), np.uint8)
    matrix = np.empty((count, len(head) + 36 + len(tail)), np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) : len(head) + 36] = ids.uuid4_matrix(rng, count)
    matrix[:, len(head) + 36 :] = tail
    return ids.fixed_width_arrow_strings(matrix)


class EventLineEncoder:
    """Turns batches of `EventColumns` into newline-terminated canonical JSON lines."""

    def __init__(self, site: SiteMap, *, with_session_ids: bool) -> None:
        """Render the fixed vocabularies (types, URLs, elements, agents, ...) once."""
        agents, _ = user_agent_table()
        self.with_session_ids = with_session_ids
        self.event_type = _fragments("event_type", list(EVENT_TYPES))
        self.page_url = _fragments("page_url", site.urls)
        self.element = _fragments("element", list(ELEMENTS))
        self.user_agent = _fragments("user_agent", agents)
        self.device_type = _fragments("device_type", list(DEVICE_TYPES))
        self.campaign = _fragments("campaign", list(CAMPAIGNS))
        experiment = orjson.dumps(EXPERIMENT).decode()
        self.experiment = pa.array(
            [f',"experiment":{experiment},"variant":{orjson.dumps(v).decode()}' for v in VARIANTS]
        )

    def encode(
        self, rng: np.random.Generator, events: EventColumns, plan: SessionPlan, page_count: int
    ) -> pa.StringArray:
        """JSON lines (each ending in a newline) of a batch whose sessions are `plan`."""
        session = events.session
        anonymous = _fragments("anonymous_id", list(plan.anonymous_id))
        users = _fragments("user_id", list(plan.user_id))
        user_codes = np.where(events.has_user_id, session, -1)
        page_view_ids = _prefixed_uuids(rng, page_count, ',"page_view_id":"', '"')
        timestamps = pc.strftime(
            pa.array(events.ts_ms, pa.timestamp("ms")), format="%Y-%m-%dT%H:%M:%S"
        )
        parts: list[pa.Array | str] = [
            _prefixed_uuids(rng, len(events), '{"event_id":"', '"'),
            pc.binary_join_element_wise(',"ts":"', timestamps, 'Z"', ""),
            _take(self.event_type, events.event_type.astype(np.int64)),
            pc.take(anonymous, session),
            _take(users, user_codes),
        ]
        if self.with_session_ids:
            parts.append(pc.take(_fragments("session_id", list(plan.session_id)), session))
        parts += [
            pc.take(self.page_url, events.url),
            pc.take(page_view_ids, events.page),
            _take(self.element, events.element.astype(np.int64)),
            _numbers("scroll_depth_pct", events.scroll_depth_pct),
            _numbers("hover_ms", events.hover_ms),
            _numbers("x", events.x),
            _numbers("y", events.y),
            _numbers("revenue", events.revenue),
            pc.take(self.user_agent, plan.user_agent[session].astype(np.int64)),
            pc.take(self.device_type, plan.device_type[session].astype(np.int64)),
            _take(self.campaign, np.where(plan.campaign > 0, plan.campaign, -1)[session]),
            _take(self.experiment, plan.variant[session].astype(np.int64)),
        ]
        lines = pc.binary_join_element_wise(
            *parts, "}\n", "", null_handling="replace", null_replacement=""
        )
        return lines


def line_bytes(lines: pa.StringArray, start: int, stop: int) -> memoryview:
    """The bytes of lines [start, stop) of an encoded batch, without copying."""
    if stop <= start:
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], np.int32, count=len(lines) + 1, offset=0)
    base = lines.offset
    data = memoryview(lines.buffers()[2])
    return data[offsets[base + start] : offsets[base + stop]]
