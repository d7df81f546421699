"""Who visits and when: one row per session with its visitor, identity, device and start time.

Sessions come out sorted by start time; that order is the order of the output files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np

from signal_pipeline.simulate import ids
from signal_pipeline.simulate.catalog import CAMPAIGNS, EXPERIMENT_SHARE, VARIANTS
from signal_pipeline.simulate.personas import (
    BOT_KINDS,
    DEVICE_TYPES,
    HUMAN_PERSONAS,
    persona_arrays,
)
from signal_pipeline.simulate.user_agents import BROWSER_USER_AGENTS, CRAWLER_USER_AGENTS

MS_PER_DAY = 86_400_000
SAME_DEVICE_MIN_GAP_MS = 2 * 3_600_000
"""Sessions of one device start ≥ 2 h apart, so a 30-minute inactivity split recovers them."""

HOURLY_TRAFFIC = np.array(
    [2, 1.2, 0.8, 0.6, 0.6, 0.9, 1.8, 3.2, 4.5, 5.2, 5.6, 5.8,
     6.0, 5.9, 5.7, 5.6, 5.6, 5.9, 6.4, 7.0, 7.2, 6.5, 4.8, 3.2],
    dtype=float,
)  # fmt: skip
"""Relative sessions per UTC hour of day (quiet night, lunch plateau, evening peak)."""

WEEKDAY_TRAFFIC = np.array([1.0, 1.02, 1.0, 0.98, 0.92, 0.8, 0.85])
"""Relative sessions per weekday, Monday first."""

SECOND_DEVICE_SHARE = 0.25
"""Share of returning persons who also browse on a second device."""
REGISTERED_SHARE = 0.35
"""Share of persons with an account (a `user_id`)."""
LOGIN_SHARE = 0.6
"""Share of a registered person's sessions in which they log in."""
RETURN_PROBABILITY = 0.3
"""Chance that a person comes back for one more session (geometric number of visits)."""


