"""Read a text file of any size as parts DuckDB can read, with exact global line numbers.

DuckDB reads one file into one string (``read_text``) or one JSON reader buffer, and fails on a
file larger than about 4 GiB. A file up to ``max_bytes`` is its own single part (no copy). A larger
file is cut into byte ranges of about ``max_bytes`` that end just after a newline, each copied to a
temporary file in ``scratch_dir`` (a folder the reading connection may read), handed out one at a
time and deleted before the next is written, so the extra disk space is one part.

``first_line`` is the number of lines before a part; a part's line ``k`` (1-based) is line
``first_line + k`` of the file. Because every part but the last ends with a newline, the line rule
of :mod:`signal_pipeline.ingest.lines` (a trailing newline does not start a line; ``\\r\\n`` stays
within a line) gives the same lines per part as for the whole file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_READ_BYTES = 3 * 1024**3  # below DuckDB's ~4 GiB per-file read limit
_COPY_BYTES = 16 * 1024 * 1024
_NEWLINE = b"\n"


@dataclass(frozen=True)
class FilePart:
    """One readable part of a source file."""

    path: Path  # the source itself, or a temporary copy of one byte range of it
    first_line: int  # lines of the source before this part
    is_copy: bool  # True when ``path`` is a temporary copy


def needs_parts(path: Path, max_bytes: int) -> bool:
    """True when ``path`` is too large to be read as one part."""
    return path.stat().st_size > max_bytes


def file_parts(path: Path, max_bytes: int, scratch_dir: Path | None) -> Iterator[FilePart]:
    """Yield the parts of ``path`` in file order; a copied part is deleted when the caller asks
    for the next one (or closes the generator).

    Raises ``ValueError`` when the file needs parts and no ``scratch_dir`` is given.
    """
    size = path.stat().st_size
    if size <= max_bytes:
        yield FilePart(path=path, first_line=0, is_copy=False)
        return
    if scratch_dir is None:
        raise ValueError(f"{path} is {size} bytes, over {max_bytes}; a scratch folder is needed")
    scratch_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="parts_", dir=scratch_dir))
    try:
        lines_before = 0
        with path.open("rb") as source:
            start = 0
            number = 0
            while start < size:
                end = _part_end(source, start, max_bytes, size)
                number += 1
                part_path = workdir / f"part_{number:05d}{path.suffix}"
                newlines, last_byte = _copy_range(source, start, end, part_path)
                n_lines = newlines + (1 if last_byte not in (None, _NEWLINE[0]) else 0)
                yield FilePart(part_path, first_line=lines_before, is_copy=True)
                part_path.unlink(missing_ok=True)
                lines_before += n_lines
                start = end
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _part_end(source, start: int, max_bytes: int, size: int) -> int:  # type: ignore[no-untyped-def]
    """Offset just after the first newline at or beyond ``start + max_bytes`` (or the end)."""
    position = start + max_bytes
    if position >= size:
        return size
    source.seek(position - 1)  # a newline ending exactly at the limit closes this part
    while True:
        block = source.read(_COPY_BYTES)
        if not block:
            return size
        found = block.find(_NEWLINE)
        if found >= 0:
            return position - 1 + found + 1
        position += len(block)


def _copy_range(source, start: int, end: int, target: Path) -> tuple[int, int | None]:  # type: ignore[no-untyped-def]
    """Copy bytes ``[start, end)`` of ``source`` to ``target``; return (newlines, last byte)."""
    source.seek(start)
    newlines = 0
    last_byte: int | None = None
    remaining = end - start
    with target.open("wb") as out:
        while remaining > 0:
            block = source.read(min(_COPY_BYTES, remaining))
            if not block:
                break
            newlines += block.count(_NEWLINE)
            last_byte = block[-1]
            out.write(block)
            remaining -= len(block)
    return newlines, last_byte
