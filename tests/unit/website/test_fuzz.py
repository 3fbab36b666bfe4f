"""Property tests: no body, header or value a client can send makes the parsers fail in any way but a
:class:`Refused` (a 4xx), and whatever they accept can be stored and read back unchanged."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.website import receive
from connectors.website.body import decode_body
from connectors.website.config import FormSource, Limits, TokenAuth
from connectors.website.errors import Refused
from connectors.website.formats import FORMATS
from connectors.website.formats.base import WrongType
from connectors.website.keys import MAX_KEY, submission_keys
from connectors.website.sources import ServedSource
from hub.state import codec
from hub.state.store import InboxItem

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits(max_body_bytes=64 * 1024, max_depth=8, max_fields=200, max_field_chars=2000)
CONTENT_TYPES = st.one_of(
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                     "application/x-www-form-urlencoded; charset=windows-1251", "application/json; charset=utf-16",
                     "multipart/form-data", "text/plain", ""]),
    st.text(max_size=60))
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=30)
SOURCES = {name: FormSource(format=name, connection="c", keep_answers=True) for name in FORMATS}


def normalize_everywhere(data: dict) -> None:
    for name, fmt in FORMATS.items():
        try:
            submission = fmt.normalize(name[:20], SOURCES[name], data)
        except WrongType as wrong:  # answered 422 naming the field: it must name one the sender sent
            named = wrong.key.casefold()  # the key itself (it may hold a "/"), or a path inside one
            assert any(named == sent or named.startswith(f"{sent}/")
                       for sent in (str(k).casefold() for k in fmt.unwrap(data)))
            continue
        payload = submission.payload()
        assert codec.loads(codec.dumps(payload)) == payload  # stored and read back exactly
        key, seen = submission_keys(submission, dt.datetime(2025, 3, 3, tzinfo=dt.UTC), 600)
        assert len(key) <= MAX_KEY and all(len(k) <= MAX_KEY for k in seen)


@FUZZ
@given(content_type=CONTENT_TYPES, raw=st.binary(max_size=2048))
def test_any_bytes_are_parsed_or_refused(content_type: str, raw: bytes) -> None:
    try:
        body = decode_body(content_type, None, raw, LIMITS)
    except Refused as refused:
        assert 400 <= refused.status < 500 and refused.message
        return
    normalize_everywhere(body.data)


@FUZZ
@given(document=st.dictionaries(TEXT, JSON, max_size=8), charset=st.sampled_from(["utf-8", "utf-16", "cp1251"]))
def test_any_json_object_is_normalized_by_every_format(document: dict, charset: str) -> None:
    try:
        raw = json.dumps(document, ensure_ascii=False).encode(charset)
    except UnicodeEncodeError:
        return  # not representable in that charset: a sender could not send it
    try:
        body = decode_body(f"application/json; charset={charset}", None, raw, LIMITS)
    except Refused as refused:
        assert refused.status in (400, 413, 422)
        return
    assert body.data == json.loads(raw.decode(charset))
    normalize_everywhere(body.data)


@FUZZ
@given(pairs=st.lists(st.tuples(st.text(alphabet="ab[]%0xЖ=&+", max_size=12), TEXT), max_size=30))
def test_any_form_keys_and_values(pairs: list[tuple[str, str]]) -> None:
    raw = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode() or b"x=1"
    try:
        body = decode_body("application/x-www-form-urlencoded", None, raw, LIMITS)
    except Refused as refused:
        assert refused.status in (400, 422)
        return
    normalize_everywhere(body.data)


SOURCE = ServedSource(name="tilda", exchange="x", stream="website", config=SOURCES["tilda"], format=FORMATS["tilda"],
                      auth=TokenAuth(header="X-API-Key", query="token", field="X-API-Key"), secret=SecretStr("k"))


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["content-type", "x-api-key", "authorization", "content-encoding",
                                                "user-agent"]), TEXT, max_size=5),
       query=st.dictionaries(st.sampled_from(["token", "x"]), TEXT, max_size=2), raw=st.binary(max_size=512))
def test_a_whole_request_is_accepted_pinged_or_refused(headers: dict, query: dict, raw: bytes) -> None:
    request = receive.Request(headers=headers, query=query, body=raw, client="198.51.100.7",
                              received=dt.datetime(2025, 3, 3, tzinfo=dt.UTC))
    try:
        outcome = receive.accept(SOURCE, request)
    except Refused as refused:
        assert 400 <= refused.status < 500
        return
    assert isinstance(outcome, InboxItem | receive.Ping)
