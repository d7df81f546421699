-- The behavioural feature vector of every human (validated) session: the input of segmentation.
-- Durations in seconds, scroll in percent (0-100), densities per minute; every feature is a
-- finite number (no NaN / inf; rates are 0 when their denominator is 0) except min_click_gap_s,
-- NULL with fewer than two clicks. Definitions: docs/features.md.
-- urgency_score = clamp((0.4 * evaluation_dwell_s + 0.3 * click_frequency_per_min
--   + 0.2 * comparison_views - 0.1 * mean_scroll_velocity_pct_per_s) / 30, 0, 1).
-- engagement_depth_index = clamp((dwell_specs_s + dwell_comparison_s) / total_session_time_s,
--   0, 1), 0 when the session has no time.
-- group: features
SELECT
    session_id,
    person_id,
    session_start,
    session_date,
    device_type,
    campaign,
    experiment,
    variant,
    total_session_time_s,
    page_views,
    dwell_specs_s,
    dwell_pricing_s,
    dwell_comparison_s,
    mean_dwell_per_page_s,
    evaluation_dwell_s,
    max_scroll_depth_pct,
    mean_scroll_depth_pct,
    mean_scroll_velocity_pct_per_s,
    clicks,
    click_frequency_per_min,
    min_click_gap_s,
    hover_ms_total,
    hover_density_ms_per_min,
    pricing_hover_density_ms_per_min,
    comparison_views,
    cta_clicks,
    cta_ctr,
    distinct_interactions,
    video_plays,
    form_interactions,
    is_bounce,
    converted,
    revenue,
    greatest(
        0.0,
        least(
            1.0,
            (
                0.4 * evaluation_dwell_s
                + 0.3 * click_frequency_per_min
                + 0.2 * comparison_views
                - 0.1 * mean_scroll_velocity_pct_per_s
            ) / 30.0
        )
    ) AS urgency_score,
    CASE
        WHEN total_session_time_s > 0
            THEN greatest(
                0.0,
                least(1.0, (dwell_specs_s + dwell_comparison_s) / total_session_time_s)
            )
        ELSE 0.0
    END AS engagement_depth_index
FROM validated_sessions
