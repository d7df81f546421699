"""Pages and events of a batch of planned sessions, built column-wise with numpy.

Each session is a sequence of page views. A page view lasts its dwell (the time to the next
page view); every event of a page falls strictly inside it, and the last page of a session ends
with a page ping at exactly its dwell, so the dwell of every page is measurable from events.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from signal_pipeline.simulate.catalog import (
    CLICK_ELEMENTS,
    ELEMENT_CODE,
    ELEMENTS,
    HOVER_ELEMENTS,
    NAVIGATION_ELEMENTS,
    PRODUCT_PRICES,
    PRODUCTS,
    SiteMap,
    choice_counts,
    element_table,
    landing_url,
)
from signal_pipeline.simulate.personas import (
    BOT_KINDS,
    BROWSING_PAGE_KINDS,
    MIN_DWELL_S,
    PAGE_KINDS,
    persona_arrays,
)
from signal_pipeline.simulate.population import SessionPlan, exact_quota

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "page_ping",
    "scroll",
    "click",
    "hover",
    "cta_click",
    "comparison_view",
    "video_play",
    "form_interaction",
    "add_to_cart",
    "purchase",
    "other",
)
EVENT_CODE: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}

PING_INTERVAL_MS = 10_000
MAX_CLICKS_PER_PAGE = 3
"""Human clicks per page are capped so stratified click times stay ≥ 0.3 s apart."""

KIND = {name: code for code, name in enumerate(PAGE_KINDS)}
_BOT = {name: code for code, name in enumerate(BOT_KINDS)}

# Typical on-screen position (x, y in 0-1) of each element; humans scatter around it.
_ELEMENT_POSITION = np.stack(
    [
        0.15 + 0.7 * ((np.arange(len(ELEMENTS)) * 0.6180339887) % 1.0),
        0.1 + 0.8 * ((np.arange(len(ELEMENTS)) * 0.4142135624) % 1.0),
    ],
    axis=1,
)


@dataclass(frozen=True)
class EventColumns:
    """Events of a batch, sorted by session then time; codes index the catalog tables."""

    session: np.ndarray
    """Batch-local session index."""
    page: np.ndarray
    """Batch-local page index (identifies the page view)."""
    ts_ms: np.ndarray
    event_type: np.ndarray
    element: np.ndarray
    """Index into `ELEMENTS`, -1 for none."""
    url: np.ndarray
    scroll_depth_pct: np.ndarray
    hover_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    revenue: np.ndarray
    has_user_id: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ms)


@dataclass(frozen=True)
class PageColumns:
    """Page views of a batch, grouped by session in page order."""

    session: np.ndarray
    number: np.ndarray
    """0-based page number within the session."""
    kind: np.ndarray
    url: np.ndarray
    product: np.ndarray
    start_ms: np.ndarray
    dwell_ms: np.ndarray
    is_last: np.ndarray


@dataclass
class _Block:
    """Events of one kind before they are merged."""

    page: np.ndarray
    offset_ms: np.ndarray
    event_type: np.ndarray
    element: np.ndarray
    scroll_depth_pct: np.ndarray
    hover_ms: np.ndarray
    pointer: np.ndarray
    """Whether the event carries x, y."""
    revenue: np.ndarray


def _group_rank(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes: the group of each member and its rank within the group."""
    group = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(len(group)) - starts[group]


