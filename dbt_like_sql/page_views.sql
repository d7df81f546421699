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
-- readings (scroll / page_ping events carrying depth, ordered by ts; readings sharing a timestamp
-- by depth, so the result depends on the data, not on event ids) divided by the seconds between
-- the first and last reading, i.e. the time-weighted mean speed of scrolling up or down; NULL with
-- fewer than two readings or when they share one timestamp.
-- hovers / hover_ms: hover events and their summed duration; clicks: click + cta_click events;
-- cta_clicks: cta_click events. distinct_interactions: distinct (event_type, element) of its
-- content interactions (click, cta_click, hover, scroll, comparison_view, video_play,
-- form_interaction, add_to_cart, purchase). page_type, page_url and person_id (identity_map's
-- person of its anonymous_id, else its user_id) are those of its first page_view event.
-- group: sessions
WITH interaction_kinds AS (
    -- Every (event_type, element) of a content interaction in the events, numbered: a small
    -- table (event types times the elements a site tags), so that each page view can collect
    -- its distinct interactions as integers.
    SELECT
        kinds.event_type,
        kinds.element,
        row_number() OVER (ORDER BY kinds.event_type, kinds.element) AS kind
    FROM (
        SELECT DISTINCT event_type, element
        FROM raw_events
        WHERE event_type IN (
            'click', 'cta_click', 'hover', 'scroll', 'comparison_view', 'video_play',
            'form_interaction', 'add_to_cart', 'purchase'
        )
    ) AS kinds
),

claims AS (
    -- One pass over the events naming a page view, per (page view, session) claim: counts, the
    -- first page_view event (by ts, then event_id), and three short lists (a claim has a few of
    -- each): the heartbeat buckets of its page pings, its interaction kinds, and its depth
    -- readings sorted by (ts, depth). Everything else is read off the lists afterwards: each
    -- aggregate costs a step per event, a list function only a step per listed item.
    SELECT
        e.claimed_page_view_key AS page_view_key,
        e.session_id,
        max(e.ts) AS last_event_at,
        count(*) AS events,
        list(
            floor(
                date_diff('microsecond', TIMESTAMP '1970-01-01 00:00:00', e.ts)
                / (p.heartbeat_s * 1000000)
            )
        ) FILTER (WHERE e.event_type = 'page_ping') AS ping_buckets,
        count(*) FILTER (WHERE e.event_type = 'hover') AS hovers,
        CAST(
            coalesce(sum(CAST(e.hover_ms AS DECIMAL(38, 6))) FILTER (WHERE e.event_type = 'hover'), 0)
            AS DOUBLE
        ) AS hover_ms,
        count(*) FILTER (WHERE e.event_type IN ('click', 'cta_click')) AS clicks,
        count(*) FILTER (WHERE e.event_type = 'cta_click') AS cta_clicks,
        min(struct_pack(ts := e.ts, event_id := e.event_id)) FILTER (
            WHERE e.event_type = 'page_view'
        ) AS first_view,
        list_sort(
            list(struct_pack(ts := e.ts, depth := e.scroll_depth_pct)) FILTER (
                WHERE e.event_type IN ('scroll', 'page_ping') AND e.scroll_depth_pct IS NOT NULL
            )
        ) AS depth_readings,
        list(k.kind) FILTER (WHERE k.kind IS NOT NULL) AS interaction_kinds
    FROM event_sessions AS e
    CROSS JOIN model_params AS p
    LEFT JOIN interaction_kinds AS k
        ON e.event_type = k.event_type AND e.element IS NOT DISTINCT FROM k.element
    WHERE e.claimed_page_view_key IS NOT NULL
    GROUP BY e.claimed_page_view_key, e.session_id
),

claim_readings AS (
    -- Claims holding a page_view event (only those can own the page view), with the times of
    -- their first and last depth reading.
    SELECT
        c.*,
        list_min(list_transform(c.depth_readings, lambda reading: reading.ts))
            AS first_reading_at,
        list_max(list_transform(c.depth_readings, lambda reading: reading.ts))
            AS last_reading_at
    FROM claims AS c
    WHERE c.first_view IS NOT NULL
),

claim_measures AS (
    -- Per claim: page pings and their distinct buckets, distinct interactions, the deepest
    -- reading, and scroll velocity by a left fold over the sorted readings (carrying the previous
    -- depth and the distance travelled so far); computed before ordering so the lists are not
    -- carried along.
    SELECT
        c.page_view_key,
        c.session_id,
        c.last_event_at,
        c.events,
        coalesce(array_length(c.ping_buckets), 0) AS page_pings,
        coalesce(array_length(list_distinct(c.ping_buckets)), 0) AS ping_buckets,
        c.hovers,
        c.hover_ms,
        c.clicks,
        c.cta_clicks,
        coalesce(array_length(list_distinct(c.interaction_kinds)), 0) AS distinct_interactions,
        c.first_view.ts AS started_at,
        c.first_view.event_id AS first_view_event_id,
        list_max(list_transform(c.depth_readings, lambda reading: reading.depth))
            AS max_scroll_depth_pct,
        CASE
            WHEN c.last_reading_at > c.first_reading_at
                THEN list_reduce(
                    c.depth_readings,
                    lambda travelled, reading: struct_pack(
                        depth := reading.depth,
                        distance := travelled.distance + abs(reading.depth - travelled.depth)
                    ),
                    struct_pack(depth := c.depth_readings[1].depth, distance := CAST(0 AS DOUBLE))
                ).distance
                / (date_diff('microsecond', c.first_reading_at, c.last_reading_at) / 1000000.0)
        END AS scroll_velocity_pct_per_s
    FROM claim_readings AS c
),

owned AS (
    -- The claim holding the page view's earliest page_view event (claims without one own
    -- nothing).
    SELECT ranked.*
    FROM (
        SELECT
            claim_measures.*,
            row_number() OVER (
                PARTITION BY claim_measures.page_view_key
                ORDER BY claim_measures.started_at, claim_measures.first_view_event_id
            ) AS claim_order
        FROM claim_measures
    ) AS ranked
    WHERE ranked.claim_order = 1
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
    CASE
        WHEN first_view.anonymous_id IS NOT NULL THEN devices.person_id ELSE first_view.user_id
    END AS person_id,
    first_view.page_type,
    first_view.page_url,
    s.started_at,
    date_diff('microsecond', s.started_at, coalesce(s.next_started_at, s.last_event_at))
    / 1000000.0 AS dwell_s,
    CASE
        WHEN s.ping_buckets > 0 THEN p.heartbeat_s * (s.ping_buckets - 1) + p.min_visit_s
        ELSE 0.0
    END AS engaged_s,
    s.max_scroll_depth_pct,
    s.scroll_velocity_pct_per_s,
    s.hovers,
    s.hover_ms,
    s.clicks,
    s.cta_clicks,
    s.distinct_interactions,
    s.page_view_index,
    s.last_event_at,
    s.events,
    s.page_pings
FROM sequenced AS s
CROSS JOIN model_params AS p
LEFT JOIN (
    -- The page view's first page_view event (event ids are unique in raw_events): its page and
    -- person, read for the 1 in ~10 events that are page views instead of carried through the
    -- per-claim GROUP BY.
    SELECT event_id, page_type, page_url, anonymous_id, user_id
    FROM raw_events
    WHERE event_type = 'page_view'
) AS first_view ON s.first_view_event_id = first_view.event_id
LEFT JOIN identity_map AS devices ON first_view.anonymous_id = devices.anonymous_id
