"""Find the input files and detect each one's format from its first bytes."""

from __future__ import annotations

import glob
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

FAMILIES: tuple[str, ...] = ("native", "snowplow", "segment")
_PEEK_BYTES = 256 * 1024
_SNIFF_LINES = 20
_SEGMENT_TYPES = frozenset({"track", "page", "screen", "identify", "group", "alias"})
_SEGMENT_KEYS = frozenset({"messageId", "anonymousId", "userId", "originalTimestamp"})
_SNOWPLOW_TSV_MIN_FIELDS = 100


@dataclass(frozen=True)
class SourceFile:
    """One input file with its format: family (native/snowplow/segment) and container.

    ``number`` is the file's 1-based position in one ingest pass (internal tables key lines by
    ``(file_no, line)`` rather than by path).
    """

    path: Path
    family: str
    container: str  # jsonl | json_array | csv | tsv | parquet
    number: int = 0

    @property
    def label(self) -> str:
        """``family/container``, the value reported per file."""
        return f"{self.family}/{self.container}"


def duckdb_path(path: Path) -> str:
    """The path as a DuckDB file argument: glob metacharacters escaped so it matches only itself."""
    return re.sub(r"([\[\]*?])", r"[\1]", str(path))


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Resolve files, directories (recursively, hidden entries skipped) and glob patterns.

    An existing path is taken literally even if its name holds glob characters. Raises
    ``FileNotFoundError`` when an entry matches nothing.
    """
    found: dict[Path, None] = {}
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_file():
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file())
            candidates = [p for p in candidates if not _hidden(p.relative_to(path))]
        else:
            candidates = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            candidates = [p for p in candidates if p.is_file()]
            if not candidates:
                raise FileNotFoundError(f"no input file matches {str(entry)!r}")
        for candidate in candidates:
            found[candidate.resolve()] = None
    return list(found)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def detect_format(path: Path, forced_family: str = "auto") -> SourceFile:
    """Detect the container from the first bytes and the family from the first records.

    Parquet by suffix, or by magic bytes unless the suffix names a text format; a JSON array or
    ``{"batch": [...]}`` document; JSON lines; otherwise delimited text (a Snowplow enriched TSV
    has no header and 100+ tab-separated fields). ``forced_family`` overrides the family (the
    container is still detected).
    """
    with path.open("rb") as handle:
        head = handle.read(_PEEK_BYTES)
    container, family = _sniff(path, head)
    if forced_family != "auto":
        family = forced_family
    return SourceFile(path=path, family=family, container=container)


#: Suffixes that name a text format: such a file is read as text even when its bytes happen to
#: start with Parquet's magic number (its lines are then judged, and quarantined, one by one).
TEXT_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt", ".log"})


def _sniff(path: Path, head: bytes) -> tuple[str, str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet" or (head.startswith(b"PAR1") and suffix not in TEXT_SUFFIXES):
        return "parquet", "native"  # the family of a Parquet file is decided from its columns
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        return "jsonl", "native"
    # Only "\n" ends a line (as in the line reader); str.splitlines would also split on
    # \x0b, \x1c, \x85, U+2028... inside a field and misjudge the format.
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()][:_SNIFF_LINES]
    if stripped.startswith("[") and _is_array_document(lines):
        return "json_array", _json_family(_first_array_records(stripped))
    if stripped.startswith(("{", "[")):
        records = [r for r in (_loads(line) for line in lines) if isinstance(r, dict)]
        if len(records) == 1 and isinstance(records[0].get("batch"), list):
            return "json_array", _json_family(records[0]["batch"][:_SNIFF_LINES])
        if not records and lines and lines[0].strip() == "{":
            return "json_array", "segment"  # a pretty-printed batch document
        return "jsonl", _json_family(records)
    first = lines[0]
    if first.count("\t") + 1 >= _SNOWPLOW_TSV_MIN_FIELDS and not is_header_row(first.split("\t")):
        return "tsv", "snowplow"
    header = {h.strip().strip('"').lower() for h in re.split(r"[,\t;|]", first)}
    container = "tsv" if "\t" in first else "csv"
    if "collector_tstamp" in header or {"event_id", "domain_userid"} <= header:
        return container, "snowplow"
    if "event_id" in header or "event_type" in header:
        return container, "native"
    return "jsonl", "native"  # unknown text: every line is judged (and quarantined) as JSON


_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_header_row(fields: list[str]) -> bool:
    """The one header test for Snowplow TSV files.

    A wide tab-separated first line is a header (not an enriched-event row) only when every field
    is a column name and ``event_id`` and ``collector_tstamp`` are among them: an event row has
    empty fields, ids and timestamps, so a stray value such as ``collector_tstamp`` inside a row
    never turns that row into a header (which would drop it unread)."""
    names = [field.strip().strip('"') for field in fields]
    return all(_COLUMN_NAME.match(name) for name in names) and {"event_id", "collector_tstamp"} <= {
        name.lower() for name in names
    }


def _is_array_document(lines: list[str]) -> bool:
    """A file starting with ``[`` is one array document (else JSON lines) when its first line is
    not complete JSON on its own (a multi-line or larger-than-peek array), or when it is a single
    line holding an array of objects."""
    first = _loads(lines[0])
    if first is None:
        return True
    return (
        len(lines) == 1
        and isinstance(first, list)
        and bool(first)
        and all(isinstance(item, dict) for item in first)
    )


def _loads(line: str) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _first_array_records(text: str) -> list[object]:
    parsed = _loads(text)
    if isinstance(parsed, list):
        return parsed[:_SNIFF_LINES]
    # Too large for the peek window: parse the complete objects at its start.
    decoder_records: list[object] = []
    for chunk in re.split(r"\}\s*,\s*\{", text[1:], maxsplit=_SNIFF_LINES)[:-1]:
        candidate = _loads("{" + chunk.strip().lstrip("{") + "}")
        if isinstance(candidate, dict):
            decoder_records.append(candidate)
    return decoder_records


def _json_family(records: Sequence[object]) -> str:
    votes = {"segment": 0, "native": 0}
    for record in records:
        if not isinstance(record, dict):
            continue
        is_segment = record.get("type") in _SEGMENT_TYPES or bool(_SEGMENT_KEYS & record.keys())
        votes["segment" if is_segment and "event_type" not in record else "native"] += 1
    return "segment" if votes["segment"] > votes["native"] else "native"
