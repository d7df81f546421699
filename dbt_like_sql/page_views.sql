-- One row per page view (page_view_key) with how long and how actively it was viewed.
-- started_at: time of its page_view event. dwell_s: seconds to the next page view of the session,
-- or, for the session's last page view, to the last event on the page. engaged_s (Snowplow's
-- engaged time): heartbeat_s * (distinct heartbeat_s-second buckets of page pings - 1)
-- + min_visit_s when the page view has page pings, else 0. max_scroll_depth_pct: deepest
-- scroll_depth_pct on its scroll / page_ping events (NULL: no depth reported).
-- scroll_velocity_pct_per_s: total absolute change of scroll depth between consecutive depth
-- readings (scroll / page_ping events carrying depth, in event order) divided by the seconds
-- between the first and last reading, i.e. the time-weighted mean speed of scrolling up or down;
-- NULL with fewer than two readings or when they share one timestamp.
-- hovers / hover_ms: hover events and their summed duration; clicks: click + cta_click events;
-- cta_clicks: cta_click events. Stray events (see sessionized_events) belong to no page view.
-- group: sessions
WITH page_events AS (
    SELECT
        e.page_view_key,
        e.session_id,
        e.person_id,
        e.event_type,
        e.event_seq,
        e.ts,
        e.page_type,
        e.page_url,
        e.hover_ms,
        CASE
            WHEN e.event_type = 'page_ping'
                THEN floor(
                    date_diff('microsecond', TIMESTAMP '1970-01-01 00:00:00', e.ts)
                    / (p.heartbeat_s * 1000000)
                )
        END AS ping_bucket
    FROM sessionized_events AS e
    CROSS JOIN model_params AS p
    WHERE e.page_view_key IS NOT NULL
),

depth_readings AS (
    SELECT
        page_view_key,
        ts,
        scroll_depth_pct,
        abs(scroll_depth_pct - lag(scroll_depth_pct) OVER reading_order) AS depth_change_pct
    FROM sessionized_events
    WHERE
        page_view_key IS NOT NULL
        AND scroll_depth_pct IS NOT NULL
        AND event_type IN ('scroll', 'page_ping')
    WINDOW reading_order AS (PARTITION BY page_view_key ORDER BY event_seq)
),

scroll_stats AS (
    SELECT
        page_view_key,
        max(scroll_depth_pct) AS max_scroll_depth_pct,
        CASE
            WHEN max(ts) > min(ts)
                THEN coalesce(sum(depth_change_pct), 0)
                / (date_diff('microsecond', min(ts), max(ts)) / 1000000.0)
        END AS scroll_velocity_pct_per_s
    FROM depth_readings
    GROUP BY page_view_key
),

page_stats AS (
    SELECT
        page_view_key,
        min(session_id) AS session_id,
        min(person_id) AS person_id,
        arg_min(page_type, event_seq) FILTER (WHERE event_type = 'page_view') AS page_type,
        arg_min(page_url, event_seq) FILTER (WHERE event_type = 'page_view') AS page_url,
        min(ts) FILTER (WHERE event_type = 'page_view') AS started_at,
        min(event_seq) FILTER (WHERE event_type = 'page_view') AS started_seq,
        max(ts) AS last_event_at,
        count(*) AS events,
        count(*) FILTER (WHERE event_type = 'page_ping') AS page_pings,
        count(DISTINCT ping_bucket) AS ping_buckets,
        count(*) FILTER (WHERE event_type = 'hover') AS hovers,
        coalesce(sum(hover_ms) FILTER (WHERE event_type = 'hover'), 0) AS hover_ms,
        count(*) FILTER (WHERE event_type IN ('click', 'cta_click')) AS clicks,
        count(*) FILTER (WHERE event_type = 'cta_click') AS cta_clicks
    FROM page_events
    GROUP BY page_view_key
),

sequenced AS (
    SELECT
        s.*,
        row_number() OVER page_order AS page_view_index,
        lead(s.started_at) OVER page_order AS next_started_at
    FROM page_stats AS s
    WINDOW page_order AS (PARTITION BY s.session_id ORDER BY s.started_at, s.started_seq)
)

SELECT
    s.page_view_key,
    s.session_id,
    s.person_id,
    s.page_type,
    s.page_url,
    s.started_at,
    date_diff('microsecond', s.started_at, coalesce(s.next_started_at, s.last_event_at))
    / 1000000.0 AS dwell_s,
    CASE
        WHEN s.ping_buckets > 0 THEN p.heartbeat_s * (s.ping_buckets - 1) + p.min_visit_s
        ELSE 0.0
    END AS engaged_s,
    scroll.max_scroll_depth_pct,
    scroll.scroll_velocity_pct_per_s,
    s.hovers,
    s.hover_ms,
    s.clicks,
    s.cta_clicks,
    s.page_view_index,
    s.last_event_at,
    s.events,
    s.page_pings
FROM sequenced AS s
CROSS JOIN model_params AS p
LEFT JOIN scroll_stats AS scroll ON s.page_view_key = scroll.page_view_key
