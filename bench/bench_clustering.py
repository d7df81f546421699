"""Benchmark the segment clustering (fit + assign) against a full scikit-learn DBSCAN fit.

Usage: ``python bench/bench_clustering.py [--sizes 10000 100000 1000000] [--repeats 3]``.

For each size N, synthetic `session_features` (three planted personas plus 5 % noise,
`signal_pipeline.segments.synthetic`) are generated in a fresh child process, which then times:
- `fit`: `fit_cluster_model` with the default config (stratified 50k sample above 50k sessions,
  k-distance knee + eps scan, memory guard) — its result already assigns every session;
- `assign`: `assign_sessions` of all N sessions with the fitted model (the `session_segments`
  path: re-scoring without refit);
- `fit_assign` = fit + assign.
Peak memory is the child's `resource.getrusage(RUSAGE_SELF).ru_maxrss` (whole process, data
generation included), one child per run so sizes do not inherit each other's peak.

Baseline: `sklearn.cluster.DBSCAN` on all N scaled sessions with the eps and min_samples our fit
chose, in its own child process. It is skipped (and extrapolated from the sizes that ran, with a
power law fitted on them) when the estimated eps-neighbourhood memory exceeds
`--sklearn-max-gb` or N exceeds `--sklearn-max-sessions`, and killed after
`--sklearn-timeout` seconds. Times are medians of `--repeats` runs (`--repeats-large` above
500k). A table goes to stdout and JSON to `bench/results/clustering.json` (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BYTES_PER_NEIGHBOR_PAIR_SKLEARN = 16  # int64 index + float64 distance per materialised pair
LARGE_SIZE = 500_000


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ours(n_sessions: int, seed: int, n_jobs: int | None, queue: mp.Queue) -> None:
    """Child: generate, fit, assign; put timings, peak RSS and the fitted eps on `queue`."""
    from signal_pipeline.segments import (
        ClusterConfig,
        adjusted_rand,
        assign_sessions,
        fit_cluster_model,
    )
    from signal_pipeline.segments.synthetic import synthetic_session_features

    features, personas = synthetic_session_features(n_sessions, seed=seed)
    config = ClusterConfig(n_jobs=n_jobs)
    start = time.perf_counter()
    result = fit_cluster_model(features, config, version=1, window=None, previous=None)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    assigned = assign_sessions(result.model, features, n_jobs=n_jobs)
    assign_s = time.perf_counter() - start
    joined = personas.merge(assigned, on="session_id")
    queue.put(
        {
            "fit_s": fit_s,
            "assign_s": assign_s,
            "fit_assign_s": fit_s + assign_s,
            "peak_rss_mb": _peak_rss_mb(),
            "eps": result.model.eps,
            "min_samples": result.effective_min_samples,
            "fit_rows": result.fit_rows,
            "clusters": result.model.n_clusters,
            "noise_share": float(assigned["is_noise"].mean()),
            "ari_planted": adjusted_rand(joined["persona"], joined["segment_id"]),
        }
    )


def _scaled_synthetic_features(n_sessions: int, seed: int) -> Any:
    """Synthetic session features, scaled the way the default ClusterConfig scales them."""
    from signal_pipeline.segments import ClusterConfig
    from signal_pipeline.segments.scaling import feature_matrix, fit_scaler
    from signal_pipeline.segments.synthetic import synthetic_session_features

    features, _ = synthetic_session_features(n_sessions, seed=seed)
    config = ClusterConfig()
    matrix = feature_matrix(features, config.features)
    values = matrix.values[matrix.finite_rows]
    scaler, _ = fit_scaler(
        values,
        method=config.scaling,
        feature_names=config.features,
        log_transform=config.log_transform,
    )
    return scaler.transform(values)


def _sklearn(n_sessions: int, seed: int, eps: float, min_samples: int, queue: mp.Queue) -> None:
    """Child: full sklearn DBSCAN on every scaled session; put time and peak RSS on `queue`."""
    from sklearn.cluster import DBSCAN

    scaled = _scaled_synthetic_features(n_sessions, seed)
    start = time.perf_counter()
    DBSCAN(eps=eps, min_samples=min_samples).fit(scaled)
    queue.put({"fit_s": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb()})


def _estimated_sklearn_gb(n_sessions: int, seed: int, eps: float) -> float:
    """Memory sklearn's DBSCAN would hold for its neighbourhoods, from a probe."""
    from signal_pipeline.segments.fit import _expected_neighbor_pairs

    probe_n = min(n_sessions, 20_000)
    pairs_probe = _expected_neighbor_pairs(_scaled_synthetic_features(probe_n, seed), eps, 0)
    # Neighbourhood sizes grow linearly with N at fixed density: pairs grow with N².
    pairs = pairs_probe * (n_sessions / probe_n) ** 2
    return pairs * BYTES_PER_NEIGHBOR_PAIR_SKLEARN / 1e9


