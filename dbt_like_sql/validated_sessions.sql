-- The human sessions: the rows of sessions with is_bot = false (unscored sessions excluded).
-- materialized: view
-- group: quality
SELECT *
FROM sessions
WHERE is_bot = false
