"""`simulate`: write a deterministic clickstream with ground-truth labels to a folder.

Output (all byte-identical for the same arguments):
- `events.jsonl`: canonical events, ordered by session start, then by time within a session;
  bad lines and duplicate lines sit at seeded positions between sessions.
- `labels.csv`: one row per session with its persona, bot kind and conversion.
- `summary.json`: the counts of `SimulationSummary`.
- `experiment.json`: only with an `ExperimentDesign`, the planted A/B test's ground truth.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import orjson

from signal_pipeline.simulate.bad_lines import BAD_LINE_KINDS, bad_line_kinds, make_bad_line
from signal_pipeline.simulate.catalog import build_site_map
from signal_pipeline.simulate.experiment import EXPERIMENT_FILE, ExperimentDesign, plant_experiment
from signal_pipeline.simulate.personas import BOT_KINDS, BOT_PERSONA, persona_ids
from signal_pipeline.simulate.population import SessionPlan, plan_sessions
from signal_pipeline.simulate.sessions import build_events
from signal_pipeline.simulate.writer import EventLineEncoder, line_bytes

SESSIONS_PER_BATCH = 5_000
DUPLICATE_MAX_DISTANCE = 200
"""A duplicate line lands at most this many sessions after the session it copies."""

EVENTS_FILE = "events.jsonl"
LABELS_FILE = "labels.csv"
SUMMARY_FILE = "summary.json"
LABEL_COLUMNS: tuple[str, ...] = (
    "session_id",
    "anonymous_id",
    "user_id",
    "persona",
    "is_bot",
    "bot_kind",
    "day",
    "converted",
    "session_start",
    "session_end",
    "events",
)


@dataclass
class GroupCounts:
    """Sessions, events and purchases of one persona or bot kind."""

    sessions: int = 0
    events: int = 0
    converted: int = 0


@dataclass
class SimulationSummary:
    """What `simulate` wrote; the same figures as `summary.json`."""

    sessions: int
    events: int
    lines: int
    """Lines in events.jsonl: events + bad lines + duplicates."""
    bad_lines: int
    bad_lines_by_kind: dict[str, int]
    duplicates: int
    personas: dict[str, GroupCounts]
    bot_kinds: dict[str, GroupCounts]
    seed: int
    days: int
    start: str
    drift_day: int | None
    drift_factor: float
    file_order: str = "session"
    """events.jsonl is grouped by session (sessions by start), sorted by ts within a session."""
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form."""
        return asdict(self)


@dataclass
class _Insertions:
    """Extra lines waiting to be written after a given session (by global session index)."""

    after: dict[int, list[bytes]] = field(default_factory=lambda: defaultdict(list))

    def add(self, session: int, line: bytes) -> None:
        self.after[session].append(line if line.endswith(b"\n") else line + b"\n")


