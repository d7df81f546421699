"""`signal-pipeline lift`: A/B lift per segment, raw and stratified, with the before/after check."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

DEFAULT_DB = "data/signal.duckdb"


def cmd_lift(args: argparse.Namespace) -> int:
    """Compute the lift table from session_features + session_segments and print it."""
    from signal_pipeline import db
    from signal_pipeline.cli import CliError
    from signal_pipeline.experiments import LiftSettings, experiment_lift_table
    from signal_pipeline.experiments.data import MissingInputError, read_experiment_sessions
    from signal_pipeline.experiments.summary import SUMMARY_HEADER, lift_summary_rows

    database = Path(args.db).expanduser().resolve()
    if not database.exists():
        raise CliError(f"database not found: {database} (run `signal-pipeline run` first)")
    try:
        start = date.fromisoformat(args.treatment_start) if args.treatment_start else None
        settings = LiftSettings(
            treatment_start=start,
            control_variant=args.control_variant,
            alpha=args.alpha,
            target_relative_lift=args.target_relative_lift,
            min_sessions_per_arm=args.min_sessions_per_arm,
        )
    except ValueError as error:
        raise CliError(str(error)) from error
    with db.open_db(database, read_only=True) as con:
        try:
            sessions = read_experiment_sessions(con, settings.strata)
        except MissingInputError as error:
            raise CliError(f"{error} ({database})") from error
    try:
        table = experiment_lift_table(sessions, settings)
    except ValueError as error:
        raise CliError(str(error)) from error
    if args.json:
        print(table.to_json(orient="records", date_format="iso", indent=2))
        return 0
    if args.quiet:
        return 0
    if table.empty:
        print("no session carries an experiment and variant")
        return 0
    print(_text_table(SUMMARY_HEADER, lift_summary_rows(table)))
    return 0


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `lift` on the CLI's subparsers."""
    lift = sub.add_parser(
        "lift",
        parents=[common],
        help="A/B lift per segment (raw and stratified by device and campaign)",
        description="Per segment and overall: CTA click-through and conversion by variant, "
        "absolute and relative lift with 95 %% intervals, Mantel-Haenszel estimate stratified "
        "by device type and campaign, Benjamini-Hochberg q-values, power, and with "
        "--treatment-start a placebo and difference-in-differences check.",
    )
    lift.add_argument("--db", default=DEFAULT_DB, help="DuckDB file")
    lift.add_argument(
        "--treatment-start", default=None, help="YYYY-MM-DD the treatment started (enables DiD)"
    )
    lift.add_argument("--control-variant", default=None, help="name of the control variant")
    lift.add_argument("--alpha", type=float, default=0.05, help="significance level and FDR")
    lift.add_argument(
        "--target-relative-lift",
        type=float,
        default=0.10,
        help="relative lift the power and sample size are computed for",
    )
    lift.add_argument(
        "--min-sessions-per-arm",
        type=int,
        default=30,
        help="fewer sessions in an arm = 'not enough data'",
    )
    lift.set_defaults(func=cmd_lift)


__all__ = ["add_parser", "cmd_lift"]
