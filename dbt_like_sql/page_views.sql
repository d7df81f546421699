-- One row per page view (page_view_key) with how long and how actively it was viewed.
-- A page view belongs to the session of its earliest page_view event (by ts, then event_id), as
-- in the Snowplow web model; events of other sessions naming it are strays (see
-- sessionized_events) and count in no page view. session_id is that owning session.
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
-- cta_clicks: cta_click events. person_id: the smallest person_id of its events.
-- group: sessions
WITH claims AS (
    -- One pass over the events naming a page view, per (page view, session) claim: counts, the
    -- first page_view event (by ts, then event_id; a struct, so a NULL page still wins) and the
    -- deepest scroll reading.
    SELECT
        e.claimed_page_view_key AS page_view_key,
        e.session_id,
        min(
            CASE WHEN e.anonymous_id IS NOT NULL THEN devices.person_id ELSE e.user_id END
        ) AS person_id,
        max(e.ts) AS last_event_at,
        count(*) AS events,
        count(*) FILTER (WHERE e.event_type = 'page_ping') AS page_pings,
        count(*) FILTER (WHERE e.event_type = 'hover') AS hovers,
        CAST(
            coalesce(sum(CAST(e.hover_ms AS DECIMAL(38, 6))) FILTER (WHERE e.event_type = 'hover'), 0)
            AS DOUBLE
        ) AS hover_ms,
        count(*) FILTER (WHERE e.event_type IN ('click', 'cta_click')) AS clicks,
        count(*) FILTER (WHERE e.event_type = 'cta_click') AS cta_clicks,
        min(CASE WHEN e.event_type = 'page_view' THEN e.ts END) AS started_at,
        min(
            CASE
                WHEN e.event_type = 'page_view'
                    THEN struct_pack(
                        ts := e.ts,
                        event_id := e.event_id,
                        page_type := e.page_type,
                        page_url := e.page_url
                    )
            END
        ) AS first_view,
        max(
            CASE WHEN e.event_type IN ('scroll', 'page_ping') THEN e.scroll_depth_pct END
        ) AS max_scroll_depth_pct
    FROM event_sessions AS e
    LEFT JOIN identity_map AS devices ON e.anonymous_id = devices.anonymous_id
    WHERE e.claimed_page_view_key IS NOT NULL
    GROUP BY e.claimed_page_view_key, e.session_id
),

ping_buckets AS (
    -- Distinct heartbeat buckets of each claim's page pings (grouped, not count(DISTINCT)).
    SELECT page_view_key, session_id, count(*) AS ping_buckets
    FROM (
        SELECT DISTINCT
            e.claimed_page_view_key AS page_view_key,
            e.session_id,
            floor(
                date_diff('microsecond', TIMESTAMP '1970-01-01 00:00:00', e.ts)
                / (p.heartbeat_s * 1000000)
            ) AS ping_bucket
        FROM event_sessions AS e
        CROSS JOIN model_params AS p
        WHERE e.claimed_page_view_key IS NOT NULL AND e.event_type = 'page_ping'
    ) AS buckets
    GROUP BY page_view_key, session_id
),

owned AS (
    -- The claim holding the page view's earliest page_view event (claims without one own
    -- nothing).
    SELECT
        c.page_view_key,
        c.session_id,
        c.person_id,
        c.last_event_at,
        c.events,
        c.page_pings,
        c.hovers,
        c.hover_ms,
        c.clicks,
        c.cta_clicks,
        c.max_scroll_depth_pct,
        c.started_at,
        c.first_view_event_id,
        c.page_type,
        c.page_url,
        coalesce(b.ping_buckets, 0) AS ping_buckets
    FROM (
        SELECT
            claims.page_view_key,
            claims.session_id,
            claims.person_id,
            claims.last_event_at,
            claims.events,
            claims.page_pings,
            claims.hovers,
            claims.hover_ms,
            claims.clicks,
            claims.cta_clicks,
            claims.max_scroll_depth_pct,
            claims.started_at,
            claims.first_view.event_id AS first_view_event_id,
            claims.first_view.page_type AS page_type,
            claims.first_view.page_url AS page_url,
            row_number() OVER (
                PARTITION BY claims.page_view_key
                ORDER BY claims.started_at, claims.first_view.event_id
            ) AS claim_order
        FROM claims
        WHERE claims.first_view IS NOT NULL
    ) AS c
    LEFT JOIN ping_buckets AS b ON c.page_view_key = b.page_view_key AND c.session_id = b.session_id
    WHERE c.claim_order = 1
),

depth_readings AS (
    SELECT
        claimed_page_view_key AS page_view_key,
        session_id,
        ts,
        abs(scroll_depth_pct - lag(scroll_depth_pct) OVER reading_order) AS depth_change_pct
    FROM event_sessions
    WHERE
        claimed_page_view_key IS NOT NULL
        AND scroll_depth_pct IS NOT NULL
        AND event_type IN ('scroll', 'page_ping')
    WINDOW reading_order AS (
        PARTITION BY claimed_page_view_key, session_id ORDER BY ts, event_id
    )
),

scroll_stats AS (
    SELECT
        page_view_key,
        session_id,
        CASE
            WHEN max(ts) > min(ts)
                THEN CAST(coalesce(sum(CAST(depth_change_pct AS DECIMAL(38, 9))), 0) AS DOUBLE)
                / (date_diff('microsecond', min(ts), max(ts)) / 1000000.0)
        END AS scroll_velocity_pct_per_s
    FROM depth_readings
    GROUP BY page_view_key, session_id
),

sequenced AS (
    SELECT
        s.*,
        row_number() OVER page_order AS page_view_index,
        lead(s.started_at) OVER page_order AS next_started_at
    FROM owned AS s
    WINDOW page_order AS (
        PARTITION BY s.session_id ORDER BY s.started_at, s.first_view_event_id
    )
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
    s.max_scroll_depth_pct,
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
LEFT JOIN scroll_stats AS scroll
    ON s.page_view_key = scroll.page_view_key AND s.session_id = scroll.session_id
