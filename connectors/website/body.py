"""Raw request body -> plain data (dicts, lists, text), within limits, or a :class:`Refused` saying why not.

Accepted: ``application/json``, ``application/x-www-form-urlencoded`` and ``multipart/form-data``, in
UTF-8 or the charset the request declares (``windows-1251`` from old 1C-Bitrix sites). Form keys in PHP's
bracket syntax (``fields[name][value]``, ``contacts[phone]``, ``a[]``) become nested data, as PHP senders
(WordPress plugins, Marquiz) mean them. Decoding is strict: bytes that are not valid in the declared
charset are an error, not replaced silently, so what is stored is exactly what was sent. Uploaded files
are not stored (only counted).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from connectors.website.config import Limits
from connectors.website.errors import Refused, malformed

Data = dict[str, Any]
BodyKind = Literal["json", "form", "multipart"]
MAX_KEY_CHARS = 1000


@dataclass
class Body:
    data: Data
    kind: BodyKind
    files_dropped: int = 0


class _TooManyParts(Exception):
    """Raised inside the multipart parser's callback to stop it (more parts than ``max_fields``)."""


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


def decode_body(content_type: str | None, content_encoding: str | None, raw: bytes, limits: Limits) -> Body:
    if len(raw) > limits.max_body_bytes:
        raise Refused(413, "body_too_large", f"the body is larger than {limits.max_body_bytes} bytes")
    if content_encoding and content_encoding.strip().lower() not in ("identity", ""):
        raise Refused(415, "unsupported_content_type", "compressed bodies (Content-Encoding) are not accepted")
    if not raw.strip():
        raise Refused(400, "empty_body", "the body is empty")
    # header values are latin-1 on the wire; anything else (only possible in-process) must not break parsing
    media_bytes, params = parse_options_header((content_type or "").encode("latin-1", "replace"))
    media = media_bytes.decode("latin-1").lower()
    charset = _charset(params.get(b"charset"))
    if media == "application/json" or media.endswith("+json"):
        body = Body(_json(raw, charset, limits), "json")
    elif media == "application/x-www-form-urlencoded":
        body = Body(_nest(_urlencoded(raw, charset, limits), limits), "form")
    elif media == "multipart/form-data":
        pairs, files = _multipart(raw, params.get(b"boundary"), charset, limits)
        body = Body(_nest(pairs, limits), "multipart", files)
    else:
        shown = media or "none"
        raise Refused(415, "unsupported_content_type", f"content type {shown[:100]!r} is not accepted; send "
                      "application/json, application/x-www-form-urlencoded or multipart/form-data")
    check(body.data, limits)
    return body


def _charset(value: bytes | None) -> str:
    name = (value or b"utf-8").decode("latin-1").strip().strip('"').lower()
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise Refused(415, "unsupported_charset", f"charset {name[:40]!r} is not known") from None
    try:
        "".encode(info.name)  # bytes-to-bytes codecs (base64, zlib...) are not text encodings
    except (LookupError, UnicodeError):  # UnicodeError: the 'undefined' codec, which refuses everything
        raise Refused(415, "unsupported_charset", f"charset {name[:40]!r} is not a text encoding") from None
    return "utf-8-sig" if info.name == "utf-8" else info.name  # a byte-order mark is not part of the text


