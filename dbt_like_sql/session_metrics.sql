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
-- purchase; not page_view, page_ping or other): the sum of its page views' distinct_interactions
-- plus the distinct (event_type, element) of its interactions in none of its page views (before
-- the first page view, or strays), read from the events only for sessions that have any.
-- Rates and means are 0, never NaN, when their denominator is 0. Sums and means of fractional
-- values are taken over exact DECIMALs (dwell and engaged time to the microsecond, hover ms and
-- revenue to 6 places, scroll to 9), so they do not depend on the order DuckDB's threads add
-- them up: the same input gives bit-identical output.
-- user_agent, device_type, campaign, experiment, variant, anonymous_id, user_id: the session's
-- first non-null value (by ts, then event_id); person_id: the person of its first event. One
-- pass over event_sessions, grouped by session and context columns (page-level parts come from
-- page_views: a session's stray events are its events naming a page view minus those its page
-- views own).
-- Exact feature definitions: docs/features.md.
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
        FROM event_sessions
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

context_stats AS (
    -- One pass over the session's events, per session and combination of its context columns
    -- (usually one per session): grouping by the context columns costs less than taking the
    -- minimum and maximum of each of them, and event_stats rolls the few rows up.
    SELECT
        session_id,
        anonymous_id,
        user_id,
        user_agent,
        device_type,
        campaign,
        experiment,
        variant,
        min(ts) AS session_start,
        max(ts) AS session_end,
        count(*) AS event_count,
        count(*) FILTER (WHERE event_type IN ('click', 'cta_click')) AS clicks,
        count(*) FILTER (WHERE event_type = 'cta_click') AS cta_clicks,
        count(*) FILTER (WHERE event_type = 'hover') AS hovers,
        sum(CAST(hover_ms AS DECIMAL(38, 6))) FILTER (WHERE event_type = 'hover') AS hover_ms_total,
        sum(
            CASE
                WHEN
                    page_type = 'pricing'
                    OR regexp_matches(lower(element), '(^|[^a-z])(pric|cta)')
                    THEN CAST(hover_ms AS DECIMAL(38, 6))
            END
        ) FILTER (WHERE event_type = 'hover') AS pricing_hover_ms,
        count(*) FILTER (WHERE event_type = 'comparison_view') AS comparison_views,
        count(*) FILTER (WHERE event_type = 'video_play') AS video_plays,
        count(*) FILTER (WHERE event_type = 'form_interaction') AS form_interactions,
        count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
        count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
        sum(CAST(revenue AS DECIMAL(38, 6))) FILTER (WHERE event_type = 'purchase') AS revenue,
        count(claimed_page_view_key) AS claiming_events,
        max(session_split_index) AS session_split_index,
        bool_and(session_id_is_derived) AS session_id_is_derived
    FROM event_sessions
    GROUP BY
        session_id, anonymous_id, user_id, user_agent, device_type, campaign, experiment, variant
),

event_stats AS (
    -- Per session. A context column's first non-null value is its only value when it never
    -- varies (min = max); sessions where one varies, or whose first event's identity is not
    -- implied, are resolved exactly (by ts, then event_id) in first_values.
    SELECT
        session_id,
        min(session_start) AS session_start,
        max(session_end) AS session_end,
        CAST(sum(event_count) AS BIGINT) AS event_count,
        CAST(sum(clicks) AS BIGINT) AS clicks,
        CAST(sum(cta_clicks) AS BIGINT) AS cta_clicks,
        CAST(sum(hovers) AS BIGINT) AS hovers,
        CAST(coalesce(sum(hover_ms_total), 0) AS DOUBLE) AS hover_ms_total,
        CAST(coalesce(sum(pricing_hover_ms), 0) AS DOUBLE) AS pricing_hover_ms,
        CAST(sum(comparison_views) AS BIGINT) AS comparison_views,
        CAST(sum(video_plays) AS BIGINT) AS video_plays,
        CAST(sum(form_interactions) AS BIGINT) AS form_interactions,
        CAST(sum(add_to_carts) AS BIGINT) AS add_to_carts,
        CAST(sum(purchases) AS BIGINT) AS purchases,
        CAST(coalesce(sum(revenue), 0) AS DOUBLE) AS revenue,
        CAST(sum(claiming_events) AS BIGINT) AS claiming_events,
        max(session_split_index) AS session_split_index,
        bool_and(session_id_is_derived) AS session_id_is_derived,
        CAST(coalesce(sum(event_count) FILTER (WHERE anonymous_id IS NOT NULL), 0) AS BIGINT)
            AS anonymous_id_count,
        min(anonymous_id) AS anonymous_id_lo,
        max(anonymous_id) AS anonymous_id_hi,
        CAST(coalesce(sum(event_count) FILTER (WHERE user_id IS NOT NULL), 0) AS BIGINT)
            AS user_id_count,
        min(user_id) AS user_id_lo,
        max(user_id) AS user_id_hi,
        min(user_agent) AS user_agent_lo,
        max(user_agent) AS user_agent_hi,
        min(device_type) AS device_type_lo,
        max(device_type) AS device_type_hi,
        min(campaign) AS campaign_lo,
        max(campaign) AS campaign_hi,
        min(experiment) AS experiment_lo,
        max(experiment) AS experiment_hi,
        min(variant) AS variant_lo,
        max(variant) AS variant_hi
    FROM context_stats
    GROUP BY session_id
),

