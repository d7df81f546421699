"""Bot detection: every session gets ``is_bot``, ``bot_reasons`` and ``anomaly_score``."""

from signal_pipeline.bots.detect import bot_flags_from_signals, flag_bot_sessions
from signal_pipeline.bots.session_rules import (
    BOT_RULES,
    RULE_NAMES,
    bot_rule_violations,
    checkable_rules,
    rule_flags,
    session_rule_reasons,
)
from signal_pipeline.bots.signals import session_signals
from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.bots.user_agents import crawler_user_agent_mask, is_crawler_user_agent

__all__ = [
    "BOT_RULES",
    "RULE_NAMES",
    "BotThresholds",
    "bot_flags_from_signals",
    "bot_rule_violations",
    "checkable_rules",
    "crawler_user_agent_mask",
    "flag_bot_sessions",
    "is_crawler_user_agent",
    "rule_flags",
    "session_rule_reasons",
    "session_signals",
]
