-- One row per session (bots included): session_metrics plus the bot verdict from
-- session_bot_flags: is_bot, bot_reasons (names of the rules that fired; empty for humans) and
-- anomaly_score (IsolationForest; higher = more anomalous).
-- A session the bot detector has not scored (missing from session_bot_flags, or flagged with a
-- NULL verdict) fails closed: is_bot = true with bot_reasons ['unscored'] and a NULL
-- anomaly_score, so it never reaches validated_sessions unseen; count them with
-- list_contains(bot_reasons, 'unscored').
-- group: quality
SELECT
    m.*,
    coalesce(f.is_bot, true) AS is_bot,
    CASE
        WHEN f.is_bot IS NULL THEN ['unscored']
        ELSE coalesce(f.bot_reasons, CAST([] AS VARCHAR[]))
    END AS bot_reasons,
    f.anomaly_score
FROM session_metrics AS m
LEFT JOIN session_bot_flags AS f ON m.session_id = f.session_id
