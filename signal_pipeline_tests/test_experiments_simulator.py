"""The simulator's planted experiment, read back from its files (no pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from signal_pipeline.simulate import ExperimentDesign, simulate
from signal_pipeline.simulate.experiment import desktop_cta_rates


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim_experiment")
    simulate(out, sessions=5000, days=6, seed=7, experiment=ExperimentDesign(start_day=3))
    return out


def sessions_of(folder: Path) -> pd.DataFrame:
    """Per session: variant, device, campaign, whether it clicked a CTA, persona, day."""
    events = pd.read_json(folder / "events.jsonl", lines=True, convert_dates=False)
    per = events.groupby("session_id").agg(
        variant=("variant", "first"),
        device_type=("device_type", "first"),
        campaign=("campaign", "first"),
        cta=("event_type", lambda t: int((t == "cta_click").sum())),
    )
    labels = pd.read_csv(folder / "labels.csv").set_index("session_id")
    return per.join(labels[["persona", "is_bot", "day"]])


def test_experiment_truth_and_planted_rates(folder: Path) -> None:
    truth = json.loads((folder / "experiment.json").read_text())
    assert truth["treatment_start"] == "2026-01-04" and truth["start_day"] == 3
    table = sessions_of(folder)
    humans = table[~table["is_bot"]]
    assert humans["cta"].max() == 1  # at most one CTA click per session
    after = pd.to_datetime(humans["day"]) >= pd.Timestamp(truth["treatment_start"])
    campaign = humans["campaign"] == truth["campaign"]
    assert not (campaign & ~after).any() and campaign[after].mean() == pytest.approx(0.5, abs=0.05)
    assert (humans.loc[campaign, "device_type"] != "desktop").mean() > 0.9
    assert (humans.loc[campaign, "variant"] == "stacked_plans").mean() == pytest.approx(
        0.9, abs=0.04
    )
    # Every session's planted CTA chance, from the truth file alone.
    handheld = humans["device_type"] != "desktop"
    chance = humans["persona"].map(truth["desktop_cta_rate"]) * handheld.map(
        {True: truth["mobile_cta_factor"], False: 1.0}
    )
    lifted = after & (humans["variant"] == "stacked_plans")
    lifted &= humans["persona"] == truth["treated_persona"]
    chance = chance + truth["cta_lift"] * lifted
    assert truth["desktop_cta_rate"] == pytest.approx(desktop_cta_rates())
    # Observed click-through matches the planted chance in every persona × arm × period group
    # (within 3 binomial standard errors), so the lift exists only where it was planted.
    frame = humans.assign(chance=chance, after=after, arm=humans["variant"].fillna("none"))
    for key, group in frame.groupby(["persona", "arm", "after"]):
        se = (group["chance"] * (1 - group["chance"])).sum() ** 0.5 / len(group)
        assert abs(group["cta"].mean() - group["chance"].mean()) <= 3 * se + 1e-9, key
    assert lifted.sum() == truth["lifted_sessions"] > 0


def test_no_experiment_file_without_a_design(tmp_path: Path) -> None:
    (tmp_path / "experiment.json").write_text("{}")  # a stale truth from an earlier run
    summary = simulate(tmp_path, sessions=200, days=2, seed=1)
    assert not (tmp_path / "experiment.json").exists() and "experiment" not in summary.files
    with pytest.raises(ValueError, match="start_day"):
        simulate(tmp_path, sessions=200, days=2, seed=1, experiment=ExperimentDesign(start_day=5))
    with pytest.raises(ValueError, match="persona"):
        ExperimentDesign(treated_persona="nobody")
