"""Segments: fit the cluster model, assign every validated session, profile the segments."""

import dataclasses
import hashlib
import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
from pydantic import Field

from signal_pipeline.charts import figure_png, new_figure, png_markdown
from signal_pipeline.drift.signals import baseline_statistics, daily_signals
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import ArtifactStoreResource, WarehouseResource
from signal_pipeline.segments import (
    ClusterConfig,
    ClusterModel,
    assign_sessions,
    fit_cluster_model,
    membership_churn,
    profile_segments,
    silhouette_on_sample,
)
from signal_pipeline.segments.config import DEFAULT_FEATURES, DEFAULT_LOG_TRANSFORM
from signal_pipeline.segments.eps_tuning import KDistanceCurve
from signal_pipeline.segments.registry import latest_model, register_model

SEGMENT_COLUMNS = [
    "session_id",
    "segment_id",
    "segment_name",
    "cluster_version",
    "is_noise",
    "noise_reason",
]


class ClusterModelConfig(dg.Config):
    """Clustering parameters (defaults: DBSCAN with eps tuned at the k-distance knee)."""

    algorithm: str = Field(default="dbscan", description="dbscan | hdbscan")
    eps: float | None = Field(
        default=None, description="DBSCAN radius in scaled units; empty = auto (k-distance knee)."
    )
    min_samples: int = Field(default=10, description="Core-point neighbourhood size.")
    min_cluster_size: int = Field(default=50, description="HDBSCAN smallest cluster.")
    scaling: str = Field(default="robust", description="standard | robust | minmax")
    features: list[str] = Field(
        default=list(DEFAULT_FEATURES), description="session_features columns to cluster on."
    )
    log_transform: list[str] = Field(
        default=list(DEFAULT_LOG_TRANSFORM),
        description="Heavy-tailed features to log1p before scaling.",
    )
    max_fit_sessions: int = Field(
        default=50_000,
        description="Above this, fit on a stratified sample and assign the rest to nearest cores.",
    )
    window_days: int | None = Field(
        default=None,
        description="Fit on the last N days of sessions only (empty = every session).",
    )
    random_state: int = Field(default=0, description="Seed for sampling.")

    def to_cluster_config(self) -> ClusterConfig:
        """The library's configuration object (validates the values)."""
        return ClusterConfig(
            algorithm=self.algorithm,
            features=tuple(self.features),
            scaling=self.scaling,
            log_transform=tuple(f for f in self.log_transform if f in self.features),
            eps=self.eps,
            min_samples=self.min_samples,
            min_cluster_size=self.min_cluster_size,
            max_fit_sessions=self.max_fit_sessions,
            random_state=self.random_state,
        )


def read_features(
    con: duckdb.DuckDBPyConnection, window_days: int | None
) -> tuple[pd.DataFrame, tuple[date, date] | None]:
    """session_features (optionally the last ``window_days`` days), ordered by session_id."""
    last = con.execute("SELECT max(session_date) FROM session_features").fetchone()
    last_day = last[0] if last else None
    first_day = last_day - timedelta(days=window_days - 1) if last_day and window_days else None
    frame = con.execute(
        "SELECT * FROM session_features WHERE CAST(? AS DATE) IS NULL OR session_date >= ? "
        "ORDER BY session_id",
        [first_day, first_day],
    ).df()
    if frame.empty:
        return frame, None
    days = pd.to_datetime(frame["session_date"]).dt.date
    return frame, (min(days), max(days))


