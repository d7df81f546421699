"""Private DuckDB connections that validate live events and compute their features with the SQL
models.

Request bodies (the service, :meth:`LiveFeatureEngine.features_for_bodies`) take the fast path:
each thread keeps one connection (one thread, a small memory limit) on which the request query
(:mod:`signal_pipeline.realtime.request_query`: the ingest per-line judge plus the SQL models'
chain, as one statement) is prepared once; a batch of bodies is then one ``EXECUTE`` whose data
arrives as list parameters (set with ``SET VARIABLE ... = ?``), never as SQL text, and whose plan
DuckDB does not rebuild. Bodies the fast path cannot vouch for go through
:func:`ingest_files` itself (the same parsing, validation, de-duplication and quarantine reasons
as the pipeline) on a private connection: bodies that are not native JSON lines in UTF-8 (a JSON
array, Segment or Snowplow events), bodies with a rejected line or a repeated event id.

Event files (:meth:`LiveFeatureEngine.features_for_files`, ``signal-pipeline assign``) always go
through :func:`ingest_files` and the live feature query
(:mod:`signal_pipeline.realtime.feature_query`) on a connection of their own.

Connections are restricted to their own folder: nothing a request contains can make DuckDB read
other files.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from signal_pipeline import db
from signal_pipeline.bots.thresholds import BotThresholds
from signal_pipeline.ingest import IngestReport, IngestSettings, ingest_files
from signal_pipeline.ingest.request_lines import body_format, split_body_lines
from signal_pipeline.realtime.feature_query import EVENTS_RELATION, live_feature_sql
from signal_pipeline.realtime.request_query import (
    DYNAMIC_PARAMS,
    MAX_LINES_PER_REQUEST,
    REQUEST_COLUMNS,
    REQUEST_SHIFT,
    SOURCE_FILE,
    request_batch_sql,
)
from signal_pipeline.sql_models import ModelParams
from signal_pipeline.sql_models.params import register_model_params

QUARANTINE_SAMPLE = 20
PREPARED_NAME = "live_request_batch"
_VARIABLE_PREFIX = "live_arg_"
_BLOCKED = "blocked"
#: How a body was judged (``BodyVerdict.path``).
PATH_PREPARED = "prepared"
PATH_INGEST = "ingest"


@dataclass(frozen=True)
class LiveFeatures:
    """Features (plus bot signals) of the scored sessions and how their events were judged.

    ``path`` says how: ``prepared`` (the prepared request query) or ``ingest``
    (:func:`ingest_files`)."""

    features: pd.DataFrame
    report: IngestReport
    rejected: list[dict[str, object]]
    path: str = PATH_INGEST


@dataclass(frozen=True)
class BodyVerdict:
    """How one request body was judged: its ingest report, a sample of rejected lines, and the
    path that judged it (``prepared`` or ``ingest``)."""

    report: IngestReport
    rejected: list[dict[str, object]]
    path: str = PATH_INGEST


@dataclass(frozen=True)
class FeatureBatch:
    """The feature rows of a batch of bodies: ``owner[i]`` is the index of the body row ``i``
    belongs to; ``verdicts[k]`` says how body ``k`` was judged."""

    features: pd.DataFrame
    owner: np.ndarray
    verdicts: list[BodyVerdict]


@dataclass
class _WorkerConnection:
    con: duckdb.DuckDBPyConnection
    workdir: Path
    prepared: bool = False


class LiveFeatureEngine:
    """Compute ``session_features`` rows for event files or request bodies (thread-safe: each
    thread works on its own connection)."""

    def __init__(
        self,
        *,
        ingest: IngestSettings | None = None,
        params: ModelParams | None = None,
        thresholds: BotThresholds | None = None,
        threads_per_connection: int = 1,
        memory_limit: str = "512MB",
    ) -> None:
        self.ingest = ingest or IngestSettings()
        self.params = params or ModelParams()
        self.thresholds = thresholds or BotThresholds()
        self.sql = live_feature_sql()
        self.request_sql = request_batch_sql(
            ingest=self.ingest, params=self.params, thresholds=self.thresholds
        )
        self._threads = threads_per_connection
        self._memory_limit = memory_limit
        self._root = Path(tempfile.mkdtemp(prefix="signal_pipeline_live_"))
        self._local = threading.local()
        self._connections: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    # --- connections -------------------------------------------------------------------------

    def _worker(self) -> _WorkerConnection:
        worker = getattr(self._local, "worker", None)
        if worker is None:
            workdir = self._root / uuid.uuid4().hex
            workdir.mkdir()
            con = db.connect(
                workdir / "live.duckdb",
                allowed_directories=[workdir],
                memory_limit=self._memory_limit,
                threads=self._threads,
            )
            register_model_params(con, self.params)
            worker = _WorkerConnection(con=con, workdir=workdir)
            self._local.worker = worker
            with self._lock:
                self._connections.append(con)
        return worker

    def prepare(self) -> None:
        """Prepare the request query on this thread's connection (once per thread)."""
        worker = self._worker()
        if not worker.prepared:
            worker.con.execute(f"PREPARE {PREPARED_NAME} AS {self.request_sql}")
            worker.prepared = True

    def _prepared_info(self, column: str) -> object:
        self.prepare()
        rows = (
            self._worker()
            .con.execute(
                f"SELECT {column} FROM duckdb_prepared_statements() WHERE name = ?",  # from code
                [PREPARED_NAME],
            )
            .fetchall()
        )
        return rows[0][0] if rows else None

    def plan_is_cached(self) -> bool:
        """True when DuckDB bound this thread's prepared request query completely, so every
        execution reuses its plan (a statement it cannot type is re-planned each time)."""
        return self._prepared_info("result_types") is not None

    # --- event files -------------------------------------------------------------------------

    def features_for_files(self, paths: Sequence[str | Path]) -> LiveFeatures:
        """Validate the event files ``paths`` and compute the features of every session in them.

        Runs on a connection of its own (closed afterwards) with the default thread count, since
        a file may hold millions of events; ingest reads the files through a connection
        restricted to their folders."""
        workdir = Path(tempfile.mkdtemp(dir=self._root))
        con = db.connect(workdir / "batch.duckdb", memory_limit=self._memory_limit)
        try:
            register_model_params(con, self.params)
            report = ingest_files(con, paths, self.ingest)  # reads through a restricted reader
            return self._ingested_features(con, report)
        finally:
            con.close()
            shutil.rmtree(workdir, ignore_errors=True)

    # --- request bodies ----------------------------------------------------------------------

    def features_for_body(self, body: bytes) -> LiveFeatures:
        """Validate a request body (canonical events as JSON lines or one JSON array) and
        compute the features of the sessions in it."""
        batch = self.feature_batch([body])
        verdict = batch.verdicts[0]
        return LiveFeatures(
            features=batch.features.reset_index(drop=True),
            report=verdict.report,
            rejected=verdict.rejected,
            path=verdict.path,
        )

    def feature_batch(self, bodies: Sequence[bytes]) -> FeatureBatch:
        """:meth:`features_for_body` of every body, computed together: the bodies the prepared
        request query can take run in as few executions as their identifiers allow (one, unless
        two bodies share an id), the others through :func:`ingest_files`."""
        verdicts: list[BodyVerdict | None] = [None] * len(bodies)
        frames: list[pd.DataFrame] = []
        owners: list[np.ndarray] = []
        empty: list[pd.DataFrame] = []  # the columns, when no body has a session

        def via_ingest(index: int) -> None:
            features, verdicts[index] = self._features_via_ingest(bodies[index])
            empty.append(features.iloc[0:0])
            if len(features):
                frames.append(features)
                owners.append(np.full(len(features), index, dtype=np.int64))

        pending: list[tuple[int, list[str]]] = []
        for index, body in enumerate(bodies):
            lines = self.fast_lines(body)
            if lines is None:
                via_ingest(index)
            else:
                pending.append((index, lines))
        while pending:
            frame, outcomes = self._execute(pending)
            empty.append(frame.iloc[0:0].drop(columns="_live_request"))
            if len(frame):
                positions = frame.pop("_live_request").to_numpy(dtype=np.int64)
                frames.append(frame)
                owners.append(np.array([pending[p][0] for p in positions], dtype=np.int64))
            blocked: list[tuple[int, list[str]]] = []
            for (index, lines), outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, BodyVerdict):
                    verdicts[index] = outcome
                elif outcome == _BLOCKED:
                    blocked.append((index, lines))
                else:
                    via_ingest(index)
            if len(blocked) == len(pending):  # cannot happen: the first clean body is eligible
                raise RuntimeError("no body of the batch was eligible")
            pending = blocked
        if not frames:
            features = empty[0] if empty else pd.DataFrame()
            owner = np.zeros(0, dtype=np.int64)
        elif len(frames) == 1:
            features, owner = frames[0], owners[0]
        else:
            features = pd.concat(frames, ignore_index=True)
            owner = np.concatenate(owners)
        done = [verdict for verdict in verdicts if verdict is not None]
        return FeatureBatch(features=features, owner=owner, verdicts=done)

    def fast_lines(self, body: bytes) -> list[str] | None:
        """The lines of ``body`` when the prepared request query can judge it exactly as
        :func:`ingest_files` would (native JSON lines, valid UTF-8); else None."""
        if self.ingest.format not in ("auto", "native"):
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if body_format(body) != ("jsonl", "native"):
            return None
        lines = split_body_lines(text)
        if not lines or len(lines) > MAX_LINES_PER_REQUEST:
            return None
        return lines

    def _execute(
        self, batch: list[tuple[int, list[str]]]
    ) -> tuple[pd.DataFrame, list[BodyVerdict | str]]:
        """Run the prepared request query over ``batch``: the feature rows of the eligible
        bodies (``_live_request`` = position in ``batch``) and per body its verdict, or
        ``"blocked"`` (clean but sharing an id with an earlier body: run it again) or
        ``"ingest"`` (not clean: let ingest judge it)."""
        self.prepare()
        con = self._worker().con
        lines: list[str] = []
        keys: list[int] = []
        for position, (_, body_lines) in enumerate(batch):
            lines.extend(body_lines)
            base = position << REQUEST_SHIFT
            keys.extend(range(base + 1, base + 1 + len(body_lines)))
        now = self.ingest.now or datetime.now(UTC)
        if now.tzinfo is not None:
            now = now.astimezone(UTC).replace(tzinfo=None)
        values = {
            "live_lines": lines,
            "live_keys": keys,
            "live_future_limit": [now + self.ingest.future_tolerance],
        }
        for name, sql_type in DYNAMIC_PARAMS.items():
            variable = f"{_VARIABLE_PREFIX}{name}"
            con.execute(f"SET VARIABLE {variable} = CAST(? AS {sql_type})", [values[name]])
        arguments = ", ".join(
            f"{name} := getvariable('{_VARIABLE_PREFIX}{name}')" for name in DYNAMIC_PARAMS
        )
        frame = con.execute(f"EXECUTE {PREPARED_NAME}({arguments})").df()
        return _split(frame, len(batch))

    def _features_via_ingest(self, body: bytes) -> tuple[pd.DataFrame, BodyVerdict]:
        """:func:`ingest_files` over the body written to this thread's folder."""
        worker = self._worker()
        suffix = ".json" if body.lstrip()[:1] == b"[" else ".jsonl"
        path = worker.workdir / f"request{suffix}"
        path.write_bytes(body)
        try:
            report = ingest_files(worker.con, [path], self.ingest)
        finally:
            path.unlink(missing_ok=True)
        live = self._ingested_features(worker.con, report)
        return live.features, BodyVerdict(report=live.report, rejected=live.rejected)

    def _ingested_features(
        self, con: duckdb.DuckDBPyConnection, report: IngestReport
    ) -> LiveFeatures:
        rejected = [
            {"line": int(line), "reason": reason, "detail": detail}
            for line, reason, detail in con.execute(
                "SELECT source_line, reason, detail FROM quarantined_events "
                "ORDER BY source_file, source_line LIMIT ?",
                [QUARANTINE_SAMPLE],
            ).fetchall()
        ]
        con.execute(f"CREATE OR REPLACE TEMP VIEW {EVENTS_RELATION} AS SELECT * FROM staged_events")
        features = con.execute(
            self.sql, {"rapid_click_gap_s": float(self.thresholds.rapid_click_gap_s)}
        ).df()
        return LiveFeatures(features=features, report=report, rejected=rejected)

    def close(self) -> None:
        """Close every connection and remove the working folders."""
        with self._lock:
            for con in self._connections:
                with contextlib.suppress(duckdb.Error):
                    con.close()
            self._connections.clear()
        shutil.rmtree(self._root, ignore_errors=True)


