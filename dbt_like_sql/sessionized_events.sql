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
-- A view over event_sessions (which session each event is in, which page view it names) and
-- page_views (which session owns each page view): every reader computes only the columns it
-- reads, and event_seq is numbered only for readers that select it.
-- materialized: view
-- group: sessions
SELECT
    e.event_id,
    e.ts,
    e.event_date,
    e.event_type,
    e.event_name,
    e.anonymous_id,
    e.user_id,
    e.session_id,
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
    CASE WHEN e.anonymous_id IS NOT NULL THEN devices.person_id ELSE e.user_id END AS person_id,
    row_number() OVER (PARTITION BY e.session_id ORDER BY e.ts, e.event_id) AS event_seq,
    owner.page_view_key,
    e.session_id_is_derived,
    e.session_split_index,
    e.claimed_page_view_key IS NOT NULL AND owner.page_view_key IS NULL AS is_stray_event
FROM event_sessions AS e
LEFT JOIN page_views AS owner
    ON e.claimed_page_view_key = owner.page_view_key AND e.session_id = owner.session_id
LEFT JOIN identity_map AS devices ON e.anonymous_id = devices.anonymous_id