def _text(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (UnicodeError, LookupError):  # not only UnicodeDecodeError: punycode raises its parent
        raise Refused(400, "invalid_encoding", f"the body is not valid {charset.removesuffix('-sig')} text") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json(raw: bytes, charset: str, limits: Limits) -> Data:
    text = _text(raw, charset)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise Refused(422, "too_deep", f"the JSON is nested deeper than {limits.max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise malformed(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN/Infinity, integers longer than Python converts
        raise malformed(f"invalid JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise malformed(f"expected a JSON object, got {type(data).__name__.replace('dict', 'object')}")
    return data


def _urlencoded(raw: bytes, charset: str, limits: Limits) -> list[tuple[str, str]]:
    text = _text(raw, charset)
    try:
        return parse_qsl(text, keep_blank_values=True, encoding=charset.removesuffix("-sig"), errors="strict",
                         max_num_fields=limits.max_fields)
    except UnicodeError:  # before ValueError, which it is a kind of
        raise Refused(400, "invalid_encoding", "a %-escaped value is not valid "
                      f"{charset.removesuffix('-sig')} text") from None
    except ValueError:
        raise _too_many(limits) from None


def _multipart(raw: bytes, boundary: bytes | None, charset: str, limits: Limits) -> tuple[list[tuple[str, str]], int]:
    if not boundary:
        raise malformed("multipart body without a boundary in its Content-Type")
    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()

    def on_header_end() -> None:
        parts[-1].headers[header_name.decode("latin-1").lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_part_begin() -> None:
        if len(parts) == limits.max_fields:  # stop at once: reading 20,000 tiny parts only to refuse them is waste
            raise _TooManyParts
        parts.append(_Part())

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": lambda data, start, end: parts[-1].data.extend(data[start:end]),
        "on_header_field": lambda data, start, end: header_name.extend(data[start:end]),
        "on_header_value": lambda data, start, end: header_value.extend(data[start:end]),
        "on_header_end": on_header_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(raw)
        parser.finalize()
    except _TooManyParts:
        raise _too_many(limits) from None
    except (MultipartParseError, ValueError, IndexError) as exc:
        raise malformed(f"invalid multipart body: {str(exc)[:100]}") from None
    pairs: list[tuple[str, str]] = []
    files = 0
    for part in parts:
        _, options = parse_options_header(part.headers.get("content-disposition", b""))
        if b"name" not in options:
            raise malformed("a multipart part has no name in its Content-Disposition")
        if b"filename" in options:
            files += 1  # uploads are not stored
            continue
        _, part_params = parse_options_header(part.headers.get("content-type", b""))
        part_charset = _charset(part_params[b"charset"]) if b"charset" in part_params else charset
        pairs.append((_text(options[b"name"], part_charset), _text(bytes(part.data), part_charset)))
    return pairs, files


# -- PHP bracket keys -> nested data ------------------------------------------------------------------------

def _nest(pairs: Iterable[tuple[str, str]], limits: Limits) -> Data:
    root: Data = {}
    for key, value in pairs:
        if len(key) > MAX_KEY_CHARS:  # before the brackets are read: a hostile key costs one length check
            raise Refused(422, "field_too_long", f"a field name is longer than {MAX_KEY_CHARS} characters",
                          field=key[:100])
        path = _bracket_path(key, limits.max_depth)
        if path is None:
            _put(root, key, value)
            continue
        if not _assign(root, path, value):
            _put(root, key, value)  # the brackets contradict an earlier key: keep the key as sent
    return root


def _bracket_path(key: str, max_depth: int) -> list[str] | None:
    """``a[b][]`` -> ``['a', 'b', '']``; None for a plain key or brackets that are not well formed.

    One pass over the key (each ``find`` starts where the last one ended), stopped at ``max_depth``
    segments: a key of 340,000 ``[x]`` costs no more than a plain key of the same length.
    """
    start = key.find("[")
    if start <= 0 or not key.endswith("]"):
        return None
    path = [key[:start]]
    position = start
    while position < len(key):
        end = key.find("]", position)
        if key[position] != "[" or end < 0 or key.find("[", position + 1, end) >= 0:
            return None
        if len(path) == max_depth:
            raise Refused(422, "too_deep", f"the key is nested deeper than {max_depth} levels", field=key[:100])
        path.append(key[position + 1:end])
        position = end + 1
    return path


def _assign(node: Data, path: list[str], value: str) -> bool:
    for position, part in enumerate(path[:-1]):
        if path[position + 1] == "" and position + 2 == len(path):  # a[]=v: append to a list
            existing = node.setdefault(part, [])
            if not isinstance(existing, list):
                return False
            existing.append(value)
            return True
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False
        node = child
    if isinstance(node.get(path[-1]), dict):
        return False
    _put(node, path[-1], value)
    return True


def _put(node: Data, key: str, value: Any) -> None:
    """Set a value; a repeated key (``a=1&a=2``) collects its values in a list."""
    if key not in node:
        node[key] = value
    elif isinstance(node[key], list):
        node[key].append(value)
    else:
        node[key] = [node[key], value]


# -- limits ---------------------------------------------------------------------------------------------

def check(data: Any, limits: Limits) -> None:
    """Depth, value count, text length and characters, in one pass without recursion."""
    values = 0
    stack: list[tuple[Any, int, str | None]] = [(data, 1, None)]
    while stack:
        node, depth, name = stack.pop()
        if isinstance(node, dict | list):
            if depth > limits.max_depth:
                raise Refused(422, "too_deep", f"the data is nested deeper than {limits.max_depth} levels",
                              field=name)
            if isinstance(node, dict):
                for key, item in node.items():
                    _check_text(key, MAX_KEY_CHARS, None, "a field name")
                    stack.append((item, depth + 1, key))
            else:
                stack.extend((item, depth + 1, name) for item in node)
            continue
        values += 1
        if values > limits.max_fields:
            raise _too_many(limits)
        if isinstance(node, str):
            _check_text(node, limits.max_field_chars, name, "a value")


def _check_text(text: str, limit: int, name: str | None, what: str) -> None:
    shown = None if name is None else name[:100]
    if len(text) > limit:
        raise Refused(422, "field_too_long", f"{what} is longer than {limit} characters", field=shown)
    if "\x00" in text:
        raise Refused(400, "invalid_character", f"{what} contains a NUL character", field=shown)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape: not text at all
        raise Refused(400, "invalid_encoding", f"{what} contains an unpaired surrogate escape",
                      field=shown) from None


def _too_many(limits: Limits) -> Refused:
    return Refused(422, "too_many_fields", f"the submission has more than {limits.max_fields} values")
