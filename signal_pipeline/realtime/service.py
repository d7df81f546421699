"""The HTTP scoring service: ``POST /score`` with a session's events, ``GET /health``.

Starlette on uvicorn (both come with the Dagster webserver). Request handling:

- ``Authorization: Bearer <token>`` is required when a token is configured (compared in
  constant time; the token itself is never logged or echoed) → 401 otherwise;
- the body is read up to ``max_body_bytes`` (a larger ``Content-Length`` or stream) → 413;
- an empty body → 400; events that the ingest validation quarantines (bad JSON, missing id or
  identity, bad timestamp, unknown event type, out-of-range value, ...) → 422 listing each
  rejected line with its reason; a body with no valid event → 422;
- scoring runs on ``workers`` threads (one private DuckDB connection each, the request query
  prepared once), which batch whatever queued up while they were busy
  (:class:`signal_pipeline.realtime.batching.BatchScorer`); when ``max_pending`` requests are
  already waiting the service answers 503 rather than queueing without bound.

Start-up: every worker warms up (prepares its query and scores a synthetic session) before the
service accepts connections; ``GET /health`` reports ``ready`` and whether the prepared plans
are cached.

The model is reloaded in the background when a new version is materialized (the artifacts
folder is polled every ``poll_s`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.routing import Route

from signal_pipeline.realtime.api import LiveScorer
from signal_pipeline.realtime.batching import BatchScorer
from signal_pipeline.realtime.scoring import score_records

LOG = logging.getLogger("signal_pipeline.realtime.service")
DEFAULT_MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and security settings of the service."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    token: str | None = None
    workers: int = 2
    max_pending: int = 256
    poll_s: float = 2.0
    max_batch: int = 32
    warm_up_timeout_s: float = 120.0


class _BodyTooLarge(Exception):
    pass


class JSONResponse(_StarletteJSONResponse):
    """A JSON response encoded with orjson (several times faster than ``json.dumps``)."""

    def render(self, content: Any) -> bytes:
        """``content`` as compact JSON bytes."""
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def _error(status: int, reason: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": reason, **extra}, status_code=status, headers=headers)


def create_app(scorer: LiveScorer, settings: ServiceSettings = ServiceSettings()) -> Starlette:
    """The ASGI app scoring with ``scorer`` under ``settings``."""
    batcher: BatchScorer | None = None
    pending = 0

    async def health(request: Request) -> JSONResponse:
        if not _authorized(request, settings.token):
            return _error(401, "missing or wrong bearer token")
        current = scorer.model
        ready = batcher is not None and batcher.ready
        return JSONResponse(
            {
                "status": "ok" if ready else "starting",
                "ready": ready,
                "workers": batcher.workers if batcher else 0,
                "plan_cached": bool(batcher and batcher.ready and all(batcher.plan_cached)),
                "warm_up_error": batcher.warm_up_error if batcher else None,
                "model_version": current.version,
                "model_path": current.path.name,
                "segments": current.model.n_clusters,
                "action_flags_known": bool(current.action_flags),
                "reload_error": scorer.watcher.last_error,
            }
        )

    async def score(request: Request) -> JSONResponse:
        nonlocal pending
        if not _authorized(request, settings.token):
            return _error(401, "missing or wrong bearer token")
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _BodyTooLarge:
            return _error(413, f"request body larger than {settings.max_body_bytes} bytes")
        if not body.strip():
            return _error(400, "empty body: send canonical events as a JSON array or JSON lines")
        if batcher is None or pending >= settings.max_pending:
            return _error(503, "too many requests waiting; retry later")
        pending += 1
        try:
            result = await asyncio.wrap_future(batcher.submit(body))
        finally:
            pending -= 1
        if result.rejected or result.report.quarantined:
            return _error(
                422,
                f"{result.report.quarantined} event(s) failed validation",
                rejected=result.rejected,
            )
        if result.report.landed == 0:
            return _error(422, "no valid event in the body")
        return JSONResponse(
            {
                "model_version": result.model_version,
                "events": result.report.landed,
                "duplicates": result.report.duplicates,
                "sessions": score_records(result.scores),
            }
        )

    async def watch_model() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(settings.poll_s)
            try:
                if await loop.run_in_executor(None, scorer.watcher.refresh):
                    LOG.info("loaded cluster model v%d", scorer.model.version)
            except Exception:
                LOG.exception("model reload failed; keeping v%d", scorer.model.version)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal batcher
        batcher = BatchScorer(scorer, workers=settings.workers, max_batch=settings.max_batch)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, batcher.wait_ready, settings.warm_up_timeout_s):
            LOG.warning("workers not warm after %.0f s; serving anyway", settings.warm_up_timeout_s)
        watcher = asyncio.create_task(watch_model())
        try:
            yield
        finally:
            watcher.cancel()
            await loop.run_in_executor(None, batcher.close)
            scorer.close()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/score", score, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
