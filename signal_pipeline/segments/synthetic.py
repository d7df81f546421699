"""Synthetic `session_features` frames with planted personas, for tests and benchmarks.

Three personas plus uniform background noise; every contract column of `session_features` is
present and internally consistent (CTA CTR = cta_clicks / page_views, dwell shares ≤ 1, ...):

- `deep_comparer`: many pages, long dwell, deep scroll, several comparison views, high urgency
- `pricing_hoverer`: mid-length visits dominated by pricing pages and hovering, shallow scroll
- `rapid_bouncer`: one page, a few seconds, barely scrolls, low urgency

`shift` multiplies the personas' dwell and scales the other locations slightly, to imitate drift
between two fitting windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PersonaShape:
    """Central values of one persona (per-session values scatter around them)."""

    name: str
    pages: float
    dwell_s: float
    scroll_pct: float
    velocity: float
    hover_density: float
    pricing_share: float
    specs_share: float
    comparison_views: float
    cta_ctr: float
    clicks_per_page: float
    conversion_rate: float
    urgency: float


PERSONAS: tuple[PersonaShape, ...] = (
    PersonaShape("deep_comparer", 8, 90, 82, 1.5, 900, 0.15, 0.35, 3, 0.15, 1.0, 0.12, 0.75),
    PersonaShape("pricing_hoverer", 4, 35, 28, 3.0, 4000, 0.7, 0.05, 0.0, 0.06, 1.5, 0.05, 0.45),
    PersonaShape("rapid_bouncer", 1, 5, 8, 12.0, 40, 0.02, 0.02, 0.0, 0.0, 0.0, 0.005, 0.08),
)
NOISE_PERSONA = "background_noise"


def synthetic_session_features(
    n_sessions: int,
    *,
    seed: int = 0,
    noise_share: float = 0.05,
    weights: tuple[float, ...] = (0.3, 0.3, 0.4),
    shift: float = 1.0,
    start: date = date(2025, 1, 1),
    days: int = 7,
    personas: tuple[PersonaShape, ...] = PERSONAS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (session_features frame, planted personas: session_id, persona)."""
    rng = np.random.default_rng(seed)
    n_noise = round(n_sessions * noise_share)
    n_persona = n_sessions - n_noise
    probabilities = np.asarray(weights, float) / np.sum(weights)
    persona_index = rng.choice(len(personas), size=n_persona, p=probabilities)
    parts = [
        _persona_rows(personas[i], int((persona_index == i).sum()), rng, shift)
        for i in range(len(personas))
    ]
    parts.append(_noise_rows(n_noise, rng))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame = _finish(frame, rng, start, days)
    labels = frame[["session_id", "persona"]].copy()
    return frame.drop(columns="persona"), labels


def _persona_rows(
    shape: PersonaShape, n: int, rng: np.random.Generator, shift: float
) -> pd.DataFrame:
    """Sessions scattered around one persona's centre."""
    pages = np.maximum(1, np.round(shape.pages * rng.lognormal(0, 0.25, n)))
    if shape.pages <= 1:
        pages = np.ones(n)
    dwell = shape.dwell_s * shift * rng.lognormal(0, 0.25, n)
    scroll = np.clip(shape.scroll_pct * rng.lognormal(0, 0.12, n), 0, 100)
    velocity = shape.velocity * rng.lognormal(0, 0.25, n)
    hover_density = shape.hover_density * rng.lognormal(0, 0.3, n)
    pricing_share = np.clip(shape.pricing_share * rng.lognormal(0, 0.15, n), 0, 0.95)
    specs_share = np.clip(shape.specs_share * rng.lognormal(0, 0.15, n), 0, 0.95 - pricing_share)
    comparison = rng.poisson(shape.comparison_views, n).astype(float)
    cta_ctr_target = shape.cta_ctr * rng.lognormal(0, 0.2, n)
    click_rate = np.full(n, shape.clicks_per_page)
    converted = rng.random(n) < shape.conversion_rate
    urgency = np.clip(rng.normal(shape.urgency, 0.08, n), 0, 1)
    return _assemble(
        shape.name,
        pages,
        dwell,
        scroll,
        velocity,
        hover_density,
        pricing_share,
        specs_share,
        comparison,
        cta_ctr_target,
        click_rate,
        converted,
        urgency,
        rng,
    )