def _run_child(target: Any, args: tuple[Any, ...], timeout: float | None) -> dict[str, Any] | None:
    """Run `target(*args, queue)` in a spawned process; None on timeout or crash."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    try:
        result = queue.get(timeout=timeout)
    except Exception:  # queue.Empty on timeout, or the child died
        result = None
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join()
    return result


def _power_law(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """(a, b) of t = a·N^b fitted on (N, t) points in log space (b = 2 from one point)."""
    import numpy as np

    if not points:
        return None
    sizes = np.log([p[0] for p in points])
    times = np.log([p[1] for p in points])
    if len(points) == 1:
        return float(np.exp(times[0] - 2 * sizes[0])), 2.0
    slope, intercept = np.polyfit(sizes, times, 1)
    return float(np.exp(intercept)), float(slope)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every size; return the JSON-able results."""
    rows = []
    sklearn_points: list[tuple[int, float]] = []
    for n_sessions in args.sizes:
        repeats = args.repeats_large if n_sessions > LARGE_SIZE else args.repeats
        runs = [
            _run_child(_ours, (n_sessions, args.seed, args.n_jobs), None) for _ in range(repeats)
        ]
        runs = [r for r in runs if r is not None]
        if not runs:
            raise RuntimeError(f"clustering {n_sessions} sessions failed")
        row: dict[str, Any] = {
            "sessions": n_sessions,
            "repeats": len(runs),
            **{
                key: statistics.median(r[key] for r in runs)
                for key in ("fit_s", "assign_s", "fit_assign_s", "peak_rss_mb")
            },
            **{
                key: runs[0][key]
                for key in ("eps", "min_samples", "fit_rows", "clusters", "noise_share")
            },
            "ari_planted": runs[0]["ari_planted"],
            "runs_fit_assign_s": [r["fit_assign_s"] for r in runs],
        }
        estimated_gb = _estimated_sklearn_gb(n_sessions, args.seed, row["eps"])
        row["sklearn_estimated_gb"] = estimated_gb
        if n_sessions > args.sklearn_max_sessions or estimated_gb > args.sklearn_max_gb:
            row["sklearn_status"] = "skipped"
        else:
            baseline = _run_child(
                _sklearn,
                (n_sessions, args.seed, row["eps"], row["min_samples"]),
                args.sklearn_timeout,
            )
            if baseline is None:
                row["sklearn_status"] = f"timeout>{args.sklearn_timeout:g}s"
            else:
                row["sklearn_status"] = "ran"
                row["sklearn_fit_s"] = baseline["fit_s"]
                row["sklearn_peak_rss_mb"] = baseline["peak_rss_mb"]
                sklearn_points.append((n_sessions, baseline["fit_s"]))
        rows.append(row)
    law = _power_law(sklearn_points)
    for row in rows:
        if row["sklearn_status"] != "ran" and law is not None:
            row["sklearn_fit_s_extrapolated"] = law[0] * row["sessions"] ** law[1]
        sklearn_s = row.get("sklearn_fit_s", row.get("sklearn_fit_s_extrapolated"))
        if sklearn_s is not None:
            row["speedup_vs_sklearn"] = sklearn_s / row["fit_assign_s"]
    load = os.getloadavg()
    return {
        "benchmark": "clustering",
        "command": args.command,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_1_5_15_at_end": [round(v, 2) for v in load],
        },
        "memory_measure": "resource.getrusage(RUSAGE_SELF).ru_maxrss of one child per run",
        "sklearn_power_law": None if law is None else {"a": law[0], "b": law[1]},
        "rows": rows,
    }


def table(results: dict[str, Any]) -> str:
    """A plain-text table of the results."""
    head = (
        f"{'sessions':>9} {'fit s':>7} {'assign s':>8} {'fit+assign s':>12} {'peak MB':>8} "
        f"{'clusters':>8} {'ARI':>5} {'sklearn s':>16} {'sklearn GB est':>14}"
    )
    lines = [head]
    for row in results["rows"]:
        if row["sklearn_status"] == "ran":
            sklearn = f"{row['sklearn_fit_s']:.2f}"
        elif "sklearn_fit_s_extrapolated" in row:
            sklearn = f"~{row['sklearn_fit_s_extrapolated']:.0f} (extrap.)"
        else:
            sklearn = row["sklearn_status"]
        lines.append(
            f"{row['sessions']:>9} {row['fit_s']:>7.2f} {row['assign_s']:>8.2f} "
            f"{row['fit_assign_s']:>12.2f} {row['peak_rss_mb']:>8.0f} {row['clusters']:>8} "
            f"{row['ari_planted']:>5.2f} {sklearn:>16} {row['sklearn_estimated_gb']:>14.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run, print the table, write the JSON; return the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-large", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=2, help="assignment threads")
    parser.add_argument("--sklearn-max-sessions", type=int, default=100_000)
    parser.add_argument("--sklearn-max-gb", type=float, default=4.0)
    parser.add_argument("--sklearn-timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "clustering.json")
    args = parser.parse_args(argv)
    args.command = "python bench/bench_clustering.py " + " ".join(argv or [])
    results = run(args)
    print(table(results))
    print(f"load average (1/5/15 min) at end: {results['machine']['loadavg_1_5_15_at_end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
