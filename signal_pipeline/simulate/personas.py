"""Behaviour tables for the simulated visitors: human personas and bot kinds.

Every planted figure lives here, one row per persona, so a new persona is one more row.
The simulator reads these tables only through their columns (see `persona_arrays`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

BASELINE_CONVERSION = 0.03
"""Purchase rate of the baseline persona (conversion multiplier 1.0)."""

PAGE_KINDS: tuple[str, ...] = ("home", "product", "specs", "pricing", "comparison", "checkout")
"""Page kinds the site has; the URL of a page tells its kind (the simulator never emits it)."""

BROWSING_PAGE_KINDS: tuple[str, ...] = PAGE_KINDS[:-1]
"""Page kinds a session wanders through; checkout is reached only by buying."""

DEVICE_TYPES: tuple[str, ...] = ("desktop", "mobile", "tablet")

MIN_DWELL_S = 3.5
"""Shortest human page dwell; with at least 3 pages a human session lasts ≥ 10.5 s."""


@dataclass(frozen=True)
class PersonaProfile:
    """Planted behaviour of one human persona (means are what the pipeline should recover)."""

    persona_id: str
    description: str
    share: float
    """Relative weight of the persona among human sessions."""
    dwell_mean_s: float
    """Mean dwell per page view (time to the next page view)."""
    dwell_sigma: float
    """Log-scale spread of the part of the dwell above `MIN_DWELL_S`."""
    scroll_depth_mean_pct: float
    """Mean of the per-page maximum scroll depth."""
    scroll_concentration: float
    """Beta concentration (a + b) of the per-page depth; higher = less spread."""
    cta_ctr: float
    """CTA clicks per page view (pooled)."""
    conversion_multiplier: float
    """Purchase rate relative to `BASELINE_CONVERSION`."""
    min_pages: int
    max_pages: int
    page_mix: tuple[float, ...]
    """Weights over `BROWSING_PAGE_KINDS` (home, product, specs, pricing, comparison)."""
    hovers_per_page: float
    """Mean extra hovers per page (every page has at least one)."""
    pricing_hovers_per_page: float
    """Mean extra hovers on the pricing table, on pricing pages only."""
    hover_ms_mean: float
    clicks_per_page: float
    """Mean content clicks per page besides navigation and CTA clicks."""
    video_play_rate: float
    """Probability that a product page view plays the product video."""
    mobile_share: float
    campaign_weights: tuple[float, ...]
    """Weights over `CAMPAIGNS` in the catalog, first entry = no campaign."""

    @property
    def conversion_rate(self) -> float:
        """Planted purchase probability of a session of this persona."""
        return BASELINE_CONVERSION * self.conversion_multiplier


HUMAN_PERSONAS: tuple[PersonaProfile, ...] = (
    PersonaProfile(
        persona_id="rapid_specs",
        description="rapid navigation focused on spec sheets",
        share=1.0,
        dwell_mean_s=11.0,
        dwell_sigma=0.55,
        scroll_depth_mean_pct=65.0,
        scroll_concentration=8.0,
        cta_ctr=0.041,
        conversion_multiplier=2.7,
        min_pages=5,
        max_pages=12,
        page_mix=(0.05, 0.20, 0.60, 0.10, 0.05),
        hovers_per_page=1.0,
        pricing_hovers_per_page=0.3,
        hover_ms_mean=600.0,
        clicks_per_page=0.6,
        video_play_rate=0.05,
        mobile_share=0.25,
        campaign_weights=(0.50, 0.25, 0.10, 0.05, 0.05, 0.05, 0.00),
    ),
    PersonaProfile(
        persona_id="deep_comparer",
        description="slow deep scrolling with comparison views",
        share=1.0,
        dwell_mean_s=38.0,
        dwell_sigma=0.45,
        scroll_depth_mean_pct=92.0,
        scroll_concentration=25.0,
        cta_ctr=0.073,
        conversion_multiplier=5.9,
        min_pages=4,
        max_pages=9,
        page_mix=(0.05, 0.20, 0.25, 0.10, 0.40),
        hovers_per_page=2.5,
        pricing_hovers_per_page=0.5,
        hover_ms_mean=1500.0,
        clicks_per_page=1.0,
        video_play_rate=0.30,
        mobile_share=0.20,
        campaign_weights=(0.45, 0.10, 0.10, 0.05, 0.05, 0.25, 0.00),
    ),
    PersonaProfile(
        persona_id="pricing_hoverer",
        description="hovers over pricing without scrolling",
        share=1.0,
        dwell_mean_s=6.0,
        dwell_sigma=0.40,
        scroll_depth_mean_pct=12.0,
        scroll_concentration=6.0,
        cta_ctr=0.011,
        conversion_multiplier=1.0,
        min_pages=3,
        max_pages=7,
        page_mix=(0.10, 0.20, 0.10, 0.60, 0.00),
        hovers_per_page=1.0,
        pricing_hovers_per_page=3.0,
        hover_ms_mean=2200.0,
        clicks_per_page=0.3,
        video_play_rate=0.02,
        mobile_share=0.10,
        campaign_weights=(0.55, 0.10, 0.05, 0.20, 0.10, 0.00, 0.00),
    ),
)


BOT_PERSONA = "bot"

BOT_KINDS: tuple[str, ...] = ("rapid_clicker", "short_session", "crawler_ua", "scripted_browser")
"""Bot kinds, each planted with the one trait its name says (see `sessions.py`)."""


def persona_ids() -> list[str]:
    """Ids of the human personas, in table order (the persona code is the index)."""
    return [p.persona_id for p in HUMAN_PERSONAS]


def persona_arrays() -> dict[str, np.ndarray]:
    """Columns of the persona table as arrays indexed by persona code."""
    columns: dict[str, np.ndarray] = {}
    for field in fields(PersonaProfile):
        values = [getattr(p, field.name) for p in HUMAN_PERSONAS]
        columns[field.name] = np.asarray(values)
    columns["conversion_rate"] = np.asarray([p.conversion_rate for p in HUMAN_PERSONAS])
    return columns
