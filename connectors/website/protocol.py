"""uvicorn's HTTP protocol with a header read timeout: a sender that does not finish its request line and
headers within ``header_timeout`` seconds gets 408 and the connection is closed.

uvicorn itself has no such timeout: its keep-alive timer is armed only after a response and cancelled by
the first byte of the next request, so a connection that sends headers one byte at a time (or opens and
sends nothing) is held for ever, and a few thousand of them exhaust the server. The deadline runs from
the connection's opening (or the first byte of a following request) to the end of the headers; the body
has its own deadline in the app (``body_timeout``), where the form source is known. Bytes that arrive
between requests (even bare CRLFs, which cancel uvicorn's keep-alive timer) start the header deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s")
_TIMEOUT_BODY = (b'{"error": {"code": "request_timeout", "message": "the request headers were not sent in time", '
                 b'"field": null}}')


def guarded_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this header timeout."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:  # bytes of a next request (or only CRLFs,
                self._arm()  # which cancel uvicorn's keep-alive timer without beginning a request)
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _headers_late(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:  # not while a response is being written
                self.transport.write(_TIMEOUT_RESPONSE % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))
            self.transport.close()

    return HeaderDeadlineProtocol
