"""Render the reliability table from the records the tests wrote.

``python -m signal_pipeline.reliability.table`` prints the markdown table (figures first, then one
row per injected fault, fuzz campaign and hostile input); ``--write docs/reliability.md`` replaces
the block between the ``reliability-table`` markers of that file. Records of every pytest-xdist
worker are merged; when a test ran several times, its latest record counts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

from signal_pipeline.reliability.recorder import CATEGORIES, ENV_RESULTS_DIR, results_dir

START_MARKER = "<!-- reliability-table:start -->"
END_MARKER = "<!-- reliability-table:end -->"

CATEGORY_TITLES = {
    "fault": "fault injected",
    "fuzz": "fuzzing",
    "bad_input": "hostile input",
    "ui": "UI",
    "files": "files and logs",
}


def load_records(folder: Path) -> list[dict]:
    """Every record under ``folder`` (all ``*.jsonl`` files), the latest per (category, name)."""
    latest: dict[tuple[str, str], dict] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed writer: ignore it
            key = (str(item.get("category")), str(item.get("name")))
            if key not in latest or item.get("recorded_at", 0) >= latest[key].get("recorded_at", 0):
                latest[key] = item
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(latest.values(), key=lambda r: (order.get(r["category"], 99), r["name"]))


def summary(records: Iterable[dict]) -> dict[str, int]:
    """The headline figures: faults injected/survived, fuzz examples, bad-input kinds, events."""
    items = list(records)
    faults = [r for r in items if r["category"] in ("fault", "ui", "files")]
    return {
        "faults_injected": len(faults),
        "faults_survived": sum(1 for r in faults if r["survived"]),
        "fuzz_campaigns": sum(1 for r in items if r["category"] == "fuzz"),
        "fuzz_examples": sum(int(r.get("examples", 0)) for r in items if r["category"] == "fuzz"),
        "bad_input_kinds": sum(1 for r in items if r["category"] == "bad_input"),
        "bad_input_survived": sum(
            1 for r in items if r["category"] == "bad_input" and r["survived"]
        ),
        "events_checked": sum(int(r.get("events_in", 0)) for r in items),
        "events_lost": sum(int(r.get("events_lost", 0)) for r in items),
    }


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(records: list[dict]) -> str:
    """The markdown: a figures table, then one row per record."""
    figures = summary(records)
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| faults injected / survived | {figures['faults_injected']} / "
        f"{figures['faults_survived']} |",
        f"| fuzz campaigns / examples run | {figures['fuzz_campaigns']} / "
        f"{figures['fuzz_examples']:,} |",
        f"| hostile-input kinds covered / with their defined outcome | "
        f"{figures['bad_input_kinds']} / {figures['bad_input_survived']} |",
        f"| events checked | {figures['events_checked']:,} |",
        f"| events lost | {figures['events_lost']:,} |",
        "",
        "| kind | what | survived | outcome | examples | events in | events lost |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    CATEGORY_TITLES.get(r["category"], r["category"]),
                    r["name"],
                    "yes" if r["survived"] else "**NO**",
                    r.get("outcome", ""),
                    f"{int(r.get('examples', 0)):,}",
                    f"{int(r.get('events_in', 0)):,}",
                    f"{int(r.get('events_lost', 0)):,}",
                )
            )
            + " |"
        )
    if not records:
        lines.append("| - | no records: run the test suite first | | | | | |")
    return "\n".join(lines) + "\n"


def replace_block(document: str, table: str) -> str:
    """``document`` with the text between the markers replaced by ``table``."""
    start = document.find(START_MARKER)
    end = document.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"markers {START_MARKER} … {END_MARKER} not found")
    return document[: start + len(START_MARKER)] + "\n" + table + document[end:]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or write it into a markdown file between the markers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"records folder (default: ${ENV_RESULTS_DIR} or <tmp>/signal_pipeline_reliability)",
    )
    parser.add_argument("--write", type=Path, default=None, help="markdown file to update")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    records = load_records(args.dir or results_dir())
    if args.json:
        print(json.dumps({"figures": summary(records), "records": records}, indent=2))
        return 0
    table = render(records)
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(encoding="utf-8"), table))
        print(f"wrote {len(records)} records into {args.write}")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
