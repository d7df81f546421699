"""Report charts: Vega-Lite specs built with Altair, rendered offline to inline SVG."""

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from signal_pipeline.report.data import PROFILE_FEATURES
from signal_pipeline.segments.projection import projection

WIDTH = 640


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to an SVG string without any network access."""
    return vl_convert.vegalite_to_svg(chart.to_json())


def segment_sizes(profiles: pd.DataFrame) -> alt.Chart:
    """Sessions per segment, as horizontal bars."""
    return (
        alt.Chart(profiles, title="Sessions per segment")
        .mark_bar()
        .encode(
            x=alt.X("sessions:Q", title="sessions"),
            y=alt.Y("segment_name:N", sort="-x", title=None),
            color=alt.Color("segment_name:N", legend=None),
            tooltip=["segment_name", "sessions", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=WIDTH, height=max(80, 26 * len(profiles)))
    )


def segment_scatter(scatter: pd.DataFrame) -> alt.Chart:
    """Sessions in a 2-D projection of their features, coloured by segment."""
    features = [c for c in PROFILE_FEATURES if c in scatter.columns]
    points = projection(scatter, features)
    return (
        alt.Chart(
            points,
            title=f"Sessions by segment (PCA of {len(features)} features, {len(points)} sampled)",
        )
        .mark_circle(size=14, opacity=0.6)
        .encode(
            x=alt.X("pc1:Q", title="component 1"),
            y=alt.Y("pc2:Q", title="component 2"),
            color=alt.Color("segment_name:N", title="segment"),
        )
        .properties(width=WIDTH, height=380)
    )


def profile_heatmap(feature_means: pd.DataFrame) -> alt.Chart:
    """Segment × feature heatmap of standardized segment means (how each segment differs)."""
    features = [c for c in PROFILE_FEATURES if c in feature_means.columns]
    long = feature_means.melt(
        id_vars=["segment_id", "segment_name"],
        value_vars=features,
        var_name="feature",
        value_name="mean",
    )
    grouped = long.groupby("feature")["mean"]
    spread = grouped.transform("std").replace(0, np.nan)
    long["z"] = ((long["mean"] - grouped.transform("mean")) / spread).fillna(0.0)
    return (
        alt.Chart(long, title="Feature profile per segment (z-score of the segment mean)")
        .mark_rect()
        .encode(
            x=alt.X("feature:N", title=None, sort=features),
            y=alt.Y("segment_name:N", title=None),
            color=alt.Color(
                "z:Q", scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True), title="z"
            ),
            tooltip=["segment_name", "feature", alt.Tooltip("mean:Q", format=".3g")],
        )
        .properties(width=WIDTH, height=max(80, 30 * feature_means["segment_id"].nunique()))
    )


def bot_reason_bars(bot_reasons: pd.DataFrame) -> alt.Chart:
    """Sessions flagged per bot rule."""
    return (
        alt.Chart(bot_reasons, title="Bot sessions per rule")
        .mark_bar(color="#b45309")
        .encode(x=alt.X("sessions:Q"), y=alt.Y("reason:N", sort="-x", title=None))
        .properties(width=WIDTH, height=max(60, 26 * len(bot_reasons)))
    )


def drift_lines(drift: pd.DataFrame, h: float) -> alt.FacetChart:
    """CUSUM (upper and lower) per signal over time, with the decision interval h."""
    long = drift.melt(
        id_vars=["day", "signal"],
        value_vars=["cusum_pos", "cusum_neg"],
        var_name="side",
        value_name="cusum",
    )
    long["h"] = h
    base = alt.Chart().encode(x=alt.X("day:T", title=None))
    lines = base.mark_line(point=True).encode(
        y=alt.Y("cusum:Q", title="CUSUM (σ)"), color=alt.Color("side:N")
    )
    rule = base.mark_rule(color="crimson", strokeDash=[4, 4]).encode(y="h:Q")
    return (
        alt.layer(lines, rule, data=long)
        .properties(width=WIDTH // 2 - 20, height=140)
        .facet(facet="signal:N", columns=2, title="Drift: CUSUM per signal (dashed: h)")
    )


def lift_forest(lift: pd.DataFrame) -> alt.LayerChart:
    """Forest plot: absolute lift per segment and metric, raw and stratified, with 95 % CIs."""
    rows = lift[lift["abs_lift"].notna()]
    long = pd.concat(
        [
            rows.assign(
                estimate="raw",
                lift=rows["abs_lift"],
                low=rows["abs_lift_ci_low"],
                high=rows["abs_lift_ci_high"],
            ),
            rows.assign(
                estimate="stratified (MH)",
                lift=rows["adjusted_abs_lift"],
                low=rows["adjusted_ci_low"],
                high=rows["adjusted_ci_high"],
            ),
        ]
    )[["segment_name", "metric", "treatment_variant", "estimate", "lift", "low", "high"]]
    long = long[long["lift"].notna()]
    base = alt.Chart().encode(
        y=alt.Y("segment_name:N", title=None),
        yOffset=alt.YOffset("estimate:N"),
        color=alt.Color("estimate:N", title=None),
    )
    bars = base.mark_rule().encode(
        x=alt.X("low:Q", title="absolute lift (treatment − control)", axis=alt.Axis(format="+.0%")),
        x2="high:Q",
    )
    points = base.mark_point(filled=True).encode(
        x="lift:Q",
        tooltip=["segment_name", "metric", "estimate", alt.Tooltip("lift:Q", format="+.1%")],
    )
    zero = alt.Chart().mark_rule(color="black").encode(x=alt.datum(0.0))
    return (
        alt.layer(bars, points, zero, data=long)
        .properties(width=WIDTH - 160, height=max(80, 40 * long["segment_name"].nunique()))
        .facet(row=alt.Row("metric:N", title=None), title="A/B lift per segment (95 % CI)")
    )  # type: ignore[return-value]
