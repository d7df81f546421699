"""The `signal-pipeline` command line: simulate, run, show and export."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from signal_pipeline import db

DEFAULT_DB = "data/signal.duckdb"

#: `export` / `show` names → tables (identifiers come from code, never from the user).
TABLES = {
    "raw": "raw_events",
    "quarantine": "quarantined_events",
    "sessions": "sessions",
    "features": "session_features",
    "segments": "session_segments",
    "profiles": "segment_profiles",
    "drift": "drift_statistics",
}

SEGMENT_TABLE_SQL = """
SELECT segment_id, segment_name, sessions, round(100 * share, 1) AS share_pct,
       round(avg_dwell_per_page_s, 1) AS avg_dwell_s,
       round(avg_scroll_depth_pct, 1) AS scroll_depth_pct,
       round(100 * cta_ctr, 2) AS cta_ctr_pct,
       round(conversion_lift, 2) AS conversion_vs_avg,
       action_flag
FROM segment_profiles ORDER BY sessions DESC
"""


class CliError(Exception):
    """An error reported to the user in one line, with a non-zero exit code."""


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(payload, default=str, indent=2))
    elif not args.quiet:
        print(text)


def _existing_db(path: str) -> Path:
    db_path = Path(path).expanduser().resolve()
    if not db_path.exists():
        raise CliError(f"database not found: {db_path} (run `signal-pipeline run` first)")
    return db_path


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write a simulated clickstream (events.jsonl, labels.csv, summary.json)."""
    from tqdm import tqdm

    from signal_pipeline.simulate import ExperimentDesign, simulate

    bar = tqdm(total=args.sessions, unit="session", disable=args.quiet or args.json)
    summary = simulate(
        Path(args.out_dir),
        sessions=args.sessions,
        days=args.days,
        seed=args.seed,
        start=date.fromisoformat(args.start),
        drift_day=args.drift_day,
        drift_factor=args.drift_factor,
        bad_lines=args.bad,
        duplicates=args.dupes,
        bot_share=args.bot_share,
        with_session_ids=not args.no_session_ids,
        progress=bar.update,
        experiment=ExperimentDesign() if args.experiment else None,
    )
    bar.close()
    payload = summary.to_dict()
    _emit(
        args,
        payload,
        f"wrote {summary.events} events in {summary.sessions} sessions to {args.out_dir}",
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest event files and materialize every asset into the database."""
    from signal_pipeline.pipeline import run_pipeline

    if args.labels and not Path(args.labels).is_file():
        raise CliError(f"labels file not found: {args.labels}")
    for path in args.events:
        if not any(ch in path for ch in "*?[") and not Path(path).exists():
            raise CliError(f"event file not found: {path}")
    from signal_pipeline.reliability.run_lock import exclusive_run
    from signal_pipeline.run_progress import TqdmStepBar

    silent = args.quiet or args.json or args.no_progress
    say = (lambda _m: None) if (args.quiet or args.json) else (lambda m: print(f"... {m}"))
    with exclusive_run(Path(args.db)):  # one writing command per database; busy: exit code 3
        summary = run_pipeline(
            args.events,
            Path(args.db),
            Path(args.artifacts) if args.artifacts else None,
            progress=say,
            # Failures are reported by main() in one line; --log / --verbose show Dagster's log.
            log_level="DEBUG" if args.verbose else "INFO" if args.log else "CRITICAL",
            labels=Path(args.labels) if args.labels else None,
            events_format=args.format,
            step_bar=lambda label, steps: TqdmStepBar(total=steps, label=label, disable=silent),
        )
    lines = [f"materialized every asset into {summary.database}"]
    lines += [f"  {table:<20} {rows:>10,} rows" for table, rows in summary.table_rows.items()]
    _emit(args, vars(summary), "\n".join(lines))
    return 0


def _format_table(cursor: duckdb.DuckDBPyConnection) -> str:
    columns = [d[0] for d in cursor.description]
    rows = [["" if v is None else str(v) for v in row] for row in cursor.fetchall()]
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def cmd_show(args: argparse.Namespace) -> int:
    """Print a table (segments: the segment table in the reference shape)."""
    database = _existing_db(args.db)
    with db.open_db(database, read_only=True) as con:
        table = "segment_profiles" if args.what == "segments" else TABLES[args.what]
        if not db.table_exists(con, table):
            raise CliError(f"table {table} not found in {database}: run the pipeline first")
        if args.what == "segments":
            cursor = con.execute(SEGMENT_TABLE_SQL)
        else:
            cursor = con.execute(f'SELECT * FROM "{table}" LIMIT ?', [args.limit])
        if args.json:
            frame = cursor.df()
            print(frame.to_json(orient="records", date_format="iso", indent=2))
        elif not args.quiet:
            print(_format_table(cursor))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one table to CSV or Parquet (by the output file's extension)."""
    database = _existing_db(args.db)
    table = TABLES[args.what]
    out = Path(args.out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with db.open_db(database, read_only=True) as con:
        if not db.table_exists(con, table):
            raise CliError(f"table {table} not found in {database}: run the pipeline first")
        rows = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
        relation = con.table(table)
        if out.suffix.lower() == ".parquet":
            relation.write_parquet(str(out))
        elif out.suffix.lower() in {".csv", ".txt"}:
            relation.write_csv(str(out), header=True)
        else:
            raise CliError(f"unknown export format {out.suffix!r}: use .csv or .parquet")
    _emit(args, {"table": table, "rows": rows, "out": str(out)}, f"wrote {rows} rows to {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML segment report."""
    from signal_pipeline.report import write_report

    database = _existing_db(args.db)
    with db.open_db(database, read_only=True) as con:
        summary = write_report(con, Path(args.out), database)
    _emit(
        args,
        {"out": str(summary.path), "segments": summary.segments, "charts": summary.charts},
        f"wrote {summary.path} ({summary.segments} segments, {summary.charts} charts)",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every subcommand has --help)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="print nothing on success")
    common.add_argument("--json", action="store_true", help="machine-readable JSON output")

    parser = argparse.ArgumentParser(
        prog="signal-pipeline",
        description="Turn raw web clickstream into intent micro-segments (Dagster + DuckDB).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", parents=[common], help="write a simulated clickstream")
    sim.add_argument("out_dir", help="folder for events.jsonl, labels.csv and summary.json")
    sim.add_argument("--sessions", type=int, default=2000, help="number of sessions")
    sim.add_argument("--days", type=int, default=14, help="days the sessions spread over")
    sim.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    sim.add_argument("--start", default="2026-01-01", help="first day (UTC, YYYY-MM-DD)")
    sim.add_argument("--drift-day", type=int, default=None, help="day index dwell shifts from")
    sim.add_argument("--drift-factor", type=float, default=1.8, help="dwell multiplier")
    sim.add_argument("--bad", type=int, default=0, help="malformed lines to insert")
    sim.add_argument("--dupes", type=int, default=0, help="duplicate events to insert")
    sim.add_argument("--bot-share", type=float, default=0.10, help="share of bot sessions")
    sim.add_argument("--no-session-ids", action="store_true", help="omit session_id")
    sim.add_argument("--experiment", action="store_true", help="plant an A/B test (lift command)")
    sim.set_defaults(func=cmd_simulate)

    run = sub.add_parser("run", parents=[common], help="ingest files and materialize every asset")
    run.add_argument("--events", nargs="+", required=True, help="event files, folders or globs")
    run.add_argument("--db", default=DEFAULT_DB, help="DuckDB file (created if missing)")
    run.add_argument(
        "--format",
        choices=["auto", "native", "snowplow", "segment"],
        default="auto",
        help="source format of every file (default: detected per file)",
    )
    run.add_argument("--artifacts", default=None, help="model folder (default: beside --db)")
    run.add_argument(
        "--labels",
        default=None,
        help="ground-truth labels.csv (from `simulate`): report bot and segment quality",
    )
    run.add_argument("--log", action="store_true", help="show Dagster's step log (INFO)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's DEBUG log")
    run.add_argument(
        "--no-progress", action="store_true", help="no progress bars (on stderr by default)"
    )
    run.set_defaults(func=cmd_run)

    show = sub.add_parser("show", parents=[common], help="print a table")
    show.add_argument("what", choices=["segments", *TABLES], help="what to print")
    show.add_argument("--db", default=DEFAULT_DB, help="DuckDB file")
    show.add_argument("--limit", type=int, default=20, help="rows to print")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", parents=[common], help="write a table to CSV or Parquet")
    export.add_argument("what", choices=list(TABLES), help="which table")
    export.add_argument("--db", default=DEFAULT_DB, help="DuckDB file")
    export.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    export.set_defaults(func=cmd_export)
    report = sub.add_parser("report", parents=[common], help="write the HTML segment report")
    report.add_argument("--db", default=DEFAULT_DB, help="DuckDB file")
    report.add_argument("--out", default="report.html", help="output HTML file")
    report.set_defaults(func=cmd_report)
    from signal_pipeline import cli_backfill

    cli_backfill.add_parser(sub, common)
    from signal_pipeline import cli_realtime

    cli_realtime.add_parser(sub, common)
    from signal_pipeline import cli_lift

    cli_lift.add_parser(sub, common)
    return parser


def _one_line(exc: BaseException) -> str:
    """The error message on one line (DuckDB and Dagster messages span several)."""
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a subcommand; report errors in one line with a non-zero exit code."""
    args = build_parser().parse_args(argv)
    from signal_pipeline.reliability.file_modes import forbid_world_write

    forbid_world_write()  # keep the user's umask, but nothing written is world-writable
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except db.DatabaseBusyError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 3
    except (OSError, ValueError, RuntimeError, duckdb.Error) as exc:
        # OSError: disk full, permissions, missing files; duckdb.Error: out of memory, I/O.
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
