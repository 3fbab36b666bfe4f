"""Credentials: tokens in a header, Bearer, the query or a body field; HMAC of the body, plain or timestamped;
and the per-address rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors.website.auth import body_token, check_signature, check_token, header_or_query_token
from connectors.website.config import HmacAuth, RateLimit, TokenAuth
from connectors.website.errors import Refused
from connectors.website.ratelimit import RateLimiter
from sandbox.website import wpforms_signature

SECRET = "s3cret-ключ"
BODY = '{"name": "Анна"}'.encode()


def status(call) -> int:  # type: ignore[no-untyped-def]
    try:
        call()
    except Refused as refused:
        return refused.status
    return 200


def test_token_places_in_order() -> None:
    auth = TokenAuth(header="X-API-Key", query="token", field="X-API-Key")
    assert header_or_query_token(auth, {"x-api-key": "a"}, {"token": "b"}) == "a"
    assert header_or_query_token(auth, {"authorization": "Bearer c"}, {"token": "b"}) == "c"
    assert header_or_query_token(auth, {"authorization": "Basic Yzpk"}, {"token": "b"}) == "b"
    assert header_or_query_token(auth, {}, {}) is None
    assert body_token(auth, {"X-API-Key": "d"}) == "d"
    assert body_token(auth, {"X-API-Key": ["d"]}) is None
    assert status(lambda: check_token(None, SECRET)) == 401
    assert status(lambda: check_token("wrong", SECRET)) == 403
    assert status(lambda: check_token(SECRET, SECRET)) == 200


@pytest.mark.parametrize(("encoding", "prefix", "algorithm"), [("hex", "", "sha256"), ("hex", "sha256=", "sha256"),
                                                               ("base64", "", "sha1"), ("hex", "", "sha512")])
def test_body_signatures(encoding: str, prefix: str, algorithm: str) -> None:
    auth = HmacAuth(method="hmac", header="X-Sig", encoding=encoding, prefix=prefix, algorithm=algorithm)
    digest = hmac.new(SECRET.encode(), BODY, getattr(hashlib, algorithm)).digest()
    good = prefix + (digest.hex() if encoding == "hex" else base64.b64encode(digest).decode())
    assert status(lambda: check_signature(auth, SECRET, {"x-sig": good}, BODY, 0)) == 200
    assert status(lambda: check_signature(auth, SECRET, {"x-sig": good}, BODY + b" ", 0)) == 403
    assert status(lambda: check_signature(auth, SECRET, {"x-sig": "zz-not-hex"}, BODY, 0)) == 403
    assert status(lambda: check_signature(auth, SECRET, {}, BODY, 0)) == 401


def test_wpforms_timestamped_signature_and_replay_window() -> None:
    auth = HmacAuth(method="hmac", header="X-WPForms-Webhook-Signature", scheme="timestamped", tolerance=300)
    header = {"x-wpforms-webhook-signature": wpforms_signature(SECRET, BODY, at=1_741_000_000)}
    assert status(lambda: check_signature(auth, SECRET, header, BODY, 1_741_000_100)) == 200
    assert status(lambda: check_signature(auth, SECRET, header, BODY, 1_741_000_301)) == 403  # too old: a replay
    assert status(lambda: check_signature(auth, "other", header, BODY, 1_741_000_100)) == 403
    garbled = {"x-wpforms-webhook-signature": "v=abc"}
    assert status(lambda: check_signature(auth, SECRET, garbled, BODY, 1_741_000_100)) == 403


def test_rate_limit_is_a_token_bucket_per_source_and_address() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = RateLimit(per_minute=60, burst=3)
    assert [limiter.allow("tilda", "1.1.1.1", limit) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("tilda", "2.2.2.2", limit) and limiter.allow("cf7", "1.1.1.1", limit)
    now[0] = 1.0  # one second: one more request (60 per minute)
    assert [limiter.allow("tilda", "1.1.1.1", limit) for _ in range(2)] == [True, False]
