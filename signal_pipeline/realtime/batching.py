"""Score request bodies on a fixed set of worker threads, batching what queues up.

Each worker thread owns one DuckDB connection (prepared request query, see
:mod:`signal_pipeline.realtime.engine`). It warms up first (prepares the query and scores a tiny
synthetic session), then loops: wait for one body, take every other body already waiting (up to
``max_batch``), score them with one :meth:`LiveScorer.score_bodies` call and hand each result to
its future. There is no artificial delay: a batch is whatever arrived while the workers were
busy, so at low load every request is scored alone and at high load the fixed cost of one
execution is shared.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from signal_pipeline.realtime.api import LiveScorer, LiveScores

LOG = logging.getLogger("signal_pipeline.realtime.batching")
_STOP = object()


class BatchScorer:
    """``workers`` scoring threads over ``scorer``; :meth:`submit` returns a future."""

    def __init__(self, scorer: LiveScorer, *, workers: int = 2, max_batch: int = 32) -> None:
        if workers < 1 or max_batch < 1:
            raise ValueError("workers and max_batch must be at least 1")
        self.scorer = scorer
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._warm = threading.Event()
        self._warm_lock = threading.Lock()
        self.plan_cached: list[bool] = []
        self.warm_up_error: str | None = None
        self.batches = 0
        self.bodies = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"live-score-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def workers(self) -> int:
        """Number of scoring threads."""
        return len(self._threads)

    @property
    def ready(self) -> bool:
        """True once every worker warmed up."""
        return len(self.plan_cached) == len(self._threads)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker warmed up (False on timeout)."""
        return self._warm.wait(timeout)

    def submit(self, body: bytes) -> Future[LiveScores]:
        """Queue ``body``; the future holds its :class:`LiveScores` (or the scoring error)."""
        future: Future[LiveScores] = Future()
        self._queue.put((body, future))
        return future

    def close(self) -> None:
        """Stop the workers after the queued bodies (waits for them)."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        try:
            cached = self.scorer.warm_up()
        except Exception as error:  # the worker still serves, only its first batch is slower
            LOG.exception("warm-up failed")
            self.warm_up_error = f"{type(error).__name__}: {error}"
            cached = False
        with self._warm_lock:
            self.plan_cached.append(cached)
            if self.ready:
                self._warm.set()
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._score(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _score(self, batch: list[tuple[bytes, Future[LiveScores]]]) -> None:
        live = [(body, future) for body, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self.scorer.score_bodies([body for body, _ in live])
        except Exception as error:
            for _, future in live:
                future.set_exception(error)
            return
        self.batches += 1
        self.bodies += len(live)
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
