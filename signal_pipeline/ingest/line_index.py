"""Cheap byte-level facts about a text file's lines, and the raw text of chosen lines.

The JSON-lines fast path (:mod:`signal_pipeline.ingest.typed_json_lines`) never reads lines as
text; it needs only the line count, which lines are oversize, and whether the file holds bytes the
typed reader treats differently from the per-line parser (empty lines it skips, control
whitespace it accepts). :func:`scan_lines` finds those in one streaming pass of numpy byte
compares, in memory independent of the file size. :func:`read_raw_lines` then fetches the few
lines that need their text (quarantined or re-judged), tidied exactly like
:mod:`signal_pipeline.ingest.lines` does: invalid UTF-8 bytes escaped as ``\\xNN`` (and flagged),
``\\r`` endings stripped, a leading byte-order mark stripped from line 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHUNK_BYTES = 16 * 1024 * 1024
_NEWLINE = 10
# Bytes the typed reader skips as whitespace (or mishandles) but the JSON parser rejects.
_SUSPECT_BYTES = (b"\x00", b"\x0b", b"\x0c")
_BOM = "\ufeff"


@dataclass(frozen=True)
class LineScan:
    """What :func:`scan_lines` learnt about a file (line numbers are 1-based)."""

    n_lines: int  # a trailing newline does not start a line
    max_line_bytes: int  # longest line, without its newline
    oversize_lines: tuple[int, ...]  # lines longer than the limit given to the scan
    has_empty_lines: bool  # a zero-length line (the typed reader would skip it)
    has_suspect_bytes: bool  # NUL, vertical tab or form feed anywhere in the file


def scan_lines(path: Path, limit_bytes: int) -> LineScan:
    """Count the lines of ``path`` and find the ones longer than ``limit_bytes`` (raw bytes,
    ``\\r`` included), streaming the file in chunks."""
    n_newlines = 0
    line_start = 0  # file offset where the current line starts
    offset = 0
    longest = 0
    oversize: list[int] = []
    empty = False
    suspect = False
    last_byte = _NEWLINE
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            suspect = suspect or any(chunk.find(b) >= 0 for b in _SUSPECT_BYTES)
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _NEWLINE) + offset
            if len(newlines):
                starts = np.concatenate(([line_start], newlines[:-1] + 1))
                lengths = newlines - starts
                longest = max(longest, int(lengths.max()))
                empty = empty or bool((lengths == 0).any())
                over = np.flatnonzero(lengths > limit_bytes)
                oversize.extend(int(i) + n_newlines + 1 for i in over)
                n_newlines += len(newlines)
                line_start = int(newlines[-1]) + 1
            offset += len(chunk)
            last_byte = chunk[-1]
    n_lines = n_newlines
    if last_byte != _NEWLINE:  # a last line without its newline
        n_lines += 1
        tail = offset - line_start
        longest = max(longest, tail)
        if tail > limit_bytes:
            oversize.append(n_lines)
    return LineScan(
        n_lines=n_lines,
        max_line_bytes=longest,
        oversize_lines=tuple(oversize),
        has_empty_lines=empty,
        has_suspect_bytes=suspect,
    )


def read_raw_lines(
    path: Path, numbers: Iterable[int], first_line: int = 0
) -> tuple[list[int], list[str], list[bool]]:
    """The tidied text of lines ``numbers`` of ``path``: ``(numbers, texts, has_invalid_utf8)``
    in file order (a number past the end is ignored). ``path`` may be one part of a file whose
    first line is line ``first_line + 1`` of the file (a byte-order mark is stripped from the
    file's line 1 only)."""
    wanted = sorted(set(numbers))
    found_numbers: list[int] = []
    texts: list[str] = []
    bad_utf8: list[bool] = []
    if not wanted:
        return found_numbers, texts, bad_utf8
    position = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number != wanted[position]:
                continue
            text, bad = _tidy(raw, first_line + number)
            found_numbers.append(number)
            texts.append(text)
            bad_utf8.append(bad)
            position += 1
            if position == len(wanted):
                break
    return found_numbers, texts, bad_utf8


def _tidy(raw: bytes, number: int) -> tuple[str, bool]:
    """Decode one raw line like :mod:`signal_pipeline.ingest.lines` (escape, strip CR / BOM)."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    try:
        text, bad = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="backslashreplace")
        bad = True
    if number == 1 and text.startswith(_BOM):
        text = text.rstrip("\r").lstrip(_BOM)
    elif text.endswith("\r"):
        text = text.rstrip("\r")
    return text, bad
