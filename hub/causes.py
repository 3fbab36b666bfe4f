"""What went wrong on the network, in words an operator acts on: refused, timed out, DNS, TLS, reset.

Connectors turn network failures into hub errors with short messages ("read $metadata failed in transit
(ConnectionError)"); the low-level exception is still in the chain (``__cause__``, ``__context__``, and the
wrapped exceptions of requests, urllib3, httpx and SQLAlchemy). :func:`network_cause` walks that chain and names
the cause with the peer's address when one is known: "connection refused by 127.0.0.1:18099".
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit

Cause = Literal["connection refused", "timed out", "DNS lookup failed", "TLS failed", "connection reset"]

#: how database drivers word the same causes (they keep no socket error in their chain)
_TEXTS: tuple[tuple[re.Pattern[str], Cause], ...] = (
    (re.compile(r"connection refused|can't connect to .* \(111\)", re.I), "connection refused"),
    (re.compile(r"timed? ?out|timeout expired", re.I), "timed out"),
    (re.compile(r"could not translate host name|name or service not known|unknown (mysql )?server host|"
                r"temporary failure in name resolution", re.I), "DNS lookup failed"),
    (re.compile(r"\bssl\b|\btls\b|certificate", re.I), "TLS failed"),
    (re.compile(r"connection reset", re.I), "connection reset"),
)
_PEER_IN_TEXT = re.compile(r'at "([^"]+)", port (\d+)|\(host=([^,)]+), port=(\d+)')


def network_cause(exc: BaseException) -> str | None:
    """``"<cause> by|for|with <host:port>"`` for a network failure somewhere in ``exc``'s chain, else None."""
    chain = list(_chain(exc))
    cause = next((found for e in chain if (found := _classify(e))), None)
    if cause is None:
        return None
    address = next((peer for e in chain if (peer := _peer(e))), None)
    if address is None:
        return cause
    word = {"connection refused": "by", "connection reset": "by", "DNS lookup failed": "for"}.get(cause, "with")
    if cause == "DNS lookup failed":
        address = address.rsplit(":", 1)[0]
    return f"{cause} {word} {address}"


def _chain(exc: BaseException, seen: set[int] | None = None) -> Iterator[BaseException]:
    """``exc`` and everything it wraps, depth first, each once."""
    seen = seen if seen is not None else set()
    if id(exc) in seen:
        return
    seen.add(id(exc))
    yield exc
    wrapped = [exc.__cause__, exc.__context__, getattr(exc, "reason", None), getattr(exc, "orig", None),
               *(arg for arg in exc.args if isinstance(arg, BaseException))]
    for inner in wrapped:
        if isinstance(inner, BaseException):
            yield from _chain(inner, seen)


def _classify(exc: BaseException) -> Cause | None:
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):  # before OSError: SSLError is one
        return "TLS failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "DNS lookup failed"
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:  # requests', httpx's, urllib3's
        return "timed out"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if type(exc).__module__.split(".")[0] in ("psycopg", "pymysql", "sqlalchemy", "firebird"):
        text = str(exc)
        return next((cause for pattern, cause in _TEXTS if pattern.search(text)), None)
    return None


def _peer(exc: BaseException) -> str | None:
    """The address the failed call went to, from what the libraries keep on their exceptions."""
    request = _request(exc)
    if request is not None:
        parts = urlsplit(str(getattr(request, "url", "")))
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        return f"{parts.hostname}:{port}" if parts.hostname else None
    conn = getattr(exc, "conn", None) or getattr(exc, "pool", None)  # urllib3's NewConnectionError, pool errors
    host, port = getattr(conn, "host", None), getattr(conn, "port", None)
    if isinstance(host, str) and host:
        return f"{host}:{port}" if port else host
    found = _PEER_IN_TEXT.search(str(exc))
    if found:
        return f"{found.group(1) or found.group(3)}:{found.group(2) or found.group(4)}"
    return None


def _request(exc: BaseException) -> object | None:
    try:  # httpx raises RuntimeError when an exception has no request
        request = getattr(exc, "request", None)
    except RuntimeError:
        return None
    return request if getattr(request, "url", None) else None