varying_sessions AS (
    SELECT session_id
    FROM event_stats
    WHERE
        -- the first event's identity (for person_id) is known when every event has the same
        -- anonymous_id, or none has one and every event has the same user_id
        NOT (
            anonymous_id_count = event_count
            OR (anonymous_id_count = 0 AND user_id_count = event_count)
        )
        OR anonymous_id_lo <> anonymous_id_hi
        OR user_id_lo <> user_id_hi
        OR user_agent_lo <> user_agent_hi
        OR device_type_lo <> device_type_hi
        OR campaign_lo <> campaign_hi
        OR experiment_lo <> experiment_hi
        OR variant_lo <> variant_hi
),

first_values AS (
    SELECT
        session_id,
        min(
            struct_pack(ts := ts, event_id := event_id, anonymous_id := anonymous_id, user_id := user_id)
        ) AS first_event,
        (min(struct_pack(ts := ts, event_id := event_id, v := anonymous_id)) FILTER (
            WHERE anonymous_id IS NOT NULL
        )).v AS anonymous_id,
        (min(struct_pack(ts := ts, event_id := event_id, v := user_id)) FILTER (
            WHERE user_id IS NOT NULL
        )).v AS user_id,
        (min(struct_pack(ts := ts, event_id := event_id, v := user_agent)) FILTER (
            WHERE user_agent IS NOT NULL
        )).v AS user_agent,
        (min(struct_pack(ts := ts, event_id := event_id, v := device_type)) FILTER (
            WHERE device_type IS NOT NULL
        )).v AS device_type,
        (min(struct_pack(ts := ts, event_id := event_id, v := campaign)) FILTER (
            WHERE campaign IS NOT NULL
        )).v AS campaign,
        (min(struct_pack(ts := ts, event_id := event_id, v := experiment)) FILTER (
            WHERE experiment IS NOT NULL
        )).v AS experiment,
        (min(struct_pack(ts := ts, event_id := event_id, v := variant)) FILTER (
            WHERE variant IS NOT NULL
        )).v AS variant
    FROM event_sessions
    WHERE session_id IN (SELECT varying_sessions.session_id FROM varying_sessions)
    GROUP BY session_id
),

resolved_sessions AS (
    SELECT
        e.*,
        CASE WHEN x.session_id IS NULL THEN e.anonymous_id_lo ELSE x.first_event.anonymous_id END
            AS first_anonymous_id,
        CASE WHEN x.session_id IS NULL THEN e.user_id_lo ELSE x.first_event.user_id END
            AS first_user_id,
        CASE WHEN x.session_id IS NULL THEN e.anonymous_id_lo ELSE x.anonymous_id END AS anonymous_id,
        CASE WHEN x.session_id IS NULL THEN e.user_id_lo ELSE x.user_id END AS user_id,
        CASE WHEN x.session_id IS NULL THEN e.user_agent_lo ELSE x.user_agent END AS user_agent,
        CASE WHEN x.session_id IS NULL THEN e.device_type_lo ELSE x.device_type END AS device_type,
        CASE WHEN x.session_id IS NULL THEN e.campaign_lo ELSE x.campaign END AS campaign,
        CASE WHEN x.session_id IS NULL THEN e.experiment_lo ELSE x.experiment END AS experiment,
        CASE WHEN x.session_id IS NULL THEN e.variant_lo ELSE x.variant END AS variant
    FROM event_stats AS e
    LEFT JOIN first_values AS x ON e.session_id = x.session_id
),

