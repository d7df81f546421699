-- One row per session, bots included: what happened in it and every behavioural feature
-- (the inputs of bot detection and, for human sessions, of segmentation).
-- Session time (session_duration_s = total_session_time_s) is last event - first event, stray
-- events included. Counts (clicks = click + cta_click, cta_clicks, hovers, hover_ms_total,
-- comparison_views = comparison_view events, video_plays, form_interactions, purchases) cover every
-- event of the session; page-level measures (dwell, scroll, engaged time) come from page_views.
-- max_clicks_per_second: most clicks within any span shorter than one second (0 without clicks).
-- min_click_gap_s: smallest gap between consecutive clicks (NULL with fewer than two).
-- distinct_interactions: distinct (event_type, element, page_view_key) over content interactions
-- (click, cta_click, hover, scroll, comparison_view, video_play, form_interaction, add_to_cart,
-- purchase; not page_view, page_ping or other). Rates and means are 0, never NaN, when their
-- denominator is 0. user_agent, device_type, campaign, experiment, variant, anonymous_id, user_id:
-- the session's first non-null value. Exact feature definitions: docs/features.md.
-- group: sessions
WITH click_events AS (
    SELECT
        session_id,
        date_diff('microsecond', lag(ts) OVER click_order, ts) / 1000000.0 AS click_gap_s,
        count(*) OVER clicks_in_last_second AS clicks_within_1s
    FROM (
        SELECT
            session_id,
            ts,
            date_diff('microsecond', TIMESTAMP '1970-01-01 00:00:00', ts) AS ts_us
        FROM sessionized_events
        WHERE event_type IN ('click', 'cta_click')
    ) AS clicks
    WINDOW
        click_order AS (PARTITION BY session_id ORDER BY ts_us),
        clicks_in_last_second AS (
            PARTITION BY session_id
            ORDER BY ts_us
            RANGE BETWEEN 999999 PRECEDING AND CURRENT ROW
        )
),

click_stats AS (
    SELECT
        session_id,
        max(clicks_within_1s) AS max_clicks_per_second,
        min(click_gap_s) AS min_click_gap_s
    FROM click_events
    GROUP BY session_id
),

interaction_stats AS (
    SELECT session_id, count(*) AS distinct_interactions
    FROM (
        SELECT DISTINCT session_id, event_type, element, page_view_key
        FROM sessionized_events
        WHERE event_type IN (
            'click', 'cta_click', 'hover', 'scroll', 'comparison_view', 'video_play',
            'form_interaction', 'add_to_cart', 'purchase'
        )
    ) AS distinct_interactions
    GROUP BY session_id
),

event_stats AS (
    SELECT
        session_id,
        arg_min(person_id, event_seq) AS person_id,
        arg_min(anonymous_id, event_seq) FILTER (WHERE anonymous_id IS NOT NULL) AS anonymous_id,
        arg_min(user_id, event_seq) FILTER (WHERE user_id IS NOT NULL) AS user_id,
        min(ts) AS session_start,
        max(ts) AS session_end,
        count(*) AS event_count,
        count(*) FILTER (WHERE event_type IN ('click', 'cta_click')) AS clicks,
        count(*) FILTER (WHERE event_type = 'cta_click') AS cta_clicks,
        count(*) FILTER (WHERE event_type = 'hover') AS hovers,
        coalesce(sum(hover_ms) FILTER (WHERE event_type = 'hover'), 0) AS hover_ms_total,
        coalesce(
            sum(hover_ms) FILTER (
                WHERE event_type = 'hover'
                AND (
                    page_type = 'pricing'
                    OR regexp_matches(lower(element), '(^|[^a-z])(pric|cta)')
                )
            ),
            0
        ) AS pricing_hover_ms,
        count(*) FILTER (WHERE event_type = 'comparison_view') AS comparison_views,
        count(*) FILTER (WHERE event_type = 'video_play') AS video_plays,
        count(*) FILTER (WHERE event_type = 'form_interaction') AS form_interactions,
        count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
        count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
        coalesce(sum(revenue) FILTER (WHERE event_type = 'purchase'), 0) AS revenue,
        count(*) FILTER (WHERE is_stray_event) AS stray_events,
        max(session_split_index) AS session_split_index,
        bool_and(session_id_is_derived) AS session_id_is_derived,
        arg_min(user_agent, event_seq) FILTER (WHERE user_agent IS NOT NULL) AS user_agent,
        arg_min(device_type, event_seq) FILTER (WHERE device_type IS NOT NULL) AS device_type,
        arg_min(campaign, event_seq) FILTER (WHERE campaign IS NOT NULL) AS campaign,
        arg_min(experiment, event_seq) FILTER (WHERE experiment IS NOT NULL) AS experiment,
        arg_min(variant, event_seq) FILTER (WHERE variant IS NOT NULL) AS variant
    FROM sessionized_events
    GROUP BY session_id
),