def _split(frame: pd.DataFrame, n_bodies: int) -> tuple[pd.DataFrame, list[BodyVerdict | str]]:
    """From the request query's output ``frame`` (ordered by body): the feature rows of the
    eligible bodies (with ``_live_request``) and each body's verdict."""
    request = frame["_live_request"].to_numpy(dtype=np.int64)
    firsts = np.searchsorted(request, np.arange(n_bodies), side="left")
    eligible = frame["_live_eligible"].to_numpy(dtype=bool)
    rejected = frame["_live_rejected"].to_numpy(dtype=np.int64)
    repeated = frame["_live_repeated_ids"].to_numpy(dtype=np.int64)
    outcomes: list[BodyVerdict | str] = []
    for first in firsts:
        if eligible[first]:
            outcomes.append(BodyVerdict(_clean_report(frame, int(first)), [], PATH_PREPARED))
        elif rejected[first] == 0 and repeated[first] == 0:
            outcomes.append(_BLOCKED)
        else:
            outcomes.append(PATH_INGEST)
    scored = eligible & frame["session_id"].notna().to_numpy(dtype=bool)
    columns = [c for c in frame.columns if c == "_live_request" or c not in REQUEST_COLUMNS]
    return frame.loc[scored, columns].reset_index(drop=True), outcomes


def _clean_report(frame: pd.DataFrame, row: int) -> IngestReport:
    """The ingest report of a clean body whose verdict is on ``frame`` row ``row``: every line
    landed."""
    lines = int(frame["_live_lines"].iat[row])
    dates = frame["_live_event_dates"].iat[row]
    return IngestReport(
        lines_read=lines,
        landed=lines,
        duplicates=0,
        quarantined=0,
        quarantined_by_reason={},
        by_file={
            SOURCE_FILE: {"lines_read": lines, "landed": lines, "duplicates": 0, "quarantined": 0}
        },
        formats={SOURCE_FILE: "native/jsonl"},
        min_ts=pd.Timestamp(frame["_live_min_ts"].iat[row]).to_pydatetime(),
        max_ts=pd.Timestamp(frame["_live_max_ts"].iat[row]).to_pydatetime(),
        event_dates=[pd.Timestamp(d).date() for d in (dates if dates is not None else [])],
    )