def _noise_rows(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Background sessions drawn uniformly over wide ranges."""
    pages = rng.integers(1, 20, n).astype(float)
    pricing_share = rng.uniform(0, 0.5, n)
    return _assemble(
        NOISE_PERSONA,
        pages,
        rng.uniform(1, 400, n),
        rng.uniform(0, 100, n),
        rng.uniform(0.1, 30, n),
        rng.uniform(0, 8000, n),
        pricing_share,
        rng.uniform(0, 0.45, n),
        rng.integers(0, 8, n).astype(float),
        rng.uniform(0, 0.5, n),
        rng.uniform(0, 2, n),
        rng.random(n) < 0.03,
        rng.uniform(0, 1, n),
        rng,
    )


def _assemble(
    persona: str,
    pages: np.ndarray,
    dwell: np.ndarray,
    scroll: np.ndarray,
    velocity: np.ndarray,
    hover_density: np.ndarray,
    pricing_share: np.ndarray,
    specs_share: np.ndarray,
    comparison: np.ndarray,
    cta_ctr_target: np.ndarray,
    click_rate: np.ndarray,
    converted: np.ndarray,
    urgency: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Derive the full feature row set from the persona's drawn quantities."""
    n = len(pages)
    total = pages * dwell
    minutes = np.maximum(total / 60.0, 1e-9)
    comparison = np.minimum(comparison, pages)
    # Time on comparison pages: each view takes a continuous share of the visit.
    comparison_share = comparison / pages * np.clip(rng.lognormal(np.log(0.3), 0.3, n), 0, 1)
    comparison_share = np.minimum(comparison_share, 1 - pricing_share - specs_share)
    cta_clicks = np.round(cta_ctr_target * pages)
    clicks = cta_clicks + rng.poisson(pages * click_rate)
    hover_total = hover_density * minutes
    pricing_hover_density = hover_density * pricing_share
    return pd.DataFrame(
        {
            "persona": persona,
            "total_session_time_s": total,
            "page_views": pages.astype(np.int64),
            "dwell_specs_s": total * specs_share,
            "dwell_pricing_s": total * pricing_share,
            "dwell_comparison_s": total * comparison_share,
            "mean_dwell_per_page_s": dwell,
            "evaluation_dwell_s": dwell * (specs_share + pricing_share + comparison_share > 0),
            "max_scroll_depth_pct": np.clip(scroll * 1.15, 0, 100),
            "mean_scroll_depth_pct": scroll,
            "mean_scroll_velocity_pct_per_s": velocity,
            "clicks": clicks.astype(np.int64),
            "click_frequency_per_min": clicks / minutes,
            "min_click_gap_s": np.where(clicks >= 2, dwell / np.maximum(clicks, 1), np.nan),
            "hover_ms_total": hover_total,
            "hover_density_ms_per_min": hover_density,
            "pricing_hover_density_ms_per_min": pricing_hover_density,
            "comparison_views": comparison.astype(np.int64),
            "cta_clicks": cta_clicks.astype(np.int64),
            "cta_ctr": cta_clicks / pages,
            "distinct_interactions": (clicks + comparison).astype(np.int64),
            "video_plays": rng.poisson(0.1, n).astype(np.int64),
            "form_interactions": rng.poisson(0.1, n).astype(np.int64),
            "is_bounce": pages <= 1,
            "converted": converted,
            "revenue": np.where(converted, rng.uniform(20, 400, n), 0.0),
            "urgency_score": urgency,
            "engagement_depth_index": np.clip(
                scroll / 100 * 0.5 + np.tanh(dwell / 120) * 0.5, 0, 1
            ),
        }
    )


def _finish(frame: pd.DataFrame, rng: np.random.Generator, start: date, days: int) -> pd.DataFrame:
    """Add identity and context columns in the contract's order."""
    n = len(frame)
    day_offset = rng.integers(0, max(days, 1), n)
    starts = [
        datetime.combine(start, datetime.min.time()) + timedelta(days=int(d), seconds=int(s))
        for d, s in zip(day_offset, rng.integers(0, 86_400, n), strict=True)
    ]
    context = pd.DataFrame(
        {
            "session_id": [f"s{i:08d}" for i in range(n)],
            "person_id": [f"p{i:08d}" for i in rng.integers(0, max(n // 2, 1), n)],
            "session_start": pd.to_datetime(starts),
            "session_date": [s.date() for s in starts],
            "device_type": rng.choice(["desktop", "mobile", "tablet"], n, p=[0.55, 0.4, 0.05]),
            "campaign": rng.choice(np.array(["brand", "search", None], dtype=object), n),
            "experiment": None,
            "variant": None,
        }
    )
    return pd.concat([context, frame], axis=1)
