"""SQL that turns event-time text into a UTC ``TIMESTAMP``.

Accepted: ISO-8601 with ``Z`` or any offset (converted to UTC), naive ISO-8601 (read as UTC),
and epoch numbers (or numeric strings) in seconds, milliseconds, microseconds or nanoseconds,
told apart by magnitude: below 1e11 seconds (until year 5138), below 1e14 milliseconds, below
1e17 microseconds, else nanoseconds. Anything else yields ``NULL`` (``unparseable_timestamp``).
The session time zone never matters: zoned values go through their epoch, naive values are
cast without a zone.

Fast path: the common ``...Z`` form skips the regular expressions (a zoned cast and its epoch);
only other forms pay for the pattern checks.
"""

from __future__ import annotations

# Date, optional time with optional fraction, and no zone: read as UTC.
NAIVE_ISO_REGEX = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
EPOCH_REGEX = r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$"


def epoch_microseconds_sql(number: str) -> str:
    """SQL for the epoch microseconds of a ``DOUBLE`` epoch value, its unit chosen by magnitude."""
    return (
        f"CASE WHEN abs({number}) < 1e11 THEN {number} * 1e6 "
        f"WHEN abs({number}) < 1e14 THEN {number} * 1e3 "
        f"WHEN abs({number}) < 1e17 THEN {number} "
        f"ELSE {number} / 1e3 END"
    )


def parse_timestamp_sql(text: str) -> str:
    """SQL expression turning the VARCHAR expression ``text`` (from code) into a UTC TIMESTAMP."""
    trimmed = f"trim({text})"
    number = f"TRY_CAST({trimmed} AS DOUBLE)"
    zoned = f"TRY(make_timestamp(epoch_us(TRY_CAST({text} AS TIMESTAMPTZ))))"
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        WHEN suffix({text}, 'Z') THEN {zoned}
        WHEN regexp_full_match({trimmed}, '{EPOCH_REGEX}') THEN
            TRY(make_timestamp(TRY_CAST(round({epoch_microseconds_sql(number)}) AS BIGINT)))
        WHEN regexp_full_match({trimmed}, '{NAIVE_ISO_REGEX}') THEN TRY_CAST({trimmed} AS TIMESTAMP)
        ELSE TRY(make_timestamp(epoch_us(TRY_CAST({trimmed} AS TIMESTAMPTZ))))
    END)"""