page_stats AS (
    SELECT
        session_id,
        count(*) AS page_views,
        sum(dwell_s) AS dwell_total_s,
        coalesce(sum(dwell_s) FILTER (WHERE page_type = 'specs'), 0) AS dwell_specs_s,
        coalesce(sum(dwell_s) FILTER (WHERE page_type = 'pricing'), 0) AS dwell_pricing_s,
        coalesce(sum(dwell_s) FILTER (WHERE page_type = 'comparison'), 0) AS dwell_comparison_s,
        avg(dwell_s) FILTER (
            WHERE page_type IN ('specs', 'pricing', 'comparison')
        ) AS evaluation_dwell_s,
        sum(engaged_s) AS engaged_s,
        max(max_scroll_depth_pct) AS max_scroll_depth_pct,
        avg(coalesce(max_scroll_depth_pct, 0)) AS mean_scroll_depth_pct,
        avg(scroll_velocity_pct_per_s) AS mean_scroll_velocity_pct_per_s
    FROM page_views
    GROUP BY session_id
),

combined AS (
    SELECT
        e.*,
        date_diff('microsecond', e.session_start, e.session_end) / 1000000.0 AS session_time_s,
        coalesce(pv.page_views, 0) AS page_views,
        coalesce(pv.dwell_total_s, 0) AS dwell_total_s,
        coalesce(pv.dwell_specs_s, 0) AS dwell_specs_s,
        coalesce(pv.dwell_pricing_s, 0) AS dwell_pricing_s,
        coalesce(pv.dwell_comparison_s, 0) AS dwell_comparison_s,
        coalesce(pv.evaluation_dwell_s, 0) AS evaluation_dwell_s,
        coalesce(pv.engaged_s, 0) AS engaged_s,
        coalesce(pv.max_scroll_depth_pct, 0) AS max_scroll_depth_pct,
        coalesce(pv.mean_scroll_depth_pct, 0) AS mean_scroll_depth_pct,
        coalesce(pv.mean_scroll_velocity_pct_per_s, 0) AS mean_scroll_velocity_pct_per_s,
        coalesce(c.max_clicks_per_second, 0) AS max_clicks_per_second,
        c.min_click_gap_s,
        coalesce(i.distinct_interactions, 0) AS distinct_interactions
    FROM event_stats AS e
    LEFT JOIN page_stats AS pv ON e.session_id = pv.session_id
    LEFT JOIN click_stats AS c ON e.session_id = c.session_id
    LEFT JOIN interaction_stats AS i ON e.session_id = i.session_id
)

SELECT
    session_id,
    person_id,
    anonymous_id,
    user_id,
    session_start,
    session_end,
    CAST(session_start AS DATE) AS session_date,
    session_time_s AS session_duration_s,
    event_count,
    page_views,
    clicks,
    max_clicks_per_second,
    min_click_gap_s,
    distinct_interactions,
    user_agent,
    device_type,
    campaign,
    experiment,
    variant,
    session_time_s AS total_session_time_s,
    dwell_specs_s,
    dwell_pricing_s,
    dwell_comparison_s,
    CASE WHEN page_views > 0 THEN dwell_total_s / page_views ELSE 0.0 END AS mean_dwell_per_page_s,
    evaluation_dwell_s,
    max_scroll_depth_pct,
    mean_scroll_depth_pct,
    mean_scroll_velocity_pct_per_s,
    CASE
        WHEN session_time_s > 0 THEN clicks / (session_time_s / 60.0) ELSE 0.0
    END AS click_frequency_per_min,
    hover_ms_total,
    CASE
        WHEN dwell_total_s > 0 THEN hover_ms_total / (dwell_total_s / 60.0) ELSE 0.0
    END AS hover_density_ms_per_min,
    CASE
        WHEN dwell_total_s > 0 THEN pricing_hover_ms / (dwell_total_s / 60.0) ELSE 0.0
    END AS pricing_hover_density_ms_per_min,
    comparison_views,
    cta_clicks,
    CASE WHEN page_views > 0 THEN CAST(cta_clicks AS DOUBLE) / page_views ELSE 0.0 END AS cta_ctr,
    video_plays,
    form_interactions,
    page_views = 1 AND distinct_interactions = 0 AS is_bounce,
    purchases > 0 AS converted,
    revenue,
    dwell_total_s,
    engaged_s,
    hovers,
    pricing_hover_ms,
    add_to_carts,
    purchases,
    stray_events,
    session_split_index,
    session_id_is_derived
FROM combined
