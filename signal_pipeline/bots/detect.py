"""Flag bot sessions: rules + anomaly score, one row per session, nothing deleted."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from signal_pipeline.bots.anomaly import anomaly_scores
from signal_pipeline.bots.session_rules import ANOMALY_RULE_NAME, reasons_from_flags, rule_flags
from signal_pipeline.bots.signals import session_signals
from signal_pipeline.bots.thresholds import BotThresholds

BOT_FLAG_COLUMNS = ("session_id", "is_bot", "bot_reasons", "anomaly_score")
# Arrow list<string>: DuckDB reads it as VARCHAR[] even when every list is empty (an object
# column of empty Python lists would be typed "NULL"[]).
BOT_REASONS_DTYPE = pd.ArrowDtype(pa.list_(pa.string()))


def bot_flags_from_signals(signals: pd.DataFrame, thresholds: BotThresholds) -> pd.DataFrame:
    """``session_id, is_bot, bot_reasons, anomaly_score`` for a frame of session signals.

    ``bot_reasons`` is an Arrow ``list<string>`` column (elements read back as Python lists).
    """
    flags = rule_flags(signals, thresholds)
    scores, outliers = anomaly_scores(signals, thresholds)
    if thresholds.anomaly_rule:
        flags[ANOMALY_RULE_NAME] = outliers
    reasons = reasons_from_flags(flags)
    return pd.DataFrame(
        {
            "session_id": signals["session_id"].to_numpy(),
            "is_bot": [bool(r) for r in reasons],
            "bot_reasons": pd.Series(reasons, dtype=BOT_REASONS_DTYPE),
            "anomaly_score": scores,
        },
        columns=list(BOT_FLAG_COLUMNS),
    )


def flag_bot_sessions(con: duckdb.DuckDBPyConnection, thresholds: BotThresholds) -> pd.DataFrame:
    """One row per ``session_metrics`` session: ``session_id, is_bot, bot_reasons, anomaly_score``.

    Reads ``session_metrics`` and ``sessionized_events`` on ``con``; click gaps, activity and
    pointer statistics are computed in DuckDB (``bots.signals.session_signals``), then every
    rule of ``bots.session_rules`` is applied (the same definitions as
    ``session_rule_reasons``).
    ``bot_reasons`` lists rule names (empty for humans); ``anomaly_score`` is the IsolationForest
    score, higher = more anomalous.
    """
    return bot_flags_from_signals(session_signals(con, thresholds), thresholds)
