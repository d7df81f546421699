"""The Spark ingest task without Spark: a local file copied from disk and the same file's bytes
shipped by Spark (remote storage) land the same rows, quarantine and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from signal_pipeline.ingest import IngestSettings
from signal_pipeline.spark.ingest import ingest_one_file, is_local_path


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("/data/events.jsonl", True),
        ("data/*.jsonl", True),
        ("file:///data/events.jsonl", True),
        ("C://exports/events.jsonl", True),
        ("s3a://bucket/events/", False),
        ("hdfs://name-node/events", False),
        ("abfss://c@account.dfs.core.windows.net/e", False),
    ],
)
def test_local_paths_are_told_from_remote_uris(path: str, local: bool) -> None:
    assert is_local_path(path) is local


def test_a_local_file_and_its_shipped_bytes_land_the_same(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "event_id": f"e{i}",
                "ts": f"2026-01-0{1 + i % 3}T10:00:0{i % 10}Z",
                "event_type": "page_view",
                "anonymous_id": f"a{i % 4}",
                "page_url": "https://shop.example/pricing",
            }
        )
        for i in range(40)
    ]
    lines += ["{not json", json.dumps({"event_type": "click"}), lines[0]]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    uri = source.resolve().as_uri()
    settings = IngestSettings(now=None)

    from_disk = ingest_one_file(uri, None, settings)
    shipped = ingest_one_file(uri, source.read_bytes(), settings)

    assert from_disk.equals(shipped)
    kinds = from_disk.column("_kind").to_pylist()
    assert kinds.count("staged") == 40
    assert kinds.count("quarantined") == 2
    file_row = from_disk.filter(pc.equal(from_disk["_kind"], "file"))
    assert file_row.column("lines_read").to_pylist() == [43]
    assert file_row.column("duplicates").to_pylist() == [1]
    quarantined = from_disk.filter(pc.equal(from_disk["_kind"], "quarantined"))
    assert set(quarantined.column("source_file").to_pylist()) == {str(source.resolve())}
    assert sorted(quarantined.column("source_line").to_pylist()) == [41, 42]
