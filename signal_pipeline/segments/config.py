"""Configuration of the behavioural clustering and the constants every segment module shares.

Default feature set (columns of `session_features`, plus the derived dwell shares of
`signal_pipeline.segments.derived`), chosen to describe *how* a visitor evaluates rather than how
much traffic they are, and restricted to continuous-valued features:

- depth of reading: `mean_dwell_per_page_s`, `total_session_time_s`, `mean_scroll_depth_pct`,
  `mean_scroll_velocity_pct_per_s`
- pointer attention and action: `hover_density_ms_per_min`, `pricing_hover_density_ms_per_min`,
  `click_frequency_per_min`
- where the time went: `specs_dwell_share`, `pricing_dwell_share`, `comparison_dwell_share`

Left out on purpose:
- small integer counts and ratios of small integers (`page_views`, `comparison_views`,
  `cta_clicks`, `cta_ctr`): their values sit on a lattice, and a density method splits one
  behaviour into one "cluster" per lattice value (sessions with 1, 2, 3 comparison views). Their
  information reaches the clustering through the continuous time shares and totals, and they
  stay in every segment profile;
- nullable columns (`min_click_gap_s`);
- outcomes (`converted`, `revenue`), so segments can be evaluated on them, and the derived
  scores (`urgency_score`, `engagement_depth_index`), functions of features already present.

Log-transformed (`sign(x)·log1p(|x|)`) before scaling: the durations and rates whose distribution
is heavy-tailed on real traffic (dwell, total time, scroll velocity, hover densities, click
frequency). Percentages and shares are bounded and left linear. Zero-inflated features
(`pricing_hover_density_ms_per_min`: most sessions never hover on pricing) stay linear too:
log1p turns "none vs some" into a gap wider than any behavioural difference, and a density
method then splits every persona by it.
"""

from __future__ import annotations

from dataclasses import dataclass

NOISE_CLUSTER = -1
NOISE_SEGMENT_ID = "noise"
NOISE_SEGMENT_NAME = "unclustered / noise"
SEGMENT_ID_PREFIX = "seg-"

DEFAULT_FEATURES: tuple[str, ...] = (
    "mean_dwell_per_page_s",
    "total_session_time_s",
    "mean_scroll_depth_pct",
    "mean_scroll_velocity_pct_per_s",
    "hover_density_ms_per_min",
    "pricing_hover_density_ms_per_min",
    "click_frequency_per_min",
    "specs_dwell_share",
    "pricing_dwell_share",
    "comparison_dwell_share",
)

DEFAULT_LOG_TRANSFORM: tuple[str, ...] = (
    "mean_dwell_per_page_s",
    "total_session_time_s",
    "mean_scroll_velocity_pct_per_s",
    "hover_density_ms_per_min",
    "click_frequency_per_min",
)

DEFAULT_EPS_SCAN_FACTORS: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)

ALGORITHMS = ("dbscan", "hdbscan")
SCALINGS = ("standard", "robust", "minmax")


@dataclass(frozen=True)
class ClusterConfig:
    """Parameters of one clustering fit.

    `eps` is in scaled feature units; `None` tunes it from the knee of the k-distance curve with
    k = `min_samples`. Above `max_fit_sessions` the model is fitted on a stratified sample
    (session_date × device_type) and every other session is assigned to its nearest core sample.
    `max_neighbor_pairs` bounds the DBSCAN neighbourhood memory (about 12 bytes per pair); when the
    estimate on a probe sample exceeds it, the fit sample is shrunk further (see `fit.py`).
    With an auto eps, DBSCAN is tried at knee × each of `eps_scan_factors` and the candidate
    with the best noise-penalised silhouette on `eps_scan_sample` sessions wins (see
    `eps_selection.py`; an empty tuple keeps the knee as it is).
    `n_jobs` is the thread count of the nearest-core assignment (None = 1, -1 = every core).
    `match_cutoff` is the largest centroid distance (in the previous model's scaled units) at which
    a new cluster inherits a previous segment's id.
    """

    algorithm: str = "dbscan"
    features: tuple[str, ...] = DEFAULT_FEATURES
    scaling: str = "robust"
    log_transform: tuple[str, ...] = DEFAULT_LOG_TRANSFORM
    eps: float | None = None
    min_samples: int = 10
    min_cluster_size: int = 50
    max_fit_sessions: int = 50_000
    max_neighbor_pairs: int = 5_000_000
    k_distance_max_queries: int = 20_000
    eps_scan_factors: tuple[float, ...] = DEFAULT_EPS_SCAN_FACTORS
    eps_scan_sample: int = 2_000
    match_cutoff: float = 1.0
    assign_chunk_size: int = 100_000
    n_jobs: int | None = None
    random_state: int = 0

    def __post_init__(self) -> None:
        """Reject configurations that cannot produce a model."""
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {self.scaling!r}")
        if not self.features:
            raise ValueError("at least one feature is required")
        if len(set(self.features)) != len(self.features):
            raise ValueError("features must be distinct")
        unknown_log = set(self.log_transform) - set(self.features)
        if unknown_log:
            raise ValueError(f"log_transform names features not clustered: {sorted(unknown_log)}")
        if self.eps is not None and not self.eps > 0:
            raise ValueError("eps must be positive (or None to auto-tune)")
        if self.min_samples < 2:
            raise ValueError("min_samples must be at least 2")
        if self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be at least 2")
        if self.max_fit_sessions < self.min_samples:
            raise ValueError("max_fit_sessions must be at least min_samples")
        if any(not factor > 0 for factor in self.eps_scan_factors):
            raise ValueError("eps_scan_factors must be positive")
        if self.eps_scan_sample < 2:
            raise ValueError("eps_scan_sample must be at least 2")
        if self.match_cutoff <= 0:
            raise ValueError("match_cutoff must be positive")
