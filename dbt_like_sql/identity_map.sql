-- Which person each device (anonymous id) belongs to: one row per anonymous_id.
-- person_id is the user_id the device was first seen logged in with (earliest event by ts, then
-- event_id, so the choice is deterministic when a device saw several users); a device never seen
-- logged in is its own person (person_id = anonymous_id). Two devices that each saw the same
-- user_id therefore share one person_id. Stitching is one hop only: it does not chain through a
-- device that saw two different users.
-- group: sessions
WITH first_user_per_device AS (
    -- The user_id of each device's earliest logged-in event (by ts, then event_id).
    SELECT
        anonymous_id,
        min(struct_pack(ts := ts, event_id := event_id, user_id := user_id)).user_id AS user_id
    FROM raw_events
    WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL
    GROUP BY anonymous_id
),

devices AS (
    SELECT DISTINCT anonymous_id
    FROM raw_events
    WHERE anonymous_id IS NOT NULL
)

SELECT
    devices.anonymous_id,
    coalesce(first_user_per_device.user_id, devices.anonymous_id) AS person_id
FROM devices
LEFT JOIN first_user_per_device
    ON devices.anonymous_id = first_user_per_device.anonymous_id