@dataclass(frozen=True)
class SessionPlan:
    """Session-level ground truth, one array element per session (sorted by start)."""

    start_ms: np.ndarray
    """Session start, epoch milliseconds UTC."""
    day: np.ndarray
    """Day index of the start, 0-based from the simulation start."""
    behaviour: np.ndarray
    """Human persona code whose page habits the session follows (bots borrow one)."""
    is_bot: np.ndarray
    bot_kind: np.ndarray
    """Index into `BOT_KINDS`, -1 for humans."""
    person: np.ndarray
    device: np.ndarray
    user_agent: np.ndarray
    """Index into `user_agent_table()`."""
    device_type: np.ndarray
    campaign: np.ndarray
    """Index into `CAMPAIGNS` (0 = none)."""
    variant: np.ndarray
    """Index into `VARIANTS`, -1 when not in the experiment."""
    converted: np.ndarray
    page_count: np.ndarray
    login_page: np.ndarray
    """Page number from which events carry the user_id, -1 when not logged in."""
    dwell_factor: np.ndarray
    """Multiplier on page dwell (drift)."""
    cta_session_rate: np.ndarray
    """Planted chance that the session clicks a CTA once (NaN: the persona's per-page CTR)."""
    session_id: np.ndarray
    anonymous_id: np.ndarray
    user_id: np.ndarray
    """Person's user id (object array, None when not registered)."""

    def __len__(self) -> int:
        return len(self.start_ms)

    def take(self, index: np.ndarray | slice) -> SessionPlan:
        """The plan restricted to the selected sessions."""
        return SessionPlan(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def user_agent_table() -> tuple[list[str], list[str]]:
    """All user agents (browsers, then crawlers) and the device type of each."""
    agents = [ua for _, ua in BROWSER_USER_AGENTS] + list(CRAWLER_USER_AGENTS)
    devices = [device for device, _ in BROWSER_USER_AGENTS] + ["desktop"] * len(CRAWLER_USER_AGENTS)
    return agents, devices


def exact_quota(rng: np.random.Generator, count: int, rate: float) -> np.ndarray:
    """A boolean mask of `count` draws with round(count * rate) hits at random positions.

    Pooled rates then match the plant closely even for rare outcomes (stochastic rounding of
    the fractional hit keeps the expectation exact).
    """
    hits = int(np.floor(count * rate + rng.random()))
    mask = np.zeros(count, bool)
    if hits:
        mask[rng.choice(count, size=min(hits, count), replace=False)] = True
    return mask


def _session_starts(rng: np.random.Generator, count: int, days: int, start: dt.date) -> np.ndarray:
    """Start times with a weekly and diurnal pattern, epoch ms UTC."""
    origin_ms = _epoch_ms(start)
    weekday = (np.arange(days) + start.weekday()) % 7
    day_weights = WEEKDAY_TRAFFIC[weekday]
    day = rng.choice(days, size=count, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=count, p=HOURLY_TRAFFIC / HOURLY_TRAFFIC.sum())
    within_hour = rng.integers(0, 3_600_000, size=count)
    return origin_ms + day * MS_PER_DAY + hour * 3_600_000 + within_hour


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def _space_device_sessions(
    rng: np.random.Generator, start_ms: np.ndarray, device: np.ndarray, horizon_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Push sessions of one device apart; a session pushed past the horizon gets a new device."""
    start_ms = start_ms.copy()
    device = device.copy()
    next_device = int(device.max()) + 1 if len(device) else 0
    for _ in range(64):
        order = np.lexsort((start_ms, device))
        same = device[order][1:] == device[order][:-1]
        gap = np.diff(start_ms[order])
        crowded = order[1:][same & (gap < SAME_DEVICE_MIN_GAP_MS)]
        if not len(crowded):
            break
        earlier = order[:-1][same & (gap < SAME_DEVICE_MIN_GAP_MS)]
        start_ms[crowded] = (
            start_ms[earlier]
            + SAME_DEVICE_MIN_GAP_MS
            + rng.integers(0, 3_600_000, size=len(crowded))
        )
    late = start_ms >= horizon_ms
    if late.any():
        start_ms[late] -= SAME_DEVICE_MIN_GAP_MS * 6
        device[late] = np.arange(next_device, next_device + int(late.sum()))
    return start_ms, device


def plan_sessions(
    rng: np.random.Generator,
    *,
    sessions: int,
    days: int,
    start: dt.date,
    bot_share: float,
    drift_day: int | None,
    drift_factor: float,
) -> SessionPlan:
    """Draw every session's visitor, persona or bot kind, identity, device and start time."""
    table = persona_arrays()
    bot_count = round(sessions * bot_share)
    human_count = sessions - bot_count

    # Humans: persons with a geometric number of visits and one or two devices.
    visits = rng.geometric(1.0 - RETURN_PROBABILITY, size=max(human_count, 1))
    person_count = int(np.searchsorted(np.cumsum(visits), human_count) + 1)
    human_person = np.repeat(np.arange(person_count), visits[:person_count])[:human_count]
    shares = table["share"] / table["share"].sum()
    person_persona = rng.choice(len(HUMAN_PERSONAS), size=person_count, p=shares)
    person_mobile = rng.random(person_count) < table["mobile_share"][person_persona]
    person_two_devices = rng.random(person_count) < SECOND_DEVICE_SHARE
    second_device = rng.random(human_count) < 0.5
    human_device = human_person * 2 + (second_device & person_two_devices[human_person])
    human_mobile = person_mobile[human_person] ^ (human_device % 2 == 1)

    # Bots: every bot session is its own visitor on its own device.
    bot_kind = np.repeat(
        np.arange(len(BOT_KINDS)),
        np.diff(np.linspace(0, bot_count, len(BOT_KINDS) + 1).round()).astype(np.int64),
    ).astype(np.int8)
    bot_person = person_count + np.arange(bot_count)
    bot_device = 2 * bot_person

    is_bot = np.concatenate([np.zeros(human_count, bool), np.ones(bot_count, bool)])
    kind = np.concatenate([np.full(human_count, -1, np.int8), bot_kind])
    person = np.concatenate([human_person, bot_person])
    device = np.concatenate([human_device, bot_device])
    behaviour = np.concatenate(
        [person_persona[human_person], rng.integers(0, len(HUMAN_PERSONAS), size=bot_count)]
    )
    mobile = np.concatenate([human_mobile, rng.random(bot_count) < 0.3])

    _, agent_devices = user_agent_table()
    browser_count = len(BROWSER_USER_AGENTS)
    browser_devices = np.array(agent_devices[:browser_count])
    desktop_agents = np.flatnonzero(browser_devices == "desktop")
    handheld_agents = np.flatnonzero(browser_devices != "desktop")
    device_agent = np.where(
        mobile,
        handheld_agents[rng.integers(0, len(handheld_agents), size=sessions)],
        desktop_agents[rng.integers(0, len(desktop_agents), size=sessions)],
    )
    # A device keeps its browser: take the agent drawn for the device's first session.
    _, first_of_device, device_slot = np.unique(device, return_index=True, return_inverse=True)
    user_agent = device_agent[first_of_device][device_slot]
    crawler = kind == BOT_KINDS.index("crawler_ua")
    user_agent[crawler] = browser_count + rng.integers(
        0, len(CRAWLER_USER_AGENTS), size=int(crawler.sum())
    )
    device_type = np.array([DEVICE_TYPES.index(agent_devices[a]) for a in user_agent], np.int8)

    campaign_weights = np.asarray(table["campaign_weights"], float)
    campaign_cdf = np.cumsum(campaign_weights / campaign_weights.sum(1, keepdims=True), axis=1)
    campaign = (rng.random(sessions)[:, None] > campaign_cdf[behaviour]).sum(1)
    campaign = np.minimum(campaign, len(CAMPAIGNS) - 1).astype(np.int8)
    campaign[crawler] = 0
    variant = np.where(
        rng.random(sessions) < EXPERIMENT_SHARE, rng.integers(0, len(VARIANTS), size=sessions), -1
    ).astype(np.int8)

    converted = np.zeros(sessions, bool)
    for code, rate in enumerate(table["conversion_rate"]):
        members = np.flatnonzero(~is_bot & (behaviour == code))
        converted[members] = exact_quota(rng, len(members), float(rate))

    page_count = rng.integers(
        table["min_pages"][behaviour], table["max_pages"][behaviour] + 1, size=sessions
    )
    page_count[kind == BOT_KINDS.index("short_session")] = rng.integers(1, 3, size=sessions)[
        kind == BOT_KINDS.index("short_session")
    ]

    horizon_ms = _epoch_ms(start) + days * MS_PER_DAY
    start_ms = _session_starts(rng, sessions, days, start)
    start_ms, device = _space_device_sessions(rng, start_ms, device, horizon_ms)
    day = (start_ms - _epoch_ms(start)) // MS_PER_DAY

    registered = rng.random(person_count + bot_count) < REGISTERED_SHARE
    registered[person_count:] = False
    logged_in = registered[person] & (rng.random(sessions) < LOGIN_SHARE)
    login_page = np.where(logged_in, rng.integers(0, 1 << 30, size=sessions) % page_count, -1)
    user_numbers = rng.choice(9_000_000, size=person_count + bot_count, replace=False) + 1_000_000
    user_id = np.array(
        [f"user_{n}" if r else None for n, r in zip(user_numbers, registered, strict=True)],
        dtype=object,
    )[person]

    device_codes, device_index = np.unique(device, return_inverse=True)
    anonymous_id = np.array(ids.uuid4_strings(rng, len(device_codes)), dtype=object)[device_index]
    session_id = np.array(ids.uuid4_strings(rng, sessions), dtype=object)

    dwell_factor = np.ones(sessions)
    if drift_day is not None:
        dwell_factor[~is_bot & (day >= drift_day)] = drift_factor

    plan = SessionPlan(
        start_ms=start_ms.astype(np.int64),
        day=day.astype(np.int32),
        behaviour=behaviour.astype(np.int8),
        is_bot=is_bot,
        bot_kind=kind,
        person=person,
        device=device,
        user_agent=user_agent.astype(np.int16),
        device_type=device_type,
        campaign=campaign,
        variant=variant,
        converted=converted,
        page_count=page_count.astype(np.int32),
        login_page=login_page.astype(np.int32),
        dwell_factor=dwell_factor,
        cta_session_rate=np.full(sessions, np.nan),
        session_id=session_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
    )
    return plan.take(np.argsort(plan.start_ms, kind="stable"))
