"""The intake HTTP service (FastAPI): ``POST /forms/<source>`` for each configured form source.

A request is answered 200 only after its submission is committed to the hub inbox, so an acknowledged
submission is never lost; a resubmission is a no-op that is also answered 200. Refusals are 4xx JSON
saying what was wrong; 503 (with ``Retry-After``) means the hub database did not take the submission and
the sender should retry. No input produces any other 5xx: an unexpected failure while reading a request
is logged as a bug and answered 400.

Nothing a client sends is parsed on the event loop: bodies are read with a deadline (``body_timeout``: a
slow sender gets 408), each source has a cap on requests in flight (``limits.max_in_flight``: beyond it,
503 with ``Retry-After``), and parsing runs in a small thread pool, so one heavy request never stalls the
others or ``/health``. Header read timeouts are the HTTP protocol's job (:mod:`connectors.website.protocol`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from connectors.website import receive
from connectors.website.committer import InboxCommitter, Unavailable
from connectors.website.errors import Code, Refused
from connectors.website.ratelimit import Limiter, RateLimiter
from connectors.website.sources import ServedSource
from hub import metrics
from hub.logs import get_logger

log = get_logger("hub.website.intake")
COMMIT_TIMEOUT = 20.0  # seconds a request waits for its commit before answering 503 (the sender retries)
BODY_TIMEOUT = 30.0  # seconds a sender has to send its whole body (default of --body-timeout)
PARSE_WORKERS = 2  # threads that parse bodies: parsing is CPU work, so more than the cores gain nothing
RETRY_AFTER = "5"
BODY_CONTENT = {kind: {"schema": {"type": "object", "additionalProperties": True}} for kind in (
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data")}


class Accepted(BaseModel):
    status: Literal["accepted", "duplicate", "ok"]  # ok: a sender's test request, nothing stored
    id: int | None = None  # the inbox id
    key: str | None = None  # the submission key (the lead's source_ref in the CRM)


class ErrorDetail(BaseModel):
    code: Code
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def create_app(sources: list[ServedSource], committer: InboxCommitter, limiter: Limiter | None = None,
               health: Callable[[], None] | None = None, body_timeout: float = BODY_TIMEOUT) -> FastAPI:
    """The app; ``app.state.parse_pool`` is its parsing thread pool (shut it down with the server)."""
    app = FastAPI(title="Integration hub: website form intake", version="1",
                  description="Form submissions from the website, committed to the hub inbox before they are "
                              "acknowledged. Each form source has its own endpoint and credentials.")
    limiter = limiter or RateLimiter()
    app.state.parse_pool = ThreadPoolExecutor(PARSE_WORKERS, thread_name_prefix="intake-parse")
    reading = Reading(app.state.parse_pool, body_timeout)
    errors: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody} for status in
                                              (400, 401, 403, 404, 408, 413, 415, 422, 429, 503)}
    for source in sources:
        app.add_api_route(
            source.path, _endpoint(source, committer, limiter, reading), methods=["POST"], response_model=Accepted,
            summary=f"{source.name}: {source.format.label}", responses=errors, tags=["form sources"],
            name=f"form_{source.name}",
            description=(source.config.description or "") + f"\n\nAuthentication: {_auth_text(source)}.",
            openapi_extra={"requestBody": {"required": True, "content": BODY_CONTENT}})

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    async def prometheus_metrics() -> PlainTextResponse:
        """The hub's metrics (intake answers by source and status) and the process's, for Prometheus."""
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["service"], responses={503: {"model": ErrorBody}})
    async def health_check() -> JSONResponse:
        try:
            if health is not None:
                await asyncio.to_thread(health)
        except Exception as exc:
            log.error("health check failed", error=type(exc).__name__)
            return _refusal(Refused(503, "unavailable", "the hub database is not available"))
        return JSONResponse({"status": "ok", "sources": [s.name for s in sources],
                             "rate_limit": await limiter.describe({s.name: s.config.rate_limit for s in sources})})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _refusal(Refused(404, "unknown_source", "no form source at this path; see /docs"))
        if exc.status_code == 405:
            return _refusal(Refused(405, "method_not_allowed", "form sources accept POST only"))
        return _refusal(Refused(exc.status_code, "malformed_body", str(exc.detail)[:200]))

    return app


@dataclass(frozen=True)
class Reading:
    """What every endpoint shares for reading requests: the parsing pool and the body deadline."""

    pool: ThreadPoolExecutor
    body_timeout: float


def _endpoint(source: ServedSource, committer: InboxCommitter, limiter: Limiter,
              reading: Reading) -> Callable[[Request], Awaitable[JSONResponse]]:
    limits = source.config.limits
    in_flight = 0  # requests of this source being read, parsed or committed (one event loop: no lock)

    async def receive_submission(request: Request) -> JSONResponse:
        response = await _answer(request)
        metrics.intake_request(source.name, response.status_code)
        return response

    async def _answer(request: Request) -> JSONResponse:
        nonlocal in_flight
        client = request.client.host if request.client else "unknown"
        if not await limiter.allowed(source.name, client, source.config.rate_limit):
            return _refusal(Refused(429, "rate_limited", "too many requests from this address; retry later"))
        if in_flight >= limits.max_in_flight:
            log.warning("busy", source=source.name, in_flight=in_flight)
            return _refusal(Refused(503, "busy", f"{limits.max_in_flight} requests to this source are in flight; "
                                                 "send it again"))
        in_flight += 1
        try:
            return await _receive(request, client)
        finally:
            in_flight -= 1

    async def _receive(request: Request, client: str) -> JSONResponse:
        headers, query = {k.lower(): v for k, v in request.headers.items()}, dict(request.query_params)
        try:
            receive.check_credentials_before_body(source, headers, query)
            async with asyncio.timeout(reading.body_timeout):  # no task per request, unlike wait_for
                body = await _read_body(request, limits.max_body_bytes)
            parsed = receive.Request(headers=headers, query=query, body=body, client=client,
                                     received=dt.datetime.now(dt.UTC))
            item = await asyncio.get_running_loop().run_in_executor(reading.pool, receive.accept, source, parsed)
        except ClientDisconnect:
            return _refusal(Refused(400, "malformed_body", "the client went away before the body was sent"))
        except TimeoutError:
            log.info("refused", source=source.name, client=client, status=408, code="request_timeout")
            return _refusal(Refused(408, "request_timeout", f"the body was not sent within {reading.body_timeout:g} "
                                                            "seconds"))
        except Refused as refused:
            log.info("refused", source=source.name, client=client, status=refused.status, code=refused.code,
                     field=refused.field)
            return _refusal(refused)
        except Exception as exc:  # a bug in reading this request: never a 5xx for the client's input
            log.exception("could not read a request", source=source.name, client=client, error=type(exc).__name__)
            return _refusal(Refused(400, "malformed_body", "the request could not be read"))
        if isinstance(item, receive.Ping):
            return JSONResponse(Accepted(status="ok").model_dump())
        try:
            stored = await asyncio.wait_for(asyncio.wrap_future(committer.submit(item)), COMMIT_TIMEOUT)
        except (Unavailable, TimeoutError):
            return _refusal(Refused(503, "unavailable", "the submission could not be stored now; send it again"))
        return JSONResponse(Accepted(status="accepted" if stored.created else "duplicate", id=stored.id,
                                     key=stored.dedup_key).model_dump())

    return receive_submission


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(refused: Refused) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER} if refused.status in (429, 503) else None
    if refused.status == 408:  # the rest of a late body would be read as the next request
        headers = {"Connection": "close"}
    return JSONResponse(refused.body(), status_code=refused.status, headers=headers)


def _auth_text(source: ServedSource) -> str:
    auth = source.auth
    if auth.method == "hmac":
        return f"HMAC-{auth.algorithm.upper()} signature of the body in header {auth.header}"
    ways = [f"header {auth.header}" if auth.header else "", f"query parameter {auth.query}" if auth.query else "",
            f"body field {auth.field}" if auth.field else ""]
    return "token in " + " or ".join(w for w in ways if w)
