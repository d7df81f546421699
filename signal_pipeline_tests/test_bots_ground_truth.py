"""Bot-detection quality against labels, and the bot-reason table and chart, on hand-made data."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signal_pipeline.bots.detect import reason_lists
from signal_pipeline.bots.ground_truth import (
    bot_detection_quality,
    match_sessions_to_labels,
    read_bot_labels,
)
from signal_pipeline.bots.reason_report import (
    reason_bars_markdown,
    reason_chart_markdown,
    reason_chart_png,
)
from signal_pipeline.bots.session_rules import reasons_from_flags

T0 = datetime(2026, 1, 1, 10, 0, 0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_labels(path: Path) -> Path:
    """Six labelled sessions: two humans, four bots of three kinds (simulator format)."""
    rows = [
        ("h1", "a1", "false", "", T0, T0 + timedelta(minutes=5)),
        ("h2", "a2", "false", "", T0, T0 + timedelta(minutes=5)),
        ("b1", "a3", "true", "crawler_ua", T0, T0 + timedelta(minutes=1)),
        ("b2", "a4", "true", "crawler_ua", T0, T0 + timedelta(minutes=1)),
        ("b3", "a5", "true", "rapid_clicker", T0, T0 + timedelta(minutes=1)),
        ("b4", "a6", "true", "short_session", T0, T0 + timedelta(seconds=5)),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "session_id",
            "anonymous_id",
            "is_bot",
            "bot_kind",
            "session_start",
            "session_end",
        ],
    )
    for column in ("session_start", "session_end"):
        frame[column] = frame[column].map(lambda t: t.isoformat(timespec="milliseconds") + "Z")
    path.write_text(frame.to_csv(index=False))
    return path


def flags(rows: list[tuple[str, bool, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["session_id", "is_bot", "bot_reasons"])


def test_read_bot_labels_parses_booleans_kinds_and_times(tmp_path: Path) -> None:
    labels = read_bot_labels(write_labels(tmp_path / "labels.csv"))
    assert labels["is_bot"].tolist() == [False, False, True, True, True, True]
    assert labels["bot_kind"].tolist()[:3] == ["", "", "crawler_ua"]
    assert labels["session_start"].iloc[0] == pd.Timestamp(T0)


def test_read_bot_labels_requires_session_id_and_is_bot(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("session_id,bot_kind\ns1,\n")
    with pytest.raises(ValueError, match="is_bot"):
        read_bot_labels(path)


def test_quality_counts_each_labelled_session_once(tmp_path: Path) -> None:
    labels = read_bot_labels(write_labels(tmp_path / "labels.csv"))
    quality = bot_detection_quality(
        flags(
            [
                ("h1", False, []),
                ("h2", True, ["short_session"]),  # a false positive
                ("b1", True, ["crawler_user_agent"]),
                ("b2", False, []),  # a missed crawler
                ("b3", True, ["rapid_clicks"]),
                ("b4", True, ["short_session"]),
                ("stranger", True, ["click_rate"]),  # no label: not counted
            ]
        ),
        labels,
    )
    assert (quality.true_positives, quality.false_positives) == (3, 1)
    assert (quality.false_negatives, quality.true_negatives) == (1, 1)
    assert quality.precision == pytest.approx(3 / 4)
    assert quality.recall == pytest.approx(3 / 4)
    assert quality.false_positive_rate == pytest.approx(1 / 2)
    assert quality.recall_by_kind == {"crawler_ua": 0.5, "rapid_clicker": 1.0, "short_session": 1.0}
    assert quality.bots_by_kind == {"crawler_ua": 2, "rapid_clicker": 1, "short_session": 1}
    assert quality.false_positive_reasons == {"short_session": 1}
    assert quality.unlabelled_sessions == 1
    assert quality.labels_without_session == 0
    assert "| crawler_ua | 2 | 0.5000 |" in quality.to_markdown()


def test_capped_parts_and_derived_ids_are_matched_to_their_label(tmp_path: Path) -> None:
    labels = read_bot_labels(write_labels(tmp_path / "labels.csv"))
    sessions = pd.DataFrame(
        {
            "session_id": ["h1#cap0", "h1#cap1", "md5-derived", "md5-late", "b3"],
            "anonymous_id": ["a1", "a1", "a4", "a4", "a5"],
            "session_start": [
                T0,
                T0 + timedelta(hours=25),
                T0 + timedelta(seconds=20),  # inside b2's labelled span
                T0 + timedelta(hours=2),  # after b2 ended: no label
                T0,
            ],
        }
    )
    matched = match_sessions_to_labels(sessions, labels)
    assert matched.iloc[:3].tolist() == ["h1", "h1", "b2"]
    assert pd.isna(matched.iloc[3])
    assert matched.iloc[4] == "b3"
    sessions["is_bot"] = [False, True, True, True, False]
    quality = bot_detection_quality(sessions, labels)
    # h1 counts once and is flagged because one of its parts is; b1 and b4 have no session
    assert quality.labelled_sessions == 3
    assert (quality.false_positives, quality.true_positives, quality.false_negatives) == (1, 1, 1)
    assert quality.labels_without_session == 3
    assert quality.unlabelled_sessions == 1


def test_empty_flags_give_neutral_rates(tmp_path: Path) -> None:
    labels = read_bot_labels(write_labels(tmp_path / "labels.csv"))
    quality = bot_detection_quality(flags([]), labels)
    assert quality.labelled_sessions == 0
    assert (quality.precision, quality.recall, quality.false_positive_rate) == (1.0, 1.0, 0.0)


def test_vectorised_reason_lists_match_the_per_row_definition() -> None:
    rng = np.random.default_rng(3)
    names = ["short_session", "click_rate", "rapid_clicks", "crawler_user_agent"]
    matrix = rng.random((500, len(names))) < 0.2
    expected = reasons_from_flags(pd.DataFrame(matrix, columns=names))
    assert reason_lists(matrix, names).tolist() == expected
    assert reason_lists(np.zeros((0, 2), dtype=bool), ["a", "b"]).tolist() == []


def test_reason_table_and_chart() -> None:
    counts = {"crawler_user_agent": 30, "rapid_clicks": 45, "short_session": 5}
    table = reason_bars_markdown(counts, 300)
    lines = table.splitlines()
    assert lines[2].startswith("| rapid_clicks | 45 | 15.0 %")  # most frequent first
    assert "crawler_user_agent | 30 | 10.0 %" in table
    markdown = reason_chart_markdown(counts, 300)
    assert markdown.startswith("![bot sessions by reason](data:image/png;base64,")
    payload = markdown.split("base64,", 1)[1].rstrip(")")
    assert base64.b64decode(payload).startswith(PNG_MAGIC)
    assert reason_chart_png({}, 0).startswith(PNG_MAGIC)  # no bots still renders
