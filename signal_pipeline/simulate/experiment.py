"""A planted A/B test with a known effect, a confounding campaign and a treatment start date.

Off unless `simulate(..., experiment=ExperimentDesign())`. Then every human session clicks a CTA
at most once, with a planted session-level chance:

    chance = desktop_rate[persona] × (mobile_cta_factor on phones and tablets)
             + cta_lift   if persona = treated_persona, arm = treatment, day ≥ start_day

so the treatment lifts the share of sessions with a CTA click by exactly `cta_lift` for the
treated (high-intent) persona, in every device and campaign stratum, and only from the start day
(before it the treatment arm sees the control experience: the before/after check). Nothing else
changes conversion or behaviour.

The confound: from the start day a campaign (`EXPERIMENT_CAMPAIGN`) brings `campaign_share` of
human sessions, mostly on phones (lower CTA chance), and its links land `campaign_treatment_share`
of them in the treatment arm. The raw treatment-vs-control comparison therefore mixes the device
shift into the lift (biased down); stratifying by device type and campaign removes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from signal_pipeline.simulate import ids
from signal_pipeline.simulate.catalog import CAMPAIGNS, EXPERIMENT, EXPERIMENT_CAMPAIGN, VARIANTS
from signal_pipeline.simulate.personas import DEVICE_TYPES, HUMAN_PERSONAS, persona_ids
from signal_pipeline.simulate.population import SessionPlan, user_agent_table

EXPERIMENT_FILE = "experiment.json"
MAX_SESSION_CTA_RATE = 0.9
CONTROL_VARIANT, TREATMENT_VARIANT = VARIANTS[0], VARIANTS[1]


@dataclass(frozen=True)
class ExperimentDesign:
    """What is planted (every figure is what the lift analysis should recover)."""

    treated_persona: str = "deep_comparer"
    """The high-intent persona (highest conversion and CTA rate) that the treatment moves."""
    cta_lift: float = 0.12
    """Absolute rise of the chance that a treated session clicks a CTA."""
    start_day: int | None = None
    """Day index from which the treatment works (None: the middle day)."""
    enrolment_share: float = 0.9
    """Share of (non-campaign) human sessions in the experiment, split evenly between arms."""
    mobile_cta_factor: float = 0.35
    """CTA chance on phones and tablets relative to desktop."""
    campaign_share: float = 0.5
    """Share of human sessions from the start day that come from the campaign."""
    campaign_mobile_share: float = 0.95
    """Share of campaign sessions on a handheld device."""
    campaign_treatment_share: float = 0.9
    """Share of campaign sessions that land in the treatment arm."""

    def __post_init__(self) -> None:
        if self.treated_persona not in persona_ids():
            raise ValueError(f"unknown persona {self.treated_persona!r}")
        shares = (
            self.enrolment_share,
            self.mobile_cta_factor,
            self.campaign_share,
            self.campaign_mobile_share,
            self.campaign_treatment_share,
        )
        if not all(0.0 <= s <= 1.0 for s in shares):
            raise ValueError("shares and factors must be in [0, 1]")
        if not 0.0 <= self.cta_lift <= 1.0 - max(desktop_cta_rates().values()):
            raise ValueError("cta_lift must keep every CTA chance within [0, 1]")


def desktop_cta_rates() -> dict[str, float]:
    """Per persona: the desktop chance that a session clicks a CTA (about the persona's CTR ×
    its mean page count, so the per-page CTR is roughly kept)."""
    return {
        p.persona_id: min(MAX_SESSION_CTA_RATE, p.cta_ctr * (p.min_pages + p.max_pages) / 2)
        for p in HUMAN_PERSONAS
    }


def _handheld_agents() -> np.ndarray:
    _, devices = user_agent_table()
    return np.flatnonzero(np.array(devices) != "desktop")


def plant_experiment(
    rng: np.random.Generator,
    plan: SessionPlan,
    design: ExperimentDesign,
    *,
    days: int,
    start: dt.date,
) -> tuple[SessionPlan, dict[str, object]]:
    """The plan with the experiment planted, and its ground truth (for experiment.json)."""
    start_day = days // 2 if design.start_day is None else design.start_day
    if not 1 <= start_day < days:
        raise ValueError(f"start_day must be in [1, {days - 1}] to have days before and after")
    sessions = len(plan)
    human = ~plan.is_bot
    post = plan.day >= start_day

    campaign = plan.campaign.copy()
    from_campaign = human & post & (rng.random(sessions) < design.campaign_share)
    campaign[from_campaign] = CAMPAIGNS.index(EXPERIMENT_CAMPAIGN)

    # Campaign visitors arrive on a handheld: a new device (new anonymous id and browser).
    _, agent_devices = user_agent_table()
    desktop = DEVICE_TYPES.index("desktop")
    switch = from_campaign & (plan.device_type == desktop)
    switch &= rng.random(sessions) < design.campaign_mobile_share
    count = int(switch.sum())
    handheld = _handheld_agents()
    user_agent = plan.user_agent.copy()
    user_agent[switch] = handheld[rng.integers(0, len(handheld), size=count)]
    device_type = plan.device_type.copy()
    device_type[switch] = [DEVICE_TYPES.index(agent_devices[a]) for a in user_agent[switch]]
    device = plan.device.copy()
    device[switch] = int(plan.device.max()) + 1 + np.arange(count)
    anonymous_id = plan.anonymous_id.copy()
    anonymous_id[switch] = np.array(ids.uuid4_strings(rng, count), dtype=object)

    treatment = VARIANTS.index(TREATMENT_VARIANT)
    control = VARIANTS.index(CONTROL_VARIANT)
    enrolled = rng.random(sessions) < design.enrolment_share
    arm = rng.integers(0, 2, size=sessions)
    variant = plan.variant.copy()
    variant[human] = np.where(enrolled, arm, -1)[human]
    routed = rng.random(sessions) < design.campaign_treatment_share
    variant[from_campaign] = np.where(routed, treatment, control)[from_campaign]

    names = persona_ids()
    desktop_rate = np.array([desktop_cta_rates()[n] for n in names])
    treated_code = names.index(design.treated_persona)
    on_handheld = device_type != desktop
    rate = desktop_rate[plan.behaviour] * np.where(on_handheld, design.mobile_cta_factor, 1.0)
    lifted = human & post & (variant == treatment) & (plan.behaviour == treated_code)
    rate = rate + design.cta_lift * lifted
    cta_session_rate = np.where(human, rate, np.nan)

    planted = dataclasses.replace(
        plan,
        campaign=campaign.astype(np.int8),
        user_agent=user_agent.astype(np.int16),
        device_type=device_type.astype(np.int8),
        device=device,
        anonymous_id=anonymous_id,
        variant=variant.astype(np.int8),
        cta_session_rate=cta_session_rate,
    )
    in_campaign = int(from_campaign.sum())
    truth: dict[str, object] = {
        "experiment": EXPERIMENT,
        "control_variant": CONTROL_VARIANT,
        "treatment_variant": TREATMENT_VARIANT,
        "metric": "share of sessions with at least one CTA click",
        "treated_persona": design.treated_persona,
        "cta_lift": design.cta_lift,
        "start_day": start_day,
        "treatment_start": (start + dt.timedelta(days=start_day)).isoformat(),
        "desktop_cta_rate": dict(zip(names, desktop_rate.tolist(), strict=True)),
        "mobile_cta_factor": design.mobile_cta_factor,
        "enrolment_share": design.enrolment_share,
        "campaign": EXPERIMENT_CAMPAIGN,
        "campaign_sessions": in_campaign,
        "campaign_handheld_share": float(on_handheld[from_campaign].mean()) if in_campaign else 0,
        "campaign_treatment_share": (
            float((variant[from_campaign] == treatment).mean()) if in_campaign else 0.0
        ),
        "lifted_sessions": int(lifted.sum()),
    }
    return planted, truth
