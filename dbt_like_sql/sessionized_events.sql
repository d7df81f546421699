-- Every landed event with its session, person and page view resolved (one row per raw event).
-- session_id: the tracker's session_id when the event has one; otherwise a session is derived per
-- identity (anonymous_id, else user_id): a gap of more than session_gap_s (default 30 min) since
-- the identity's previous event starts a new one, with id md5(identity || '|' || first event_id)
-- (deterministic, unique). Any session (given or derived) longer than session_cap_s (default 24 h)
-- is split into consecutive windows of session_cap_s counted from its first event:
-- session_split_index says which window (0 = unsplit or first) and pieces after the first get the
-- id "<session id>#cap<k>". session_id_is_derived says which rule made the id.
-- person_id: identity_map's person for the event's anonymous_id, else its user_id.
-- event_seq: 1-based position in the session ordered by ts, then event_id (identical timestamps).
-- page_view_key: the page view the event belongs to: its page_view_id when it carries one, else
-- the latest page view at or before it in the session (a page_view event without page_view_id is
-- keyed by its event_id); NULL before the session's first page view.
-- A page view belongs to the session of its earliest page_view event, as in the Snowplow web
-- model: an event naming a page view that is not in its own session (a page ping arriving after
-- the session expired, a duplicate page_view in another session, a page context whose page_view
-- was lost) is a stray: is_stray_event = true and page_view_key NULL. Strays count in session
-- totals (event_count, clicks, session time) but in no page view (dwell, engaged time, scroll).
-- group: sessions
WITH event_streams AS (
    -- Narrow on purpose: window passes carry only the columns they need; the wide raw row is
    -- joined back once at the end.
    SELECT
        event_id,
        ts,
        event_type,
        anonymous_id,
        session_id AS given_session_id,
        page_view_id,
        coalesce(anonymous_id, user_id) AS identity_key,
        lag(ts) OVER stream_order AS previous_ts,
        row_number() OVER stream_order AS stream_seq
    FROM raw_events
    WINDOW stream_order AS (
        PARTITION BY session_id, CASE WHEN session_id IS NULL THEN coalesce(anonymous_id, user_id) END
        ORDER BY ts, event_id
    )
),

visit_starts AS (
    SELECT
        s.*,
        s.previous_ts IS NULL
        OR (
            s.given_session_id IS NULL
            AND date_diff('microsecond', s.previous_ts, s.ts) > p.session_gap_s * 1000000
        ) AS starts_visit
    FROM event_streams AS s
    CROSS JOIN model_params AS p
),

visits AS (
    SELECT
        v.*,
        max(CASE WHEN v.starts_visit THEN v.ts END) OVER stream_so_far AS visit_start_ts,
        max(CASE WHEN v.starts_visit THEN v.stream_seq END) OVER stream_so_far AS visit_start_seq,
        last_value(
            CASE
                WHEN v.starts_visit
                    THEN coalesce(v.given_session_id, md5(coalesce(v.identity_key, '') || '|' || v.event_id))
            END IGNORE NULLS
        ) OVER stream_so_far AS visit_id,
        last_value(
            CASE WHEN v.event_type = 'page_view' THEN coalesce(v.page_view_id, v.event_id) END
            IGNORE NULLS
        ) OVER stream_so_far AS latest_page_view_key,
        max(CASE WHEN v.event_type = 'page_view' THEN v.stream_seq END)
            OVER stream_so_far AS latest_page_view_seq
    FROM visit_starts AS v
    WINDOW stream_so_far AS (
        PARTITION BY
            v.given_session_id,
            CASE WHEN v.given_session_id IS NULL THEN v.identity_key END
        ORDER BY v.ts, v.event_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
),

split_visits AS (
    SELECT
        v.*,
        CAST(
            floor(
                date_diff('microsecond', v.visit_start_ts, v.ts) / (p.session_cap_s * 1000000)
            ) AS INTEGER
        ) AS session_split_index
    FROM visits AS v
    CROSS JOIN model_params AS p
),

sessioned AS (
    SELECT
        s.*,
        CASE
            WHEN s.session_split_index = 0 THEN s.visit_id
            ELSE s.visit_id || '#cap' || CAST(s.session_split_index AS VARCHAR)
        END AS resolved_session_id
    FROM split_visits AS s
),

-- Sessions cut by the cap restart their event order at their first event (rare: only rows of
-- sessions longer than session_cap_s reach this aggregate).
capped_session_starts AS (
    SELECT resolved_session_id, min(stream_seq) AS start_seq
    FROM sessioned
    WHERE session_split_index > 0
    GROUP BY resolved_session_id
),

-- A page view belongs to the session of its earliest page_view event.
page_view_owners AS (
    SELECT page_view_key, resolved_session_id AS owner_session_id
    FROM (
        SELECT
            coalesce(page_view_id, event_id) AS page_view_key,
            resolved_session_id,
            row_number() OVER (
                PARTITION BY coalesce(page_view_id, event_id) ORDER BY ts, event_id
            ) AS page_view_order
        FROM sessioned
        WHERE event_type = 'page_view'
    ) AS page_view_events
    WHERE page_view_order = 1
),

positioned AS (
    SELECT
        s.*,
        coalesce(capped.start_seq, s.visit_start_seq) AS session_start_seq
    FROM sessioned AS s
    LEFT JOIN capped_session_starts AS capped
        ON s.resolved_session_id = capped.resolved_session_id
),

claimed AS (
    SELECT
        p.*,
        CASE
            WHEN p.page_view_id IS NOT NULL THEN p.page_view_id
            WHEN p.latest_page_view_seq >= p.session_start_seq THEN p.latest_page_view_key
        END AS claimed_page_view_key
    FROM positioned AS p
),

resolved AS (
    SELECT
        c.event_id,
        c.resolved_session_id AS session_id,
        CASE WHEN c.anonymous_id IS NOT NULL THEN devices.person_id ELSE c.identity_key END
            AS person_id,
        c.stream_seq - c.session_start_seq + 1 AS event_seq,
        CASE
            WHEN owners.owner_session_id = c.resolved_session_id THEN c.claimed_page_view_key
        END AS page_view_key,
        c.given_session_id IS NULL AS session_id_is_derived,
        c.session_split_index,
        coalesce(
            c.claimed_page_view_key IS NOT NULL
            AND (owners.owner_session_id IS NULL OR owners.owner_session_id <> c.resolved_session_id),
            false
        ) AS is_stray_event
    FROM claimed AS c
    LEFT JOIN page_view_owners AS owners ON c.claimed_page_view_key = owners.page_view_key
    LEFT JOIN identity_map AS devices ON c.anonymous_id = devices.anonymous_id
)

SELECT
    e.event_id,
    e.ts,
    e.event_date,
    e.event_type,
    e.event_name,
    e.anonymous_id,
    e.user_id,
    r.session_id,
    e.page_url,
    e.page_type,
    e.page_view_id,
    e.element,
    e.scroll_depth_pct,
    e.hover_ms,
    e.x,
    e.y,
    e.user_agent,
    e.device_type,
    e.campaign,
    e.experiment,
    e.variant,
    e.revenue,
    e.source_format,
    e.source_file,
    e.source_line,
    r.person_id,
    r.event_seq,
    r.page_view_key,
    r.session_id_is_derived,
    r.session_split_index,
    r.is_stray_event
FROM raw_events AS e
INNER JOIN resolved AS r ON e.event_id = r.event_id
