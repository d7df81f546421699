"""Shared benchmark helpers: run a command in a fresh process, measure wall time and peak RSS."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    """Repeated runs of one command: wall seconds and peak resident memory of each run."""

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        """Median wall time."""
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float:
        """Largest peak RSS over the runs."""
        return max(self.peak_rss_mb)

    def row(self, units: float | None = None, unit_name: str = "events") -> dict[str, object]:
        """A JSON-able summary (rate in ``unit_name``/s when ``units`` is given)."""
        out: dict[str, object] = {
            "name": self.name,
            "runs": len(self.seconds),
            "median_s": round(self.median_s, 3),
            "min_s": round(min(self.seconds), 3),
            "max_s": round(max(self.seconds), 3),
            "peak_rss_mb": round(self.peak_mb, 1),
        }
        if units:
            out[f"{unit_name}_per_s"] = round(units / self.median_s)
        return out


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd`` as a child process; return (wall seconds, peak RSS in MB of that child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark command failed: {' '.join(cmd)}\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def measure(
    name: str,
    cmd: Sequence[str],
    repeat: int,
    env: dict[str, str] | None = None,
    before_each: Sequence[str] | None = None,
) -> Measurement:
    """Run ``cmd`` ``repeat`` times (``before_each`` first, unmeasured) and collect the figures."""
    result = Measurement(name)
    for _ in range(repeat):
        if before_each:
            subprocess.run(list(before_each), check=True, capture_output=True)
        seconds, rss = run_measured(cmd, env)
        result.seconds.append(seconds)
        result.peak_rss_mb.append(rss)
    return result


def machine() -> dict[str, object]:
    """The machine the figures come from, including its load when they were taken."""
    mem_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    """A plain text table of result rows."""
    if not rows:
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def save(stage: str, payload: dict[str, object]) -> Path:
    """Write ``payload`` (plus machine facts) to bench/results/<stage>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stage}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str))
    return path


def parse_count(text: str) -> int:
    """'1M' → 1_000_000, '250k' → 250_000, '1200000' → 1_200_000."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


if __name__ == "__main__":
    print(json.dumps(asdict(Measurement("example", [1.0], [1.0])), indent=2))
