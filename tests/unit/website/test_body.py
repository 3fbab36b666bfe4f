"""Request bodies: what each content type and charset becomes, and every limit's 4xx."""

from __future__ import annotations

import pytest

from connectors.website.body import decode_body
from connectors.website.config import Limits
from connectors.website.errors import Refused

FORM = "application/x-www-form-urlencoded"


DEFAULT = Limits()


def body(content_type: str | None, raw: bytes, limits: Limits = DEFAULT, encoding: str | None = None):
    return decode_body(content_type, encoding, raw, limits)


def refused(content_type: str | None, raw: bytes, limits: Limits = DEFAULT, encoding: str | None = None) -> Refused:
    with pytest.raises(Refused) as caught:
        body(content_type, raw, limits, encoding)
    return caught.value


def test_urlencoded_in_utf8_and_in_a_declared_windows_1251() -> None:
    assert body(FORM, b"Name=%D0%98%D0%B2%D0%B0%D0%BD&Phone=%2B7+916").data == {"Name": "Иван", "Phone": "+7 916"}
    escaped = body(FORM + "; charset=windows-1251", b"Name=%C8%E2%E0%ED").data
    raw_bytes = body(FORM + "; charset=Windows-1251", "Name=Иван".encode("cp1251")).data
    assert escaped == raw_bytes == {"Name": "Иван"}


def test_json_with_a_byte_order_mark_and_a_declared_charset() -> None:
    assert body("application/json", b'\xef\xbb\xbf{"a": "b"}').data == {"a": "b"}
    assert body("application/json; charset=windows-1251", '{"a": "Ёж"}'.encode("cp1251")).data == {"a": "Ёж"}
    assert body("application/vnd.api+json", b'{"a": 1}').kind == "json"


def test_php_bracket_keys_become_nested_data_and_repeated_keys_lists() -> None:
    data = body(FORM, b"form%5Bid%5D=1&fields%5Bname%5D%5Bvalue%5D=Olga&a%5B%5D=1&a%5B%5D=2&x=1&x=2").data
    assert data == {"form": {"id": "1"}, "fields": {"name": {"value": "Olga"}}, "a": ["1", "2"], "x": ["1", "2"]}
    clash = body(FORM, b"a=1&a%5Bb%5D=2&c%5B=3&d%5Be%5Df%5D=4").data  # contradicting or malformed brackets stay flat
    assert clash == {"a": "1", "a[b]": "2", "c[": "3", "d[e]f]": "4"}


def test_multipart_text_fields_with_part_charsets_and_files_not_stored() -> None:
    raw = (b'--B\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xd0\x98\xd0\xb2\r\n'
           b'--B\r\nContent-Disposition: form-data; name="city"\r\nContent-Type: text/plain; charset=windows-1251\r\n'
           b'\r\n\xcc\xee\xf1\xea\xe2\xe0\r\n'
           b'--B\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\nContent-Type: application/pdf\r\n'
           b'\r\n%PDF\r\n--B--\r\n')
    parsed = body("multipart/form-data; boundary=B", raw)
    assert parsed.data == {"name": "Ив", "city": "Москва"}
    assert parsed.files_dropped == 1


@pytest.mark.parametrize(("content_type", "raw", "status", "code"), [
    (FORM, b"   ", 400, "empty_body"),
    ("text/plain", b"a=1", 415, "unsupported_content_type"),
    (None, b"a=1", 415, "unsupported_content_type"),
    (FORM + "; charset=klingon", b"a=1", 415, "unsupported_charset"),
    (FORM + "; charset=hex", b"a=1", 415, "unsupported_charset"),
    (FORM + "; charset=undefined", b"a=1", 415, "unsupported_charset"),
    ("application/json; charset=punycode", b'{"a": "b"}', 400, "invalid_encoding"),
    (FORM + "; charset=punycode", b"a=b-%FF", 400, "invalid_encoding"),
    ("application/json", b"{", 400, "malformed_body"),
    ("application/json", b'"just text"', 400, "malformed_body"),
    ("application/json", b'{"a": Infinity}', 400, "malformed_body"),
    ("application/json", b"\xc3\x28", 400, "invalid_encoding"),
    (FORM, b"a=%C3%28", 400, "invalid_encoding"),
    ("application/json", b'{"a": "\\u0000"}', 400, "invalid_character"),
    ("application/json", b'{"a\\u0000": 1}', 400, "invalid_character"),
    ("application/json", b'{"a": "\\udfff"}', 400, "invalid_encoding"),
    ("application/json", b'{"a":' * 17 + b"1" + b"}" * 17, 422, "too_deep"),
    ("application/json", b"[" * 100_000 + b"]" * 100_000, 422, "too_deep"),
    ("multipart/form-data", b"--B\r\n", 400, "malformed_body"),
])
def test_refusals(content_type: str | None, raw: bytes, status: int, code: str) -> None:
    error = refused(content_type, raw)
    assert (error.status, error.code) == (status, code)
    assert error.message


def test_limits_are_the_sources_own() -> None:
    small = Limits(max_body_bytes=1024, max_depth=3, max_fields=5, max_field_chars=16)
    assert refused(FORM, b"a=" + b"x" * 1100, small).status == 413
    assert refused(FORM, b"&".join(b"f%d=1" % i for i in range(6)), small).code == "too_many_fields"
    assert refused("application/json", b'{"a": [1, 2, 3, 4, 5, 6]}', small).code == "too_many_fields"
    long = refused("application/json", b'{"Name": "' + b"x" * 17 + b'"}', small)
    assert (long.status, long.code, long.field) == (422, "field_too_long", "Name")
    assert refused("application/json", b'{"a": {"b": {"c": {"d": 1}}}}', small).code == "too_deep"
    assert refused("application/json", b"{}", small, encoding="gzip").code == "unsupported_content_type"
    assert body("application/json", b'{"a": {"b": 1}}', small).data == {"a": {"b": 1}}
