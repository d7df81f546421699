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
from signal_pipeline.db import table_exists
from signal_pipeline.drift.signals import baseline_statistics, daily_signals
from signal_pipeline.metadata import markdown_table, table_metadata
from signal_pipeline.resources import ArtifactStoreResource, WarehouseResource
from signal_pipeline.segments import (
    ClusterConfig,
    ClusterModel,
    FitResult,
    assign_sessions,
    centroid_shift,
    fit_cluster_model,
    membership_churn,
    profile_segments,
    silhouette_on_sample,
)
from signal_pipeline.segments.assign import SEGMENT_COLUMNS
from signal_pipeline.segments.config import (
    DEFAULT_EPS_SCAN_FACTORS,
    DEFAULT_FEATURES,
    DEFAULT_LOG_TRANSFORM,
)
from signal_pipeline.segments.eps_tuning import KDistanceCurve
from signal_pipeline.segments.evaluation import RECOVERY_METRICS
from signal_pipeline.segments.persona_quality import persona_quality, read_persona_labels
from signal_pipeline.segments.projection import segment_scatter_markdown
from signal_pipeline.segments.registry import VersionChanges, latest_model, register_model
from signal_pipeline.segments.scaling import missing_feature_columns


class ClusterModelConfig(dg.Config):
    """Every clustering parameter (defaults: DBSCAN, eps scanned around the k-distance knee)."""

    algorithm: str = Field(default="dbscan", description="dbscan | hdbscan")
    eps: float | None = Field(
        default=None,
        description="DBSCAN radius in scaled units; empty = auto (k-distance knee, then a "
        "silhouette scan around it).",
    )
    min_samples: int = Field(default=10, description="Core-point neighbourhood size (weighted).")
    min_cluster_size: int = Field(default=50, description="HDBSCAN smallest cluster.")
    scaling: str = Field(default="robust", description="standard | robust | minmax")
    features: list[str] = Field(
        default=list(DEFAULT_FEATURES), description="session_features columns to cluster on."
    )
    log_transform: list[str] = Field(
        default=list(DEFAULT_LOG_TRANSFORM),
        description="Heavy-tailed features to sign·log1p before scaling.",
    )
    max_fit_sessions: int = Field(
        default=50_000,
        description="Above this, fit on a stratified sample and assign the rest to nearest cores.",
    )
    max_neighbor_pairs: int = Field(
        default=5_000_000,
        description="DBSCAN memory guard: largest eps-neighbourhood pair count (~12 bytes each); "
        "above it the fit sample shrinks.",
    )
    k_distance_max_queries: int = Field(
        default=20_000, description="Sessions sampled to draw the k-distance curve."
    )
    eps_scan_factors: list[float] = Field(
        default=list(DEFAULT_EPS_SCAN_FACTORS),
        description="Auto eps: knee × each factor is tried; best noise-penalised silhouette wins "
        "(empty list = the knee as is).",
    )
    eps_scan_sample: int = Field(
        default=2_000, description="Sessions the eps-scan silhouette is computed on."
    )
    match_cutoff: float = Field(
        default=1.0,
        description="Largest centroid distance (previous model's scaled units) at which a new "
        "cluster inherits a previous segment id.",
    )
    assign_chunk_size: int = Field(
        default=100_000, description="Sessions per nearest-core query chunk (bounds memory)."
    )
    n_jobs: int | None = Field(
        default=None, description="Threads for nearest-core assignment (empty = 1, -1 = all)."
    )
    window_days: int | None = Field(
        default=None,
        description="Fit on the last N days of sessions only (empty = every session).",
    )
    random_state: int = Field(default=0, description="Seed for sampling.")
    silhouette_sessions: int = Field(
        default=5_000, description="Sessions sampled for the reported silhouette."
    )
    labels_path: str | None = Field(
        default=None,
        description="Optional simulator labels.csv: report ARI and persona recovery in metadata.",
    )

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
            max_neighbor_pairs=self.max_neighbor_pairs,
            k_distance_max_queries=self.k_distance_max_queries,
            eps_scan_factors=tuple(self.eps_scan_factors),
            eps_scan_sample=self.eps_scan_sample,
            match_cutoff=self.match_cutoff,
            assign_chunk_size=self.assign_chunk_size,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )


