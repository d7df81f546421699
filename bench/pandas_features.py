"""The session features computed with vectorized pandas (sort, groupby, shift; no row-wise apply).

The comparison a user would otherwise write, for ``bench_features.py``: same definitions as the
SQL models (docs/features.md) for the main features, from the ``raw_events`` columns they need.
Sessions: the tracker's ``session_id``, else a new session after ``gap_s`` of inactivity per
identity (the 24 h cap and page-view ownership of strays are left out: they change nothing on
simulated data and would only add work to this side).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EVENT_COLUMNS = (
    "event_id",
    "ts",
    "event_type",
    "anonymous_id",
    "user_id",
    "session_id",
    "page_view_id",
    "page_type",
    "element",
    "scroll_depth_pct",
    "hover_ms",
    "device_type",
    "campaign",
    "experiment",
    "variant",
    "revenue",
)

INTERACTIONS = (
    "click",
    "cta_click",
    "hover",
    "scroll",
    "comparison_view",
    "video_play",
    "form_interaction",
    "add_to_cart",
    "purchase",
)


def sessionize(events: pd.DataFrame, gap_s: float = 1800.0) -> pd.DataFrame:
    """Sort events into sessions and attach ``session_key``, ``event_seq``, ``page_view_key``."""
    events = events.copy()
    events["identity"] = events["anonymous_id"].fillna(events["user_id"])
    events = events.sort_values(["identity", "ts", "event_id"], kind="stable", ignore_index=True)
    gap = events["ts"].diff().dt.total_seconds()
    new_identity = events["identity"].ne(events["identity"].shift())
    starts = new_identity | (gap > gap_s)
    derived = events["identity"] + "|" + events["event_id"].where(starts).ffill()
    events["session_key"] = events["session_id"].fillna(derived)
    events = events.sort_values(["session_key", "ts", "event_id"], kind="stable", ignore_index=True)
    events["event_seq"] = events.groupby("session_key", sort=False).cumcount() + 1
    is_view = events["event_type"].eq("page_view")
    view_key = events["page_view_id"].fillna(events["event_id"]).where(is_view)
    latest = view_key.groupby(events["session_key"], sort=False).ffill()
    events["page_view_key"] = events["page_view_id"].fillna(latest)
    return events


def page_view_features(events: pd.DataFrame, heartbeat_s: float = 10.0) -> pd.DataFrame:
    """One row per page view: dwell, engaged time, scroll depth and velocity, hovers, clicks."""
    on_page = events[events["page_view_key"].notna()]
    views = on_page[on_page["event_type"].eq("page_view")]
    first_view = views.drop_duplicates("page_view_key")[
        ["page_view_key", "session_key", "ts", "page_type", "event_seq"]
    ].rename(columns={"ts": "started_at"})
    grouped = on_page.groupby("page_view_key", sort=False)
    last_event = grouped["ts"].max().rename("last_event_at")
    pings = on_page[on_page["event_type"].eq("page_ping")]
    buckets = (pings["ts"].astype("int64") // int(heartbeat_s * 1e9)).groupby(
        pings["page_view_key"]
    )
    ping_buckets = buckets.nunique().rename("ping_buckets")
    readings = on_page[
        on_page["event_type"].isin(["scroll", "page_ping"]) & on_page["scroll_depth_pct"].notna()
    ].sort_values(["page_view_key", "ts", "scroll_depth_pct"], kind="stable")  # ties by depth
    by_view = readings.groupby("page_view_key", sort=False)
    change = by_view["scroll_depth_pct"].diff().abs()
    span = (by_view["ts"].max() - by_view["ts"].min()).dt.total_seconds()
    velocity = (change.groupby(readings["page_view_key"]).sum() / span).where(span > 0)
    hovers = on_page["event_type"].eq("hover")
    per_view = pd.DataFrame(
        {
            "max_scroll_depth_pct": by_view["scroll_depth_pct"].max(),
            "scroll_velocity_pct_per_s": velocity,
        }
    )
    counts = pd.DataFrame(
        {
            "hovers": hovers.groupby(on_page["page_view_key"]).sum(),
            "cta_clicks": on_page["event_type"]
            .eq("cta_click")
            .groupby(on_page["page_view_key"])
            .sum(),
        }
    )
    pages = (
        first_view.set_index("page_view_key")
        .join(last_event)
        .join(ping_buckets)
        .join(per_view)
        .join(counts)
        .reset_index()
        .sort_values(["session_key", "started_at", "event_seq"], ignore_index=True)
    )
    next_start = pages.groupby("session_key", sort=False)["started_at"].shift(-1)
    pages["dwell_s"] = (
        next_start.fillna(pages["last_event_at"]) - pages["started_at"]
    ).dt.total_seconds()
    n = pages["ping_buckets"].fillna(0)
    pages["engaged_s"] = np.where(n > 0, heartbeat_s * (n - 1) + 5.0, 0.0)
    return pages


def session_features(events: pd.DataFrame) -> pd.DataFrame:
    """One row per session: the behavioural features and the urgency / depth scores."""
    sessions = sessionize(events)
    pages = page_view_features(sessions)
    key = sessions["session_key"]
    kind = sessions["event_type"]
    is_click = kind.isin(["click", "cta_click"])
    clicks = sessions[is_click]
    click_gap = clicks.groupby("session_key", sort=False)["ts"].diff().dt.total_seconds()
    is_hover = kind.eq("hover")
    hover_ms = sessions["hover_ms"].where(is_hover, 0.0).fillna(0.0)
    pricing = is_hover & (
        sessions["page_type"].eq("pricing")
        | sessions["element"].str.lower().str.contains(r"(?:^|[^a-z])(?:pric|cta)", na=False)
    )
    interactions = sessions[kind.isin(INTERACTIONS)]
    distinct = (
        interactions.drop_duplicates(["session_key", "event_type", "element", "page_view_key"])
        .groupby("session_key", sort=False)
        .size()
    )
    grouped = sessions.groupby(key, sort=False)
    out = pd.DataFrame(
        {
            "session_start": grouped["ts"].min(),
            "session_end": grouped["ts"].max(),
            "clicks": is_click.groupby(key, sort=False).sum(),
            "cta_clicks": kind.eq("cta_click").groupby(key, sort=False).sum(),
            "hover_ms_total": hover_ms.groupby(key, sort=False).sum(),
            "pricing_hover_ms": hover_ms.where(pricing, 0.0).groupby(key, sort=False).sum(),
            "comparison_views": kind.eq("comparison_view").groupby(key, sort=False).sum(),
            "video_plays": kind.eq("video_play").groupby(key, sort=False).sum(),
            "form_interactions": kind.eq("form_interaction").groupby(key, sort=False).sum(),
            "converted": kind.eq("purchase").groupby(key, sort=False).any(),
            "revenue": sessions["revenue"]
            .where(kind.eq("purchase"), 0.0)
            .fillna(0.0)
            .groupby(key, sort=False)
            .sum(),
            "device_type": grouped["device_type"].first(),
            "campaign": grouped["campaign"].first(),
            "experiment": grouped["experiment"].first(),
            "variant": grouped["variant"].first(),
        }
    )
    out["min_click_gap_s"] = click_gap.groupby(clicks["session_key"]).min()
    out["distinct_interactions"] = distinct.reindex(out.index, fill_value=0)
    page_group = pages.groupby("session_key", sort=False)
    dwell = pages["dwell_s"]
    evaluation = pages["page_type"].isin(["specs", "pricing", "comparison"])
    page_stats = pd.DataFrame(
        {
            "page_views": page_group.size(),
            "dwell_total_s": page_group["dwell_s"].sum(),
            "dwell_specs_s": dwell.where(pages["page_type"].eq("specs"), 0.0)
            .groupby(pages["session_key"])
            .sum(),
            "dwell_pricing_s": dwell.where(pages["page_type"].eq("pricing"), 0.0)
            .groupby(pages["session_key"])
            .sum(),
            "dwell_comparison_s": dwell.where(pages["page_type"].eq("comparison"), 0.0)
            .groupby(pages["session_key"])
            .sum(),
            "evaluation_dwell_s": dwell.where(evaluation).groupby(pages["session_key"]).mean(),
            "max_scroll_depth_pct": page_group["max_scroll_depth_pct"].max(),
            "mean_scroll_depth_pct": pages["max_scroll_depth_pct"]
            .fillna(0.0)
            .groupby(pages["session_key"])
            .mean(),
            "mean_scroll_velocity_pct_per_s": page_group["scroll_velocity_pct_per_s"].mean(),
        }
    )
    out = out.join(page_stats)
    fill = list(page_stats.columns)
    out[fill] = out[fill].fillna(0.0)
    time_s = (out["session_end"] - out["session_start"]).dt.total_seconds()
    out["total_session_time_s"] = time_s
    per_min = (time_s / 60.0).where(time_s > 0)
    dwell_min = (out["dwell_total_s"] / 60.0).where(out["dwell_total_s"] > 0)
    out["click_frequency_per_min"] = (out["clicks"] / per_min).fillna(0.0)
    out["hover_density_ms_per_min"] = (out["hover_ms_total"] / dwell_min).fillna(0.0)
    out["pricing_hover_density_ms_per_min"] = (out["pricing_hover_ms"] / dwell_min).fillna(0.0)
    views = out["page_views"].where(out["page_views"] > 0)
    out["mean_dwell_per_page_s"] = (out["dwell_total_s"] / views).fillna(0.0)
    out["cta_ctr"] = (out["cta_clicks"] / views).fillna(0.0)
    out["is_bounce"] = out["page_views"].eq(1) & out["distinct_interactions"].eq(0)
    urgency = (
        0.4 * out["evaluation_dwell_s"]
        + 0.3 * out["click_frequency_per_min"]
        + 0.2 * out["comparison_views"]
        - 0.1 * out["mean_scroll_velocity_pct_per_s"]
    ) / 30.0
    out["urgency_score"] = urgency.clip(0.0, 1.0)
    depth = (out["dwell_specs_s"] + out["dwell_comparison_s"]) / time_s.where(time_s > 0)
    out["engagement_depth_index"] = depth.clip(0.0, 1.0).fillna(0.0)
    return out.rename_axis("session_id").reset_index()