session_events AS (
    -- person_id: the person of the session's first event (as in sessionized_events).
    SELECT
        r.session_id, r.session_start, r.session_end, r.event_count, r.clicks, r.cta_clicks,
        r.hovers, r.hover_ms_total, r.pricing_hover_ms, r.comparison_views, r.video_plays,
        r.form_interactions, r.add_to_carts, r.purchases, r.revenue, r.claiming_events,
        r.session_split_index, r.session_id_is_derived,
        CASE
            WHEN r.first_anonymous_id IS NOT NULL THEN devices.person_id ELSE r.first_user_id
        END AS person_id,
        r.anonymous_id, r.user_id, r.user_agent, r.device_type, r.campaign, r.experiment,
        r.variant
    FROM resolved_sessions AS r
    LEFT JOIN identity_map AS devices ON r.first_anonymous_id = devices.anonymous_id
),

page_stats AS (
    SELECT
        session_id,
        count(*) AS page_views,
        sum(events) AS owned_events,
        sum(distinct_interactions) AS owned_interactions,
        CAST(sum(CAST(dwell_s AS DECIMAL(38, 6))) AS DOUBLE) AS dwell_total_s,
        CAST(coalesce(sum(CAST(dwell_s AS DECIMAL(38, 6))) FILTER (WHERE page_type = 'specs'), 0) AS DOUBLE)
            AS dwell_specs_s,
        CAST(coalesce(sum(CAST(dwell_s AS DECIMAL(38, 6))) FILTER (WHERE page_type = 'pricing'), 0) AS DOUBLE)
            AS dwell_pricing_s,
        CAST(coalesce(sum(CAST(dwell_s AS DECIMAL(38, 6))) FILTER (WHERE page_type = 'comparison'), 0) AS DOUBLE)
            AS dwell_comparison_s,
        CAST(
            avg(CAST(dwell_s AS DECIMAL(38, 6))) FILTER (WHERE page_type IN ('specs', 'pricing', 'comparison')) AS DOUBLE
        ) AS evaluation_dwell_s,
        CAST(sum(CAST(engaged_s AS DECIMAL(38, 6))) AS DOUBLE) AS engaged_s,
        max(max_scroll_depth_pct) AS max_scroll_depth_pct,
        CAST(avg(CAST(coalesce(max_scroll_depth_pct, 0) AS DECIMAL(38, 9))) AS DOUBLE)
            AS mean_scroll_depth_pct,
        CAST(avg(CAST(scroll_velocity_pct_per_s AS DECIMAL(38, 9))) AS DOUBLE)
            AS mean_scroll_velocity_pct_per_s
    FROM page_views
    GROUP BY session_id
),

unowned_sessions AS (
    -- Sessions with events in none of their page views: before the first page view (naming no
    -- page view), or strays (naming a page view another session owns). Usually few.
    SELECT e.session_id
    FROM session_events AS e
    LEFT JOIN page_stats AS pv ON e.session_id = pv.session_id
    WHERE e.event_count > e.claiming_events OR e.claiming_events > coalesce(pv.owned_events, 0)
),

unowned_interactions AS (
    -- Their content interactions outside their page views: (event_type, element) pairs,
    -- distinct among themselves. Only these sessions' page views are looked up.
    SELECT pairs.session_id, count(*) AS interactions
    FROM (
        SELECT DISTINCT i.session_id, i.event_type, i.element
        FROM event_sessions AS i
        SEMI JOIN unowned_sessions AS u ON i.session_id = u.session_id
        LEFT JOIN (
            SELECT p.page_view_key, p.session_id
            FROM page_views AS p
            SEMI JOIN unowned_sessions AS u ON p.session_id = u.session_id
        ) AS owner
            ON i.claimed_page_view_key = owner.page_view_key AND i.session_id = owner.session_id
        WHERE
            owner.page_view_key IS NULL
            AND i.event_type IN (
                'click', 'cta_click', 'hover', 'scroll', 'comparison_view', 'video_play',
                'form_interaction', 'add_to_cart', 'purchase'
            )
    ) AS pairs
    GROUP BY pairs.session_id
),

combined AS (
    SELECT
        e.*,
        date_diff('microsecond', e.session_start, e.session_end) / 1000000.0 AS session_time_s,
        coalesce(pv.page_views, 0) AS page_views,
        e.claiming_events - coalesce(pv.owned_events, 0) AS stray_events,
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
        coalesce(pv.owned_interactions, 0) + coalesce(u.interactions, 0) AS distinct_interactions
    FROM session_events AS e
    LEFT JOIN page_stats AS pv ON e.session_id = pv.session_id
    LEFT JOIN click_stats AS c ON e.session_id = c.session_id
    LEFT JOIN unowned_interactions AS u ON e.session_id = u.session_id
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