def _sorted_uniforms(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Per group, `count` sorted uniforms in (0, 1) (spacings of exponentials), concatenated."""
    sizes = counts + 1
    group, rank = _group_rank(sizes)
    running = np.cumsum(rng.exponential(size=len(group)))
    ends = np.cumsum(sizes) - 1
    before = np.concatenate([[0.0], running[ends[:-1]]])
    within = running - before[group]
    fraction = within / within[ends][group]
    return fraction[rank < counts[group]]


def _pick(
    rng: np.random.Generator, table: np.ndarray, choices: np.ndarray, row: np.ndarray
) -> np.ndarray:
    """Element code drawn uniformly from `table[row, :choices[row]]`."""
    column = (rng.random(len(row)) * choices[row]).astype(np.int64)
    return table[row, column]


def _block(
    page: np.ndarray, offset_ms: np.ndarray, event_type: str, **columns: np.ndarray
) -> _Block:
    """A block of `event_type` events; columns not given are absent (NaN / -1 / False)."""
    count = len(page)
    nan = np.full(count, np.nan)
    return _Block(
        page=page,
        offset_ms=offset_ms.astype(np.int64),
        event_type=np.full(count, EVENT_CODE[event_type], np.int8),
        element=columns.get("element", np.full(count, -1, np.int16)),
        scroll_depth_pct=columns.get("scroll_depth_pct", nan),
        hover_ms=columns.get("hover_ms", nan),
        pointer=columns.get("pointer", np.zeros(count, bool)),
        revenue=columns.get("revenue", nan),
    )


def build_pages(rng: np.random.Generator, plan: SessionPlan, site: SiteMap) -> PageColumns:
    """Draw the page path and dwell of every session in the batch."""
    table = persona_arrays()
    session, number = _group_rank(plan.page_count)
    behaviour = plan.behaviour[session]
    count = len(session)
    is_last = number == plan.page_count[session] - 1
    converted = plan.converted[session]
    forced = converted & (number >= plan.page_count[session] - 2)

    mix = np.asarray(table["page_mix"], float)
    mix_cdf = np.cumsum(mix / mix.sum(1, keepdims=True), axis=1)
    focus = rng.integers(0, len(PRODUCTS), size=len(plan))[session]
    kind = np.zeros(count, np.int8)
    product = np.zeros(count, np.int64)
    other = np.zeros(count, np.int64)

    def draw(where: np.ndarray) -> None:
        n = int(where.sum())
        draws = (rng.random(n)[:, None] > mix_cdf[behaviour[where]]).sum(1)
        kind[where] = np.asarray([KIND[k] for k in BROWSING_PAGE_KINDS])[
            np.minimum(draws, len(BROWSING_PAGE_KINDS) - 1)
        ]
        product[where] = np.where(
            rng.random(n) < 0.6, focus[where], rng.integers(0, len(PRODUCTS), size=n)
        )
        other[where] = (product[where] + rng.integers(1, len(PRODUCTS), size=n)) % len(PRODUCTS)

    def base_url() -> np.ndarray:
        url = np.full(count, site.home_url, np.int64)
        url[kind == KIND["pricing"]] = site.pricing_url
        url[kind == KIND["checkout"]] = site.checkout_url
        url[kind == KIND["product"]] = site.product_url[product[kind == KIND["product"]]]
        url[kind == KIND["specs"]] = site.specs_url[product[kind == KIND["specs"]]]
        compare = kind == KIND["comparison"]
        url[compare] = site.comparison_url[product[compare], other[compare]]
        return url

    draw(~forced)
    cart_page = converted & (number == plan.page_count[session] - 2)
    kind[cart_page] = KIND["product"]
    product[cart_page] = focus[cart_page]
    kind[converted & is_last] = KIND["checkout"]

    # Never the same URL twice in a row: redraw the later page (or the earlier if forced).
    url = base_url()
    for _ in range(100):
        repeat = np.zeros(count, bool)
        repeat[1:] = (url[1:] == url[:-1]) & (session[1:] == session[:-1])
        if not repeat.any():
            break
        earlier = np.zeros(count, bool)
        earlier[:-1] = repeat[1:] & forced[1:]
        draw((repeat & ~forced) | earlier)
        url = base_url()
    first = number == 0
    url[first] = landing_url(site, url[first], plan.campaign[session[first]].astype(np.int64))

    excess_mean = table["dwell_mean_s"][behaviour] - MIN_DWELL_S
    sigma = table["dwell_sigma"][behaviour]
    mu = np.log(excess_mean) - sigma**2 / 2
    dwell_s = (MIN_DWELL_S + np.exp(mu + sigma * rng.standard_normal(count))) * (
        plan.dwell_factor[session]
    )
    short = plan.bot_kind[session] == _BOT["short_session"]
    dwell_s[short] = rng.uniform(1.0, 4.5, size=int(short.sum()))
    dwell_ms = np.round(dwell_s * 1000).astype(np.int64)

    offset_in_session = np.cumsum(dwell_ms) - dwell_ms
    session_first = np.cumsum(plan.page_count) - plan.page_count
    offset_in_session -= offset_in_session[session_first][session]
    return PageColumns(
        session=session,
        number=number,
        kind=kind,
        url=url,
        product=product,
        start_ms=plan.start_ms[session] + offset_in_session,
        dwell_ms=dwell_ms,
        is_last=is_last,
    )


def _scroll_block(
    rng: np.random.Generator,
    pages: PageColumns,
    depth_mean: np.ndarray,
    concentration: np.ndarray,
) -> _Block:
    """Scroll events with increasing depth ending at each page's maximum depth."""
    a = depth_mean * concentration
    b = (1 - depth_mean) * concentration
    depth = np.round(rng.beta(a, b) * 100)
    scrolls = np.where(depth > 0, 1 + rng.poisson(depth / 30), 0)
    scrolls = np.minimum(scrolls, 6)
    page, rank = _group_rank(scrolls)
    level = _sorted_uniforms(rng, scrolls)
    level[rank == scrolls[page] - 1] = 1.0
    when = _sorted_uniforms(rng, scrolls)
    dwell = pages.dwell_ms[page]
    offset = np.clip(np.round(when * dwell), 1, dwell - 1)
    reached = np.maximum(np.round(level * depth[page]), 1.0)
    block = _block(page, offset, "scroll", scroll_depth_pct=reached)
    return block


def _hover_block(
    rng: np.random.Generator,
    pages: PageColumns,
    per_page: np.ndarray,
    pricing_per_page: np.ndarray,
    hover_ms_mean: np.ndarray,
) -> _Block:
    """At least one hover per page, plus extra ones, many on the pricing table for some."""
    on_pricing = pages.kind == KIND["pricing"]
    general = 1 + rng.poisson(per_page)
    pricing = np.where(on_pricing, rng.poisson(pricing_per_page), 0)
    page_a, _ = _group_rank(general)
    page_b, _ = _group_rank(pricing)
    page = np.concatenate([page_a, page_b])
    element = np.concatenate(
        [
            _pick(
                rng,
                element_table(HOVER_ELEMENTS),
                choice_counts(HOVER_ELEMENTS),
                pages.kind[page_a],
            ),
            np.full(len(page_b), ELEMENT_CODE["pricing_table"], np.int16),
        ]
    )
    dwell = pages.dwell_ms[page]
    offset = np.clip(np.round(rng.uniform(0.05, 0.98, size=len(page)) * dwell), 1, dwell - 1)
    mean = hover_ms_mean[page]
    duration = rng.lognormal(np.log(mean) - 0.5**2 / 2, 0.5)
    duration = np.minimum(np.round(duration), offset)
    return _block(
        page, offset, "hover", element=element, hover_ms=duration, pointer=np.ones(len(page), bool)
    )


def _click_block(
    rng: np.random.Generator,
    pages: PageColumns,
    clicks_per_page: np.ndarray,
    cta_ctr: np.ndarray,
    human_behaviour: np.ndarray,
    session_cta_rate: np.ndarray,
) -> _Block:
    """Content clicks, CTA clicks and the navigation click that leads to the next page.

    A session with a planted `session_cta_rate` (an experiment) clicks a CTA once, on one page
    drawn uniformly, with that chance; other human pages click one with their persona's CTR.

    Click times are stratified: with k clicks on a page the j-th falls in the j-th k-th of the
    dwell, away from its edges, so human clicks are never near-simultaneous.
    """
    navigation = (~pages.is_last).astype(np.int64)
    cta = np.zeros(len(pages.kind), bool)
    planted = ~np.isnan(session_cta_rate[pages.session])
    for code, rate in enumerate(cta_ctr):
        members = np.flatnonzero((human_behaviour == code) & ~planted)
        cta[members] = exact_quota(rng, len(members), float(rate))
    if planted.any():
        cta |= _planted_cta_pages(rng, pages, session_cta_rate)
    bot_pages = np.flatnonzero(human_behaviour < 0)
    cta[bot_pages] = rng.random(len(bot_pages)) < 0.03
    extra = rng.poisson(clicks_per_page)
    extra = np.minimum(extra, MAX_CLICKS_PER_PAGE - navigation - cta)
    total = extra + cta + navigation
    page, rank = _group_rank(total)
    slot_start = rng.uniform(0.15, 0.85, size=len(page))
    dwell = pages.dwell_ms[page]
    offset = np.clip(np.round(dwell * (rank + slot_start) / total[page]), 1, dwell - 1)
    is_nav = navigation[page].astype(bool) & (rank == total[page] - 1)
    is_cta = cta[page] & (rank == extra[page])
    element = _pick(
        rng, element_table(CLICK_ELEMENTS), choice_counts(CLICK_ELEMENTS), pages.kind[page]
    )
    nav_codes = np.array([ELEMENT_CODE[e] for e in NAVIGATION_ELEMENTS], np.int16)
    element = np.where(is_nav, nav_codes[rng.integers(0, len(nav_codes), size=len(page))], element)
    element = np.where(is_cta, ELEMENT_CODE["cta"], element).astype(np.int16)
    block = _block(page, offset, "click", element=element, pointer=np.ones(len(page), bool))
    block.event_type[is_cta] = EVENT_CODE["cta_click"]
    return block


def _planted_cta_pages(
    rng: np.random.Generator, pages: PageColumns, session_cta_rate: np.ndarray
) -> np.ndarray:
    """Pages with the one CTA click of sessions whose CTA chance is planted."""
    sessions = len(session_cta_rate)
    rate = np.nan_to_num(session_cta_rate, nan=0.0)
    clicks = rng.random(sessions) < rate
    page_count = np.bincount(pages.session, minlength=sessions)
    chosen = np.floor(rng.random(sessions) * page_count).astype(np.int64)
    return clicks[pages.session] & (pages.number == chosen[pages.session])


def _burst_block(rng: np.random.Generator, plan: SessionPlan, pages: PageColumns) -> _Block:
    """Rapid clickers: on one page per session, a burst of clicks 40-180 ms apart."""
    sessions = np.flatnonzero(plan.bot_kind == _BOT["rapid_clicker"])
    first_page = np.cumsum(plan.page_count) - plan.page_count
    burst_page = first_page[sessions] + rng.integers(0, plan.page_count[sessions])
    size = rng.integers(8, 26, size=len(sessions))
    page_index, rank = _group_rank(size)
    page = burst_page[page_index]
    gaps = rng.integers(40, 181, size=len(page))
    gaps[rank == 0] = 500
    ends = np.cumsum(size) - 1
    running = np.cumsum(gaps)
    before = np.concatenate([[0], running[ends[:-1]]])
    offset = running - before[page_index]
    # Make room for the burst: stretch the page so it ends after the burst.
    needed = offset[ends] + 500
    stretch = np.zeros(len(pages.dwell_ms), np.int64)
    stretch[burst_page] = np.maximum(needed - pages.dwell_ms[burst_page], 0)
    pages.dwell_ms[:] += stretch
    shift = np.cumsum(stretch) - stretch
    session_first = first_page[pages.session]
    pages.start_ms[:] += shift - shift[session_first]
    targets = np.array([ELEMENT_CODE[e] for e in ("cta", "product_card", "nav")], np.int16)
    element = targets[rng.integers(0, len(targets), size=len(sessions))][page_index]
    return _block(page, offset, "click", element=element, pointer=np.ones(len(page), bool))


def _page_events(rng: np.random.Generator, plan: SessionPlan, pages: PageColumns) -> list[_Block]:
    """Page views, pings, comparison views, videos, carts, checkout forms and purchases."""
    table = persona_arrays()
    count = len(pages.kind)
    all_pages = np.arange(count)
    blocks = [_block(all_pages, np.zeros(count, np.int64), "page_view")]

    pings = (pages.dwell_ms - 1) // PING_INTERVAL_MS
    page, rank = _group_rank(pings)
    blocks.append(_block(page, (rank + 1) * PING_INTERVAL_MS, "page_ping"))
    last = np.flatnonzero(pages.is_last)
    blocks.append(_block(last, pages.dwell_ms[last], "page_ping"))

    compare = np.flatnonzero(pages.kind == KIND["comparison"])
    offset = np.minimum(400 + rng.exponential(900, size=len(compare)), pages.dwell_ms[compare] / 3)
    blocks.append(
        _block(
            compare,
            np.maximum(np.round(offset), 1),
            "comparison_view",
            element=np.full(len(compare), ELEMENT_CODE["comparison_table"], np.int16),
        )
    )

    behaviour = plan.behaviour[pages.session]
    product = pages.kind == KIND["product"]
    video = np.flatnonzero(product & (rng.random(count) < table["video_play_rate"][behaviour]))
    blocks.append(
        _block(
            video,
            _inside(rng, pages, video, 0.1, 0.6),
            "video_play",
            element=np.full(len(video), ELEMENT_CODE["product_video"], np.int16),
            pointer=np.ones(len(video), bool),
        )
    )

    converted = plan.converted[pages.session]
    cart_page = converted & (pages.number == plan.page_count[pages.session] - 2)
    abandon = (
        ~converted
        & ~plan.is_bot[pages.session]
        & product
        & (rng.random(count) < table["conversion_rate"][behaviour] / 2)
    )
    cart = np.flatnonzero(cart_page | abandon)
    blocks.append(
        _block(
            cart,
            _inside(rng, pages, cart, 0.6, 0.95),
            "add_to_cart",
            element=np.full(len(cart), ELEMENT_CODE["add_to_cart_button"], np.int16),
            pointer=np.ones(len(cart), bool),
        )
    )

    checkout = np.flatnonzero(pages.kind == KIND["checkout"])
    fields_filled = rng.integers(2, 5, size=len(checkout))
    form_page = np.repeat(checkout, fields_filled)
    blocks.append(
        _block(
            form_page,
            _inside(rng, pages, form_page, 0.1, 0.8),
            "form_interaction",
            element=np.full(len(form_page), ELEMENT_CODE["checkout_form"], np.int16),
            pointer=np.ones(len(form_page), bool),
        )
    )
    quantity = np.where(rng.random(len(checkout)) < 0.85, 1, 2)
    cart_product = pages.product[checkout - 1]
    revenue = np.asarray(PRODUCT_PRICES)[cart_product] * quantity
    blocks.append(
        _block(checkout, _inside(rng, pages, checkout, 0.85, 0.97), "purchase", revenue=revenue)
    )
    return blocks


def _inside(
    rng: np.random.Generator, pages: PageColumns, page: np.ndarray, low: float, high: float
) -> np.ndarray:
    """Offsets strictly inside each page's dwell, at a uniform share in [low, high)."""
    dwell = pages.dwell_ms[page]
    return np.clip(np.round(rng.uniform(low, high, size=len(page)) * dwell), 1, dwell - 1)


def build_events(rng: np.random.Generator, plan: SessionPlan, site: SiteMap) -> EventColumns:
    """All events of the batch's sessions, sorted by session then time."""
    table = persona_arrays()
    pages = build_pages(rng, plan, site)
    behaviour = plan.behaviour[pages.session]
    human_behaviour = np.where(plan.is_bot[pages.session], -1, behaviour)

    burst = _burst_block(rng, plan, pages)
    scroll = _scroll_block(
        rng,
        pages,
        table["scroll_depth_mean_pct"][behaviour] / 100,
        table["scroll_concentration"][behaviour],
    )
    blocks = [
        *_page_events(rng, plan, pages),
        scroll,
        _hover_block(
            rng,
            pages,
            table["hovers_per_page"][behaviour],
            table["pricing_hovers_per_page"][behaviour],
            table["hover_ms_mean"][behaviour],
        ),
        _click_block(
            rng,
            pages,
            table["clicks_per_page"][behaviour],
            table["cta_ctr"],
            human_behaviour,
            plan.cta_session_rate,
        ),
        burst,
    ]
    merged = _Block(
        **{f.name: np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(_Block)}
    )
    page = merged.page
    ts_ms = pages.start_ms[page] + merged.offset_ms
    order = np.lexsort((merged.event_type, ts_ms, pages.session[page]))
    page = page[order]
    ts_ms = ts_ms[order]
    session = pages.session[page]
    event_type = merged.event_type[order]
    scroll_depth = merged.scroll_depth_pct[order]
    scroll_depth = _carry_depth_into_pings(page, event_type, scroll_depth)
    x, y = _pointer(rng, merged.element[order], merged.pointer[order])
    hover_ms = merged.hover_ms[order]
    ts_ms, x, y, hover_ms = _script_timing(plan, session, ts_ms, x, y, hover_ms)
    login_page = plan.login_page[session]
    return EventColumns(
        session=session,
        page=page,
        ts_ms=ts_ms,
        event_type=event_type,
        element=merged.element[order],
        url=pages.url[page],
        scroll_depth_pct=scroll_depth,
        hover_ms=hover_ms,
        x=x,
        y=y,
        revenue=merged.revenue[order],
        has_user_id=(login_page >= 0) & (pages.number[page] >= login_page),
    )


def _carry_depth_into_pings(
    page: np.ndarray, event_type: np.ndarray, scroll_depth: np.ndarray
) -> np.ndarray:
    """Page pings report the deepest scroll reached so far on their page (0 before any)."""
    known = np.where(np.isnan(scroll_depth), 0.0, scroll_depth)
    running = np.maximum.accumulate(page * 1000.0 + known) - page * 1000.0
    ping = event_type == EVENT_CODE["page_ping"]
    return np.where(ping, np.maximum(running, 0.0), scroll_depth)


def _pointer(
    rng: np.random.Generator, element: np.ndarray, pointer: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Human pointer positions scattered around each element's usual place."""
    count = len(element)
    centre = _ELEMENT_POSITION[np.maximum(element, 0)]
    xy = centre + rng.normal(0, 0.06, size=(count, 2))
    xy = np.round(np.clip(xy, 0.001, 0.999), 4)
    x = np.where(pointer, xy[:, 0], np.nan)
    y = np.where(pointer, xy[:, 1], np.nan)
    return x, y


def _script_timing(
    plan: SessionPlan,
    session: np.ndarray,
    ts_ms: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    hover_ms: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scripted browsers: every event a fixed interval after the previous, one pointer spot."""
    scripted = plan.bot_kind[session] == _BOT["scripted_browser"]
    if not scripted.any():
        return ts_ms, x, y, hover_ms
    first = np.cumsum(np.bincount(session, minlength=len(plan))) - np.bincount(
        session, minlength=len(plan)
    )
    rank = np.arange(len(session)) - first[session]
    interval = (1000 + 250 * (plan.person % 9)).astype(np.int64)
    ts_ms = np.where(scripted, plan.start_ms[session] + rank * interval[session], ts_ms)
    x = np.where(scripted & ~np.isnan(x), 0.5, x)
    y = np.where(scripted & ~np.isnan(y), 0.5, y)
    hover_ms = np.where(scripted & ~np.isnan(hover_ms), 500.0, hover_ms)
    return ts_ms, x, y, hover_ms