class SegmentProfilesConfig(dg.Config):
    """Optional ground truth for the profiles' quality figures."""

    labels_path: str | None = Field(
        default=None,
        description="Optional simulator labels.csv: report ARI and persona recovery in metadata.",
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


def clustering_config(config: ClusterModelConfig) -> ClusterConfig:
    """The validated library config, or a run failure that says which value is wrong."""
    try:
        return config.to_cluster_config()
    except ValueError as error:
        raise dg.Failure(description=f"invalid cluster_model config: {error}") from error


def require_features_table(con: duckdb.DuckDBPyConnection) -> None:
    """Fail with a clear message when `session_features` has never been built."""
    if not table_exists(con, "session_features"):
        raise dg.Failure(
            description="session_features does not exist: materialize the features first"
        )


def version_changes(
    previous: ClusterModel | None,
    previous_version: int | None,
    model: ClusterModel,
    result_assignments: pd.DataFrame,
    features: pd.DataFrame,
    new_ids: tuple[str, ...],
    vanished_ids: tuple[str, ...],
) -> VersionChanges:
    """Churn (same sessions under both versions) and centroid shift since `previous`."""
    if previous is None:
        return VersionChanges(new_segment_ids=new_ids)
    shift = centroid_shift(previous, model)
    churn = membership_churn(assign_sessions(previous, features), result_assignments)
    return VersionChanges(
        previous_version=previous_version,
        new_segment_ids=new_ids,
        vanished_segment_ids=vanished_ids,
        centroid_shift={str(r.segment_id): float(r.centroid_shift) for r in shift.itertuples()},
        membership_churn=None if not np.isfinite(churn.churn) else float(churn.churn),
        sessions_in_both=churn.sessions_in_both,
        sessions_changed=churn.sessions_changed,
    )


def quality_metadata(
    labels_path: str | None, features: pd.DataFrame, assignments: pd.DataFrame
) -> dict[str, object]:
    """ARI and persona recovery against planted labels (empty without `labels_path`)."""
    if not labels_path:
        return {}
    try:
        labels = read_persona_labels(labels_path)
    except (OSError, ValueError) as error:
        raise dg.Failure(description=f"labels_path unusable: {error}") from error
    quality = persona_quality(features, assignments, labels)
    metadata: dict[str, object] = {
        "quality": dg.MetadataValue.json(quality.as_metadata()),
        "quality_human_sessions": dg.MetadataValue.int(quality.human_sessions),
    }
    if np.isfinite(quality.ari_humans):
        metadata["quality_ari_humans"] = dg.MetadataValue.float(quality.ari_humans)
    if np.isfinite(quality.max_rel_error):
        metadata["quality_max_rel_error"] = dg.MetadataValue.float(quality.max_rel_error)
    if len(quality.recovery):
        rows = [
            [
                r["persona"],
                r["best_segment_name"],
                round(r["jaccard"], 3),
                *(
                    "-" if not np.isfinite(r[f"rel_error_{m}"]) else f"{r[f'rel_error_{m}']:.1%}"
                    for m in RECOVERY_METRICS
                ),
            ]
            for r in quality.recovery.to_dict(orient="records")
        ]
        metadata["quality_recovery"] = dg.MetadataValue.md(
            markdown_table(
                ["persona", "best segment", "jaccard", *(f"err {m}" for m in RECOVERY_METRICS)],
                rows,
            )
        )
    return metadata


def eps_scan_table(result: FitResult) -> str:
    """The eps candidates tried around the knee, as markdown."""
    if result.eps_scan is None:
        return "-"
    chosen = result.eps_scan.chosen
    rows = [
        [
            f"{c.factor:g}",
            round(c.eps, 4),
            c.clusters,
            f"{c.noise_share:.1%}",
            round(c.score, 4),
            "chosen" if i == chosen else "",
        ]
        for i, c in enumerate(result.eps_scan.candidates)
    ]
    return markdown_table(["× knee", "eps", "clusters", "noise", "score", ""], rows)


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
    `max_fit_sessions`); with no configured eps, eps is scanned around the knee of the
    k-distance curve (curve and scan in metadata). Clusters are matched to the previous version
    (Hungarian matching on centroids) so segment ids and names stay stable; new, vanished,
    centroid shift and membership churn are recorded in metadata and in
    `cluster_model_versions`. The artifact (scaler, core samples, parameters, feature names,
    data window, version) lets new sessions be assigned without refitting. Degenerate input
    (no sessions, too few, identical, constant or non-finite features) gives a model with a
    message, never a crash. The same input and config re-use the current version.
    """
    cluster_config = clustering_config(config)
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import cluster_model_step

        return cluster_model_step(
            context, duckdb.engine, artifacts.path, cluster_config, config.window_days
        )
    with duckdb.get_connection() as con:
        require_features_table(con)
        features, window = read_features(con, config.window_days)
        missing = missing_feature_columns(features, cluster_config.features)
        if missing:
            raise dg.Failure(description=f"features not in session_features: {missing}")
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
        changes = version_changes(
            previous,
            current.version if current else None,
            model,
            result.assignments,
            features,
            result.match.new_segment_ids,
            result.match.vanished_segment_ids,
        )
        noise = float(result.assignments["is_noise"].mean()) if len(result.assignments) else 0.0
        con.execute("BEGIN TRANSACTION")
        register_model(
            con, model, fingerprint=print_, artifact_path=path, noise_share=noise, changes=changes
        )
        con.execute("COMMIT")
    silhouette = (
        silhouette_on_sample(
            model, features, result.assignments, max_sessions=config.silhouette_sessions
        )
        if model.n_clusters > 1
        else None
    )
    for message in result.messages:
        context.log.info(message)
    metadata: dict[str, object] = {
        "version": dg.MetadataValue.int(version),
        "refit": dg.MetadataValue.bool(True),
        "clusters": dg.MetadataValue.int(model.n_clusters),
        "noise_share": dg.MetadataValue.float(noise),
        "noise_reasons": dg.MetadataValue.json(result.noise_reasons()),
        "eps": dg.MetadataValue.float(float(model.eps)),
        "fit_sessions": dg.MetadataValue.int(result.fit_rows),
        "sessions": dg.MetadataValue.int(len(features)),
        "artifact": dg.MetadataValue.path(str(path)),
        "messages": dg.MetadataValue.md("\n".join(f"- {m}" for m in result.messages) or "-"),
        "model": dg.MetadataValue.json(result.metadata() | {"k_distance": None}),
        "new_segment_ids": dg.MetadataValue.json(list(changes.new_segment_ids)),
        "vanished_segment_ids": dg.MetadataValue.json(list(changes.vanished_segment_ids)),
        "version_changes": dg.MetadataValue.json(changes.as_metadata()),
        "eps_scan": dg.MetadataValue.md(eps_scan_table(result)),
    }
    if silhouette is not None and np.isfinite(silhouette):
        metadata["silhouette_sample"] = dg.MetadataValue.float(float(silhouette))
    if changes.membership_churn is not None:
        metadata["membership_churn"] = dg.MetadataValue.float(changes.membership_churn)
    if changes.max_centroid_shift is not None:
        metadata["max_centroid_shift"] = dg.MetadataValue.float(changes.max_centroid_shift)
    if result.k_distance is not None and len(result.k_distance.distances):
        metadata["k_distance_curve"] = dg.MetadataValue.md(k_distance_chart(result.k_distance))
        metadata["k_distance_points"] = dg.MetadataValue.json(result.k_distance.as_metadata())
    metadata.update(quality_metadata(config.labels_path, features, result.assignments))
    return dg.MaterializeResult(metadata=metadata)


def current_model(con: duckdb.DuckDBPyConnection) -> ClusterModel:
    """The newest persisted model (clear error before the first fit)."""
    registered = latest_model(con)
    if registered is None:
        raise dg.Failure(description="no cluster model yet: materialize cluster_model first")
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
    path that scores new sessions later; the others are the `noise` segment, with a reason
    (`low_density`, `non_finite_feature` or `no_clusters`).
    """
    if duckdb.engine.is_spark:
        from signal_pipeline.spark.dagster_steps import session_segments_step

        return session_segments_step(context, duckdb.engine)
    with duckdb.get_connection() as con:
        require_features_table(con)
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
    named = features.merge(frame[["session_id", "segment_name"]], on="session_id", how="inner")
    scatter = segment_scatter_markdown(named)
    if scatter:
        metadata["segment_scatter"] = dg.MetadataValue.md(scatter)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="segments",
    deps=["session_segments", "session_features"],
    kinds={"pandas", "duckdb"},
    owners=["team:data-science"],
    pool="duckdb",
)
def segment_profiles(
    config: SegmentProfilesConfig, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    """Named segment profiles: size, share, feature means and medians, conversion lift, flags.

    The reference shape: pattern (name), average dwell per page, scroll depth, CTA CTR,
    conversion versus the all-session average; plus urgency quartiles, device and campaign mix
    and the action flag (content reinforcement for the top-15 % urgency segment, UX review for
    low-urgency rapid bounces). Column list: docs/data_contract.md. With `labels_path`, the ARI
    and per-persona recovery against the simulator's planted personas are in metadata.
    """
    stored = duckdb.stored_metadata("segment_profiles")
    tables = duckdb.session_tables(["session_features", "session_segments"], ["segment_profiles"])
    with tables as con:
        require_features_table(con)
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
    metadata.update(stored)
    metadata.update(quality_metadata(config.labels_path, features, assignments))
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