def _iso_ms(ms: np.ndarray) -> list[str]:
    return [f"{t}Z" for t in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")]


def simulate(
    out_dir: Path,
    *,
    sessions: int,
    days: int,
    seed: int = 0,
    start: dt.date = dt.date(2026, 1, 1),
    drift_day: int | None = None,
    drift_factor: float = 1.8,
    bad_lines: int = 0,
    duplicates: int = 0,
    bot_share: float = 0.10,
    with_session_ids: bool = True,
    progress: Callable[[int], None] | None = None,
    experiment: ExperimentDesign | None = None,
) -> SimulationSummary:
    """Write a simulated clickstream, its labels and a summary to `out_dir`.

    `progress` is called after each batch with the number of sessions written so far.
    Human page dwell is multiplied by `drift_factor` for sessions starting on day index
    ≥ `drift_day`. Bad lines and duplicates are extra lines at seeded positions.
    With `experiment`, an A/B test with a known lift and a confounding campaign is planted
    (see `simulate/experiment.py`) and its ground truth written to `experiment.json`; without
    it the output is exactly what it was before experiments existed.
    """
    if sessions < 1 or days < 1:
        raise ValueError("sessions and days must be at least 1")
    if not 0.0 <= bot_share < 1.0:
        raise ValueError("bot_share must be in [0, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    plan_seed, layout_seed, batch_root = root.spawn(3)
    plan = plan_sessions(
        np.random.default_rng(plan_seed),
        sessions=sessions,
        days=days,
        start=start,
        bot_share=bot_share,
        drift_day=drift_day,
        drift_factor=drift_factor,
    )
    experiment_truth: dict[str, object] | None = None
    if experiment is not None:
        (experiment_seed,) = root.spawn(1)  # a fourth child: the other streams are unchanged
        plan, experiment_truth = plant_experiment(
            np.random.default_rng(experiment_seed), plan, experiment, days=days, start=start
        )
    site = build_site_map()
    encoder = EventLineEncoder(site, with_session_ids=with_session_ids)

    layout = np.random.default_rng(layout_seed)
    bad_kinds = bad_line_kinds(layout, bad_lines)
    bad_after = layout.integers(0, sessions, size=bad_lines)
    bad_pick = layout.random(bad_lines)
    dupe_source = layout.integers(0, sessions, size=duplicates)
    dupe_after = np.minimum(
        dupe_source + layout.integers(0, DUPLICATE_MAX_DISTANCE, size=duplicates), sessions - 1
    )
    dupe_pick = layout.random(duplicates)
    bad_rng = np.random.default_rng(layout.integers(0, 2**63))

    pending = _Insertions()
    personas = {p: GroupCounts() for p in persona_ids()}
    bots = {k: GroupCounts() for k in BOT_KINDS}
    session_events = np.zeros(sessions, np.int64)
    session_end = np.zeros(sessions, np.int64)
    total_events = 0
    batch_count = -(-sessions // SESSIONS_PER_BATCH)
    batch_seeds = batch_root.spawn(batch_count)
    with open(out_dir / EVENTS_FILE, "wb") as sink:
        for batch in range(batch_count):
            first = batch * SESSIONS_PER_BATCH
            stop = min(first + SESSIONS_PER_BATCH, sessions)
            batch_plan = plan.take(slice(first, stop))
            rng = np.random.default_rng(batch_seeds[batch])
            events = build_events(rng, batch_plan, site)
            lines = encoder.encode(rng, events, batch_plan, int(events.page.max()) + 1)
            counts = np.bincount(events.session, minlength=len(batch_plan))
            line_start = np.concatenate([[0], np.cumsum(counts)])
            session_events[first:stop] = counts
            session_end[first:stop] = np.maximum.reduceat(events.ts_ms, line_start[:-1])
            total_events += len(events)

            for i in np.flatnonzero((dupe_source >= first) & (dupe_source < stop)):
                line = _line_of(lines, line_start, int(dupe_source[i]) - first, dupe_pick[i])
                pending.add(int(dupe_after[i]), line)
            for i in np.flatnonzero((bad_after >= first) & (bad_after < stop)):
                line = _line_of(lines, line_start, int(bad_after[i]) - first, bad_pick[i])
                template = line.rstrip(b"\n")
                pending.add(int(bad_after[i]), make_bad_line(bad_kinds[i], template, bad_rng))

            written = 0
            for session in sorted(s for s in pending.after if first <= s < stop):
                end = int(line_start[session - first + 1])
                sink.write(line_bytes(lines, written, end))
                sink.writelines(pending.after.pop(session))
                written = end
            sink.write(line_bytes(lines, written, len(lines)))
            _count_groups(batch_plan, counts, personas, bots)
            if progress is not None:
                progress(stop)

    bad_by_kind = {kind: bad_kinds.count(kind) for kind in BAD_LINE_KINDS}
    summary = SimulationSummary(
        sessions=sessions,
        events=total_events,
        lines=total_events + bad_lines + duplicates,
        bad_lines=bad_lines,
        bad_lines_by_kind=bad_by_kind,
        duplicates=duplicates,
        personas=personas,
        bot_kinds=bots,
        seed=seed,
        days=days,
        start=start.isoformat(),
        drift_day=drift_day,
        drift_factor=drift_factor,
        files={"events": EVENTS_FILE, "labels": LABELS_FILE, "summary": SUMMARY_FILE},
    )
    _write_labels(out_dir / LABELS_FILE, plan, start, session_events, session_end)
    (out_dir / EXPERIMENT_FILE).unlink(missing_ok=True)  # never a stale truth from a past run
    if experiment_truth is not None:
        summary.files["experiment"] = EXPERIMENT_FILE
        (out_dir / EXPERIMENT_FILE).write_bytes(
            orjson.dumps(experiment_truth, option=orjson.OPT_INDENT_2) + b"\n"
        )
    (out_dir / SUMMARY_FILE).write_bytes(
        orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return summary


def _line_of(lines, line_start: np.ndarray, local_session: int, pick: float) -> bytes:
    """The line of the event at relative position `pick` (0-1) within a batch session."""
    first, stop = int(line_start[local_session]), int(line_start[local_session + 1])
    index = first + min(int(pick * (stop - first)), stop - first - 1)
    return bytes(line_bytes(lines, index, index + 1))


def _count_groups(
    plan: SessionPlan,
    event_counts: np.ndarray,
    personas: dict[str, GroupCounts],
    bots: dict[str, GroupCounts],
) -> None:
    names = persona_ids()
    for code, name in enumerate(names):
        members = ~plan.is_bot & (plan.behaviour == code)
        _add(personas[name], members, event_counts, plan.converted)
    for code, name in enumerate(BOT_KINDS):
        _add(bots[name], plan.bot_kind == code, event_counts, plan.converted)


def _add(group: GroupCounts, members: np.ndarray, events: np.ndarray, converted: np.ndarray):
    group.sessions += int(members.sum())
    group.events += int(events[members].sum())
    group.converted += int((converted & members).sum())


def _write_labels(
    path: Path,
    plan: SessionPlan,
    start: dt.date,
    session_events: np.ndarray,
    session_end: np.ndarray,
) -> None:
    """One ground-truth row per session, in file order."""
    names = persona_ids()
    dates = [
        (start + dt.timedelta(days=int(d))).isoformat() for d in range(int(plan.day.max()) + 1)
    ]
    starts = _iso_ms(plan.start_ms)
    ends = _iso_ms(session_end)
    with open(path, "w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        for i in range(len(plan)):
            bot = bool(plan.is_bot[i])
            writer.writerow(
                (
                    plan.session_id[i],
                    plan.anonymous_id[i],
                    plan.user_id[i] if plan.login_page[i] >= 0 else "",
                    BOT_PERSONA if bot else names[plan.behaviour[i]],
                    "true" if bot else "false",
                    BOT_KINDS[plan.bot_kind[i]] if bot else "",
                    dates[plan.day[i]],
                    "true" if plan.converted[i] else "false",
                    starts[i],
                    ends[i],
                    int(session_events[i]),
                )
            )
