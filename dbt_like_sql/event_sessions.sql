-- Every landed event with the session it belongs to and the page view it names (one row per raw
-- event): the sessionization behind sessionized_events and page_views, computed once per reader.
-- session_id: the tracker's session_id when the event has one; otherwise a session is derived per
-- identity (anonymous_id, else user_id): a gap of more than session_gap_s (default 30 min) since
-- the identity's previous event starts a new one, with id md5(identity || '|' || first event_id).
-- Any session (given or derived) longer than session_cap_s (default 24 h) is split into windows of
-- session_cap_s counted from its first event: session_split_index (0 = unsplit or first) and ids
-- "<session id>#cap<k>" for later pieces. claimed_page_view_key: the page view the event names,
-- its page_view_id, else the latest page_view event at or before it in its session (that event's
-- page_view_id, or its event_id when it has none); NULL before the first page view. Whether the
-- claim holds (the page view belongs to this session) is decided in page_views.
-- A view, and cheap for what trackers usually send: events carrying session_id are not sorted
-- at all (a page_view event names itself; page_view_id names the rest); the gap rule orders only
-- events without session_id, and the latest-page-view rule only the sessions holding events
-- without page_view_id.
-- materialized: view
-- group: sessions
WITH long_given_sessions AS (
    -- Tracker sessions that outlast the cap (usually none), with their first event's time.
    SELECT spans.session_id, spans.first_ts
    FROM (
        SELECT session_id, min(ts) AS first_ts, max(ts) AS last_ts
        FROM raw_events
        WHERE session_id IS NOT NULL
        GROUP BY session_id
    ) AS spans
    CROSS JOIN model_params AS p
    WHERE date_diff('microsecond', spans.first_ts, spans.last_ts) >= p.session_cap_s * 1000000
),

given_claiming_events AS (
    -- Tracker session, and the event names its page view (a page_view event names itself, the
    -- latest page view at or before it): nothing to order.
    SELECT
        e.*,
        false AS session_id_is_derived,
        coalesce(
            CAST(
                floor(date_diff('microsecond', long.first_ts, e.ts) / (p.session_cap_s * 1000000))
                AS INTEGER
            ),
            0
        ) AS session_split_index,
        coalesce(e.page_view_id, e.event_id) AS claimed_page_view_key
    FROM raw_events AS e
    CROSS JOIN model_params AS p
    LEFT JOIN long_given_sessions AS long ON e.session_id = long.session_id
    WHERE e.session_id IS NOT NULL AND (e.page_view_id IS NOT NULL OR e.event_type = 'page_view')
),

lookup_sessions AS (
    -- Tracker sessions holding events without page_view_id: only these need ordering.
    SELECT DISTINCT session_id
    FROM raw_events
    WHERE
        session_id IS NOT NULL
        AND page_view_id IS NULL
        AND coalesce(event_type, '') <> 'page_view'
),

given_other_events AS (
    -- Tracker session, event without page_view_id (looks its page view up), with the page_view
    -- events of its session (in the lookup only: given_claiming_events outputs them).
    SELECT
        e.*,
        false AS session_id_is_derived,
        coalesce(
            CAST(
                floor(date_diff('microsecond', long.first_ts, e.ts) / (p.session_cap_s * 1000000))
                AS INTEGER
            ),
            0
        ) AS session_split_index
    FROM raw_events AS e
    CROSS JOIN model_params AS p
    LEFT JOIN long_given_sessions AS long ON e.session_id = long.session_id
    WHERE
        e.session_id IN (SELECT lookup_sessions.session_id FROM lookup_sessions)
        AND (e.page_view_id IS NULL OR e.event_type = 'page_view')
),

identity_streams AS (
    -- Events without a tracker session, in order per identity.
    SELECT
        e.*,
        coalesce(e.anonymous_id, e.user_id) AS identity_key,
        lag(e.ts) OVER identity_order AS previous_ts,
        row_number() OVER identity_order AS stream_seq
    FROM raw_events AS e
    WHERE e.session_id IS NULL
    WINDOW identity_order AS (
        PARTITION BY coalesce(e.anonymous_id, e.user_id) ORDER BY e.ts, e.event_id
    )
),

visit_starts AS (
    SELECT
        s.*,
        s.previous_ts IS NULL
        OR date_diff('microsecond', s.previous_ts, s.ts) > p.session_gap_s * 1000000
            AS starts_visit
    FROM identity_streams AS s
    CROSS JOIN model_params AS p
),

visits AS (
    SELECT
        v.*,
        max(CASE WHEN v.starts_visit THEN v.ts END) OVER visit_so_far AS visit_start_ts,
        last_value(
            CASE
                WHEN v.starts_visit THEN md5(coalesce(v.identity_key, '') || '|' || v.event_id)
            END IGNORE NULLS
        ) OVER visit_so_far AS visit_id
    FROM visit_starts AS v
    WINDOW visit_so_far AS (
        PARTITION BY v.identity_key
        ORDER BY v.stream_seq
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
),

derived_events AS (
    SELECT
        d.event_id, d.ts, d.event_date, d.event_type, d.event_name, d.anonymous_id, d.user_id,
        d.visit_id AS session_id, d.page_url, d.page_type, d.page_view_id, d.element,
        d.scroll_depth_pct, d.hover_ms, d.x, d.y, d.user_agent, d.device_type, d.campaign,
        d.experiment, d.variant, d.revenue, d.source_format, d.source_file, d.source_line,
        true AS session_id_is_derived,
        CAST(
            floor(date_diff('microsecond', d.visit_start_ts, d.ts) / (p.session_cap_s * 1000000))
            AS INTEGER
        ) AS session_split_index
    FROM visits AS d
    CROSS JOIN model_params AS p
),

ordered_events AS (
    -- Events that look their page view up: the latest page_view event at or before them in
    -- their session (cap pieces are separate sessions).
    SELECT
        o.*,
        last_value(
            CASE WHEN o.event_type = 'page_view' THEN coalesce(o.page_view_id, o.event_id) END
            IGNORE NULLS
        ) OVER (
            PARTITION BY o.session_id, o.session_split_index
            ORDER BY o.ts, o.event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS claimed_page_view_key
    FROM (
        SELECT * FROM given_other_events
        UNION ALL
        SELECT * FROM derived_events
    ) AS o
)

SELECT
    s.event_id, s.ts, s.event_date, s.event_type, s.event_name, s.anonymous_id, s.user_id,
    CASE
        WHEN s.session_split_index = 0 THEN s.session_id
        ELSE s.session_id || '#cap' || CAST(s.session_split_index AS VARCHAR)
    END AS session_id,
    s.page_url, s.page_type, s.page_view_id, s.element, s.scroll_depth_pct, s.hover_ms, s.x,
    s.y, s.user_agent, s.device_type, s.campaign, s.experiment, s.variant, s.revenue,
    s.source_format, s.source_file, s.source_line, s.session_id_is_derived,
    s.session_split_index, s.claimed_page_view_key
FROM (
    SELECT * FROM given_claiming_events
    UNION ALL
    SELECT * FROM ordered_events AS o
    WHERE o.session_id_is_derived OR coalesce(o.event_type, '') <> 'page_view'
) AS s