def fingerprint(frame: pd.DataFrame, config: ClusterConfig) -> str:
    """Hash of the fit input and configuration: the same input refits to the same version."""
    digest = hashlib.sha256()
    digest.update(json.dumps(dataclasses.asdict(config), sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def k_distance_chart(curve: KDistanceCurve) -> str:
    """The k-distance curve with the chosen knee, as markdown."""
    fig, ax = new_figure()
    ax.plot(np.linspace(0, 1, len(curve.distances)), curve.distances, lw=1.5)
    ax.axhline(curve.knee_eps, color="crimson", ls="--", label=f"eps = {curve.knee_eps:.3g}")
    ax.set_xlabel("sessions (sorted by k-distance)")
    ax.set_ylabel(f"distance to {curve.k}-th neighbour")
    ax.legend()
    return png_markdown(figure_png(fig), "k-distance curve")


@dg.asset(
    group_name="segments",
    deps=["session_features"],
    kinds={"sklearn", "duckdb"},
    owners=["team:data-science"],
    pool="duckdb",
)
def cluster_model(
    context: dg.AssetExecutionContext,
    config: ClusterModelConfig,
    duckdb: WarehouseResource,
    artifacts: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """The density-based cluster model of validated sessions' behaviour, persisted as a version.

    Fits DBSCAN (or HDBSCAN) on the scaled features (a stratified sample above
    `max_fit_sessions`), matches clusters to the previous version so segment ids stay stable,
    stores the drift baseline of the fit window, and writes the artifact plus a row in
    `cluster_model_versions`. The same input and config re-use the current version.
    """
    cluster_config = config.to_cluster_config()
    with duckdb.get_connection() as con:
        features, window = read_features(con, config.window_days)
        print_ = fingerprint(features, cluster_config)
        current = latest_model(con)
        if current is not None and current.fingerprint == print_ and current.artifact_path.exists():
            context.log.info("input unchanged: keeping cluster model v%d", current.version)
            return dg.MaterializeResult(
                metadata={
                    "version": dg.MetadataValue.int(current.version),
                    "refit": dg.MetadataValue.bool(False),
                    "artifact": dg.MetadataValue.path(str(current.artifact_path)),
                }
            )
        previous = current.load() if current is not None else None
        version = (current.version + 1) if current else 1
        result = fit_cluster_model(
            features, cluster_config, version=version, window=window, previous=previous
        )
        signals = daily_signals(con, first=window[0], last=window[1]) if window else None
        baseline = baseline_statistics(signals) if signals is not None else {}
        model = dataclasses.replace(result.model, baseline=baseline)
        path = artifacts.path / f"cluster_model_v{version:04d}.npz"
        model.save(path)
        churn = None
        if current is not None and not features.empty:
            prev_assign = assign_sessions(previous, features) if previous else None
            if prev_assign is not None:
                churn = membership_churn(prev_assign, result.assignments).churn
        noise = float(result.assignments["is_noise"].mean()) if len(result.assignments) else 0.0
        con.execute("BEGIN TRANSACTION")
        register_model(
            con,
            model,
            fingerprint=print_,
            artifact_path=path,
            noise_share=noise,
            membership_churn=churn,
        )
        con.execute("COMMIT")
    silhouette = (
        silhouette_on_sample(model, features, result.assignments) if model.n_clusters > 1 else None
    )
    for message in result.messages:
        context.log.info(message)
    metadata: dict[str, object] = {
        "version": dg.MetadataValue.int(version),
        "refit": dg.MetadataValue.bool(True),
        "clusters": dg.MetadataValue.int(model.n_clusters),
        "noise_share": dg.MetadataValue.float(noise),
        "eps": dg.MetadataValue.float(float(model.eps)),
        "fit_sessions": dg.MetadataValue.int(result.fit_rows),
        "sessions": dg.MetadataValue.int(len(features)),
        "artifact": dg.MetadataValue.path(str(path)),
        "messages": dg.MetadataValue.md("\n".join(f"- {m}" for m in result.messages) or "-"),
        "model": dg.MetadataValue.json(result.metadata() | {"k_distance": None}),
        "new_segment_ids": dg.MetadataValue.json(list(result.match.new_segment_ids)),
        "vanished_segment_ids": dg.MetadataValue.json(list(result.match.vanished_segment_ids)),
    }
    if silhouette is not None and np.isfinite(silhouette):
        metadata["silhouette_sample"] = dg.MetadataValue.float(float(silhouette))
    if churn is not None:
        metadata["membership_churn"] = dg.MetadataValue.float(float(churn))
    if result.k_distance is not None and len(result.k_distance.distances):
        metadata["k_distance_curve"] = dg.MetadataValue.md(k_distance_chart(result.k_distance))
    return dg.MaterializeResult(metadata=metadata)


def current_model(con: duckdb.DuckDBPyConnection) -> ClusterModel:
    """The newest persisted model (clear error before the first fit)."""
    registered = latest_model(con)
    if registered is None:
        raise RuntimeError("no cluster model yet: materialize cluster_model first")
    return registered.load()


@dg.asset(
    group_name="segments",
    deps=["cluster_model", "session_features"],
    kinds={"sklearn", "duckdb"},
    owners=["team:data-science"],
    pool="duckdb",
)
def session_segments(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Every validated session's segment under the current cluster model (noise included).

    Sessions are assigned to the cluster of their nearest core sample within `eps`, the same code
    path that scores new sessions later; the others are the `noise` segment, with a reason.
    """
    with duckdb.get_connection() as con:
        model = current_model(con)
        features = con.execute("SELECT * FROM session_features ORDER BY session_id").df()
        assigned = assign_sessions(model, features)
        assigned["cluster_version"] = model.version
        frame = assigned[SEGMENT_COLUMNS]
        con.register("segments_frame", frame)
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "CREATE OR REPLACE TABLE session_segments AS SELECT CAST(session_id AS VARCHAR) "
            "AS session_id, CAST(segment_id AS VARCHAR) AS segment_id, CAST(segment_name AS "
            "VARCHAR) AS segment_name, CAST(cluster_version AS INTEGER) AS cluster_version, "
            "CAST(is_noise AS BOOLEAN) AS is_noise, CAST(noise_reason AS VARCHAR) AS "
            "noise_reason FROM segments_frame"
        )
        con.execute("COMMIT")
        con.unregister("segments_frame")
        sizes = con.execute(
            "SELECT segment_id, any_value(segment_name), count(*) FROM session_segments "
            "GROUP BY 1 ORDER BY 3 DESC"
        ).fetchall()
        metadata = table_metadata(con, "session_segments")
    context.log.info("assigned %d sessions with model v%d", len(frame), model.version)
    metadata["cluster_version"] = dg.MetadataValue.int(model.version)
    metadata["segment_sizes"] = dg.MetadataValue.md(
        markdown_table(["segment_id", "segment_name", "sessions"], sizes)
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="segments",
    deps=["session_segments", "session_features"],
    kinds={"pandas", "duckdb"},
    owners=["team:data-science"],
    pool="duckdb",
)
def segment_profiles(duckdb: WarehouseResource) -> dg.MaterializeResult:
    """Named segment profiles: size, share, feature means and medians, conversion lift, flags.

    The reference shape: pattern (name), average dwell per page, scroll depth, CTA CTR,
    conversion versus the all-session average; plus urgency quartiles, device and campaign mix
    and the action flag (content reinforcement for high urgency, UX review for rapid bounces).
    """
    with duckdb.get_connection() as con:
        features = con.execute("SELECT * FROM session_features ORDER BY session_id").df()
        assignments = con.execute("SELECT * FROM session_segments ORDER BY session_id").df()
        profiles = profile_segments(features, assignments)
        con.register("profiles_frame", profiles)
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE OR REPLACE TABLE segment_profiles AS SELECT * FROM profiles_frame")
        con.execute("COMMIT")
        con.unregister("profiles_frame")
        table = con.execute(
            "SELECT segment_name, sessions, round(100 * share, 1), round(avg_dwell_per_page_s, 1),"
            " round(avg_scroll_depth_pct, 1), round(100 * cta_ctr, 2), round(conversion_lift, 2),"
            " action_flag FROM segment_profiles ORDER BY sessions DESC"
        ).fetchall()
        metadata = table_metadata(con, "segment_profiles")
    metadata["segment_table"] = dg.MetadataValue.md(
        markdown_table(
            [
                "pattern",
                "sessions",
                "share %",
                "avg dwell s",
                "scroll depth %",
                "CTA CTR %",
                "conversion vs avg",
                "action",
            ],
            table,
        )
    )
    return dg.MaterializeResult(metadata=metadata)
