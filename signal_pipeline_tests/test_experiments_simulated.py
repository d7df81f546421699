"""On the simulator's planted experiment (2 seeds), through the whole pipeline: the lift of the
high-intent segment is recovered, nothing else is significant after BH, and stratifying by
device and campaign removes the campaign confound that the raw estimate shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from signal_pipeline.cli import main
from signal_pipeline.db import open_db
from signal_pipeline.pipeline import run_pipeline
from signal_pipeline.simulate import ExperimentDesign, simulate

SEEDS = (1, 2)


@dataclass
class Planted:
    folder: Path
    database: Path
    truth: dict
    segment_persona_share: pd.Series
    """Per segment_id: share of the treated persona among its post-start treatment sessions."""


@pytest.fixture(scope="module", params=SEEDS)
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Planted:
    out = tmp_path_factory.mktemp(f"lift_seed{request.param}")
    simulate(out, sessions=6000, days=8, seed=request.param, experiment=ExperimentDesign())
    database = out / "signal.duckdb"
    run_pipeline([str(out / "events.jsonl")], database, out / "models")
    truth = json.loads((out / "experiment.json").read_text())
    labels = pd.read_csv(out / "labels.csv")
    with open_db(database, read_only=True) as con:
        sessions = con.execute(
            "SELECT s.session_id, s.segment_id, f.variant, f.session_date "
            "FROM session_segments s JOIN session_features f USING (session_id)"
        ).df()
    sessions = sessions.merge(labels[["session_id", "persona"]], on="session_id")
    after = pd.to_datetime(sessions["session_date"]) >= pd.Timestamp(truth["treatment_start"])
    treated_arm = sessions[after & (sessions["variant"] == truth["treatment_variant"])]
    share = (
        (treated_arm["persona"] == truth["treated_persona"])
        .groupby(treated_arm["segment_id"])
        .mean()
    )
    return Planted(out, database, truth, share)


def lift_json(planted: Planted) -> pd.DataFrame:
    """The lift table through the CLI, with the planted treatment start."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(
            ["lift", "--db", str(planted.database), "--json",
             "--treatment-start", planted.truth["treatment_start"]]
        )  # fmt: skip
    assert code == 0
    return pd.DataFrame(json.loads(buffer.getvalue()))


def test_the_pipeline_materializes_the_lift_table_and_the_report_shows_it(planted: Planted):
    with open_db(planted.database, read_only=True) as con:
        table = con.execute("SELECT * FROM segment_experiment_lift").df()
    assert set(table["metric"]) == {"cta_click_through", "conversion"}
    assert table["is_overall"].sum() == 2 and len(table) > 4
    assert (table["experiment"] == planted.truth["experiment"]).all()
    assert (table["control_variant"] == planted.truth["control_variant"]).all()
    page = (planted.database.parent / "reports" / "segment_report.html").read_text()
    assert 'id="lift-table"' in page and "stratified lift" in page


def test_planted_lift_is_recovered_in_the_high_intent_segment_only(planted: Planted) -> None:
    table = lift_json(planted)
    cta = table[(table["metric"] == "cta_click_through") & ~table["is_overall"]]
    cta = cta.assign(share=cta["segment_id"].map(planted.segment_persona_share).fillna(0.0))
    target = cta.loc[cta["share"].idxmax()]
    assert target["share"] > 0.9
    expected = planted.truth["cta_lift"] * target["share"]
    assert target["adjusted_ci_low"] <= expected <= target["adjusted_ci_high"]
    assert target["significant"] and target["q_value"] < 0.05
    # Counterfactual: no difference before the start, a rise after it, against control.
    assert target["pre_period_ci_low"] <= 0.0 <= target["pre_period_ci_high"]
    assert target["did_adjusted_ci_low"] > 0.0
    assert target["did_adjusted_ci_low"] <= expected <= target["did_adjusted_ci_high"]
    assert target["counterfactual"] == "rose only after the start"
    # Segments without the treated persona: nothing significant after Benjamini–Hochberg.
    others = cta[cta["share"] < 0.05]
    assert len(others) >= 2
    assert not others["significant"].astype(bool).any(), others[["segment_name", "q_value"]]


def test_stratification_removes_the_campaign_confound(planted: Planted) -> None:
    table = lift_json(planted)
    cta = table[(table["metric"] == "cta_click_through") & ~table["is_overall"]]
    share = cta["segment_id"].map(planted.segment_persona_share).fillna(0.0)
    target = cta.loc[share.idxmax()]
    expected = planted.truth["cta_lift"] * share.max()
    # The campaign sends mostly phones (lower CTA chance) into the treatment arm: the raw
    # estimate is pulled down, its interval misses the planted lift; the stratified one covers it.
    assert target["abs_lift_ci_high"] < expected
    assert target["adjusted_ci_low"] <= expected <= target["adjusted_ci_high"]
    assert target["confound_shift"] > 0.04
    # Over all sessions the raw estimate is biased the same way.
    overall = table[(table["metric"] == "cta_click_through") & table["is_overall"]].iloc[0]
    assert overall["confound_shift"] > 0.02


def test_asset_with_config_writes_metadata_and_forest_plot(planted: Planted, tmp_path: Path):
    from signal_pipeline.defs.experiments.assets import segment_experiment_lift
    from signal_pipeline.resources import WarehouseResource

    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(planted.database.read_bytes())
    result = dg.materialize(
        [segment_experiment_lift],
        resources={"duckdb": WarehouseResource(database=str(copy))},
        run_config={
            "ops": {
                "segment_experiment_lift": {
                    "config": {"treatment_start": planted.truth["treatment_start"]}
                }
            }
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    metadata = result.asset_materializations_for_node("segment_experiment_lift")[0].metadata
    assert metadata["forest_plot"].value.startswith("![lift forest plot](data:image/png;base64,")
    assert "stratified lift" in metadata["lift_table"].value
    significant = metadata["significant_segments"].value
    assert any("cta_click_through" in s for s in significant)
    bad = dg.materialize(
        [segment_experiment_lift],
        resources={"duckdb": WarehouseResource(database=str(copy))},
        run_config={"ops": {"segment_experiment_lift": {"config": {"control_variant": "nope"}}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not bad.success
