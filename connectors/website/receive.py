"""One request to one form source -> the inbox item to commit, or a refusal. Pure: no I/O, no clock.

Order matters: credentials a request carries outside its body are checked before the body is parsed (an
anonymous client gets 401/403, not a parser), a signature is checked over the raw bytes, and only a token
sent inside the body waits for the parse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.website.auth import body_token, check_signature, check_token, header_or_query_token
from connectors.website.body import decode_body
from connectors.website.config import TokenAuth
from connectors.website.errors import Refused
from connectors.website.formats.base import WrongType
from connectors.website.keys import submission_keys
from connectors.website.sources import ServedSource
from hub.state import InboxItem


@dataclass(frozen=True)
class Ping:
    """A sender checking the endpoint (Tilda's ``test=test``): answered 200, nothing is stored."""


@dataclass(frozen=True)
class Request:
    headers: Mapping[str, str]  # names in lower case
    query: Mapping[str, str]
    body: bytes
    client: str
    received: dt.datetime  # aware


def check_credentials_before_body(source: ServedSource, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Refuse a request whose token, sent in a header or the query, is missing or wrong, before its body is
    even read. Nothing to check yet for a signature (it covers the body) or a token the sender may put in
    the body (Tilda): :func:`accept` checks those."""
    auth = source.auth
    if isinstance(auth, TokenAuth):
        token = header_or_query_token(auth, headers, query)
        if token is not None or not auth.field:
            check_token(token, source.secret.get_secret_value())


def accept(source: ServedSource, request: Request) -> InboxItem | Ping:
    auth, secret = source.auth, source.secret.get_secret_value()
    token: str | None = None
    if isinstance(auth, TokenAuth):
        token = header_or_query_token(auth, request.headers, request.query)
        if token is not None or not auth.field:
            check_token(token, secret)
    else:
        check_signature(auth, secret, request.headers, request.body, request.received.timestamp())
    body = decode_body(request.headers.get("content-type"), request.headers.get("content-encoding"), request.body,
                       source.config.limits)
    if isinstance(auth, TokenAuth) and token is None:
        check_token(body_token(auth, body.data), secret)
    if source.format.is_test_ping(body.data):
        return Ping()
    try:
        submission = source.format.normalize(source.name, source.config, body.data)
    except WrongType as wrong:
        raise Refused(422, "wrong_type", str(wrong), field=wrong.key[:100]) from None
    key, seen_as = submission_keys(submission, request.received, source.config.dedup_window)
    meta: dict[str, Any] = {"via": "webhook", "client": request.client,
                            "user_agent": request.headers.get("user-agent", "")[:300], "body": body.kind}
    if body.files_dropped:
        meta["files_dropped"] = body.files_dropped
    return InboxItem(stream=source.stream, dedup_key=key, payload={**submission.payload(), "submission_key": key},
                     meta=meta, seen_as=seen_as)
