"""Is this request really from the configured sender? A shared token, or an HMAC signature of the body.

Comparisons run in constant time. A request without credentials gets 401, with wrong ones 403. A token
may come in a header (``Authorization: Bearer <token>`` is always understood), the query string or
(Tilda's "API key in the body") a body field; a signature in a
header, over the raw body exactly as received.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping

from connectors.website.body import Data
from connectors.website.config import HmacAuth, TokenAuth
from connectors.website.errors import Refused

#: ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses; 12 digits reach year 33658
_UNIX_TIME = re.compile(r"[0-9]{1,12}")
_MISSING = Refused(401, "missing_credentials", "this endpoint needs the sender's token or signature")
_WRONG = Refused(403, "bad_credentials", "the token or signature is not valid for this source")


def header_or_query_token(auth: TokenAuth, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token from the configured header, ``Authorization: Bearer``, or the query string."""
    if auth.header and auth.header.lower() != "authorization" and headers.get(auth.header.lower()):
        return headers[auth.header.lower()]
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        return bearer.strip()
    if auth.query and query.get(auth.query):
        return query[auth.query]
    return None


def body_token(auth: TokenAuth, data: Data) -> str | None:
    value = data.get(auth.field) if auth.field else None
    return value if isinstance(value, str) and value else None


def check_token(presented: str | None, secret: str) -> None:
    if presented is None:
        raise _MISSING
    if not hmac.compare_digest(presented.encode("utf-8"), secret.encode("utf-8")):
        raise _WRONG


def check_signature(auth: HmacAuth, secret: str, headers: Mapping[str, str], raw: bytes, now: float) -> None:
    header = headers.get(auth.header.lower())
    if not header:
        raise _MISSING
    signed = raw
    signature = header.strip()
    if auth.scheme == "timestamped":
        parts = dict(item.strip().partition("=")[::2] for item in signature.split(","))
        stamp, signature = parts.get("t", ""), parts.get("v", "")
        if not _UNIX_TIME.fullmatch(stamp) or abs(now - int(stamp)) > auth.tolerance:
            raise Refused(403, "bad_credentials", "the signature's time is missing or too far from now")
        signed = stamp.encode("ascii") + b"." + raw
    if auth.prefix and signature.startswith(auth.prefix):
        signature = signature[len(auth.prefix):]
    expected = hmac.new(secret.encode("utf-8"), signed, getattr(hashlib, auth.algorithm)).digest()
    if not hmac.compare_digest(_decode(signature, auth.encoding), expected):
        raise _WRONG


def _decode(signature: str, encoding: str) -> bytes:
    try:
        return bytes.fromhex(signature) if encoding == "hex" else base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return b""  # not even well formed: compared (and refused) like any wrong signature
