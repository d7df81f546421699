"""Spark engine parity: the simulator's sample on DuckDB and on local Spark gives the same tables.

One local Spark session (local[2], 2 shuffle partitions, no UI, UTC) for the module; the input
is the shared ``simulated_small`` clickstream (bad lines and duplicates included) split into two
files, with repeats of some events in the second file (exact copies and one changed copy), so
the cross-file de-duplication runs too.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from signal_pipeline import db
from signal_pipeline.ingest import IngestSettings
from signal_pipeline.spark.duckdb_reference import run_duckdb_reference
from signal_pipeline.spark.pipeline import SparkRunSummary, run_spark_pipeline
from signal_pipeline.spark.session import build_spark_session, local_settings
from signal_pipeline.sql_models import load_models

INGEST = IngestSettings(now=datetime(2026, 6, 1, tzinfo=UTC), earliest=date(2020, 1, 1))
REL_TOL = 1e-9


@pytest.fixture(scope="module")
def split_events(simulated_small: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The sample as two files; the second repeats 5 events of the first, one of them changed."""
    lines = (simulated_small / "events.jsonl").read_bytes().splitlines()
    folder = tmp_path_factory.mktemp("spark_split")
    cut = len(lines) * 3 // 5
    valid = [line for line in lines[:cut] if _is_event(line)]
    repeats = valid[100:104]
    changed = orjson.loads(valid[200])
    changed["element"] = "changed-in-second-file"
    first, second = folder / "part-1.jsonl", folder / "part-2.jsonl"
    first.write_bytes(b"\n".join(lines[:cut]) + b"\n")
    second.write_bytes(b"\n".join([*lines[cut:], *repeats, orjson.dumps(changed)]) + b"\n")
    return [str(first), str(second)]


def _is_event(line: bytes) -> bool:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and bool(record.get("event_id")) and bool(record.get("ts"))


def _duckdb_table(database: Path, table: str) -> pd.DataFrame:
    with db.connect(database, read_only=True) as con:
        return con.execute(f'SELECT * FROM "{table}"').df()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    scalar = [c for c in frame.columns if not frame[c].map(_is_list).any()]
    return frame.sort_values(scalar, na_position="first", kind="stable").reset_index(drop=True)


def _is_list(value: object) -> bool:
    return isinstance(value, list | np.ndarray)


def _same_value(left: object, right: object) -> bool:
    if _missing(left) or _missing(right):
        return _missing(left) and _missing(right)
    if _is_list(left) or _is_list(right):
        return list(left) == list(right)  # type: ignore[arg-type]
    if isinstance(left, float | np.floating) or isinstance(right, float | np.floating):
        return math.isclose(float(left), float(right), rel_tol=REL_TOL, abs_tol=1e-12)
    return pd.Timestamp(left) == pd.Timestamp(right) if _is_time(left) else left == right


def _missing(value: object) -> bool:
    return value is None or (not _is_list(value) and bool(pd.isna(value)))


def _is_time(value: object) -> bool:
    return isinstance(value, datetime | date | pd.Timestamp | np.datetime64)


def assert_same_table(expected: pd.DataFrame, actual: pd.DataFrame, table: str) -> None:
    """Same columns in the same order, same rows; floats within ``REL_TOL`` relative."""
    assert list(actual.columns) == list(expected.columns), table
    assert len(actual) == len(expected), table
    left, right = _sorted(expected), _sorted(actual)
    for column in expected.columns:
        mismatches = [
            i
            for i, (a, b) in enumerate(zip(left[column], right[column], strict=True))
            if not _same_value(a, b)
        ]
        assert not mismatches, (
            f"{table}.{column}: {len(mismatches)} rows differ, first: "
            f"{left[column][mismatches[0]]!r} vs {right[column][mismatches[0]]!r}"
        )


MODELS = list(load_models(external_tables=["raw_events", "session_bot_flags"]))
COMPARED_TABLES = ("staged_events", "session_bot_flags", *MODELS, "session_segments")


def test_spark_engine_gives_the_duckdb_engines_tables(
    split_events: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One test (so one JVM under pytest-xdist, which spreads tests of a module over workers)."""
    database = tmp_path_factory.mktemp("spark_parity_duckdb") / "reference.duckdb"
    reference = run_duckdb_reference(database, split_events, ingest_settings=INGEST)
    warehouse = tmp_path_factory.mktemp("spark_parity_warehouse")
    settings = local_settings(warehouse)
    spark = build_spark_session(settings)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        summary = run_spark_pipeline(
            spark, settings, split_events, ingest_settings=INGEST, model=reference.model
        )
        differing = []
        for table in COMPARED_TABLES:
            try:
                assert_same_table(
                    _duckdb_table(database, table), spark.table(table).toPandas(), table
                )
            except AssertionError as exc:
                differing.append(str(exc) or table)
        assert not differing, "\n".join(differing)
        check_segments(database, reference, spark, summary)
        check_quarantine_and_reconciliation(database, reference, spark, summary)
    finally:
        spark.stop()
    check_partitioning(warehouse)


def check_segments(database: Path, reference, spark, summary: SparkRunSummary) -> None:
    """Same model → the same segment id for every session (and a real clustering)."""
    features = spark.table("session_features").toPandas()
    assert len(features) == reference.table_rows["session_features"] > 300
    segments = spark.table("session_segments").toPandas().set_index("session_id")
    expected = _duckdb_table(database, "session_segments").set_index("session_id")
    assert segments.loc[expected.index, "segment_id"].tolist() == expected["segment_id"].tolist()
    assert summary.model is reference.model
    assert expected["segment_id"].nunique() >= 2


def check_quarantine_and_reconciliation(
    database: Path, reference, spark, summary: SparkRunSummary
) -> None:
    """Same counts per file and reason; every quarantined line with the same reason and detail;
    raw_line too except for a cross-file conflicting duplicate (documented difference)."""
    report = summary.ingest
    assert report is not None and report.reconciles
    assert report.lines_read == reference.ingest.lines_read
    assert report.landed == reference.ingest.landed
    assert report.duplicates == reference.ingest.duplicates >= 4
    assert report.quarantined_by_reason == reference.ingest.quarantined_by_reason
    assert report.quarantined_by_reason.get("conflicting_duplicate", 0) >= 1
    assert report.by_file == reference.ingest.by_file
    assert report.formats == reference.ingest.formats
    key = ["source_file", "source_line", "source_format", "reason", "detail"]
    expected = _duckdb_table(database, "quarantined_events")
    actual = spark.table("quarantined_events").toPandas()
    assert_same_table(expected[key], actual[key], "quarantined_events")
    same_text = expected["reason"] != "conflicting_duplicate"
    merged = expected[same_text].merge(actual, on=key, suffixes=("", "_spark"))
    assert len(merged) == int(same_text.sum())
    assert (merged["raw_line"] == merged["raw_line_spark"]).all()


def check_partitioning(warehouse: Path) -> None:
    """Tables are Parquet folders, partitioned by their day column when they have one."""
    days = sorted(p.name for p in (warehouse / "session_features").glob("session_date=*"))
    assert len(days) >= 5 and days[0].startswith("session_date=2026-01-0")
    assert list((warehouse / "raw_events").glob("event_date=*/*.parquet"))
    assert list((warehouse / "identity_map").glob("*.parquet"))  # no date: unpartitioned
