"""The intake as a running service: sources, committer, wake-ups and the app, served by uvicorn.

After each group commit the exchanges reading the streams that got new submissions are woken through
:mod:`hub.wakeup` (its waker queues and coalesces, and never blocks the committer).

``hub serve intake`` runs it in the foreground; the demo and the tests run it in a thread on a socket of
their own (port 0: any free port). The socket is bound before the server starts, so :attr:`url` is
known at once.

Slow senders: a request's headers must arrive within ``header_timeout`` seconds and its body within
``body_timeout`` (408 otherwise), and each source has ``limits.max_in_flight``. Rate limits are shared
by every replica through Redis when ``redis_url`` is given, else kept per replica (see ratelimit.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable

import uvicorn

from connectors.website.app import BODY_TIMEOUT, create_app
from connectors.website.committer import InboxCommitter
from connectors.website.protocol import guarded_protocol
from connectors.website.ratelimit import Limiter, RateLimiter, SharedRateLimiter, namespace
from connectors.website.sources import ServedSource, served_sources
from hub.app import Hub
from hub.errors import ConfigError
from hub.logs import get_logger
from hub.state import InboxItem
from hub.wakeup import Waker, inbox_asset, waker_from_env

log = get_logger("hub.website.intake")
HEADER_TIMEOUT = 10.0  # seconds a sender has for its request line and headers (default of --header-timeout)


class IntakeService:
    def __init__(self, hub: Hub, exchanges: Iterable[str] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, waker: Waker | None = None, max_group: int = 512,
                 forwarded_allow_ips: str | None = None, header_timeout: float = HEADER_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT, redis_url: str | None = None):
        self.hub = hub
        self.sources: list[ServedSource] = served_sources(hub, exchanges)
        self.socket = _bind(host, port)  # before any thread starts: a busy port is just a clear error
        self.waker = waker or waker_from_env()
        self.committer = InboxCommitter(hub.store, max_group=max_group, on_committed=self._wake)
        self.app = create_app(self.sources, self.committer, self._limiter(redis_url), health=self._health,
                              body_timeout=body_timeout)
        self.config = uvicorn.Config(
            self.app, loop="auto", http=guarded_protocol(header_timeout), lifespan="off",
            access_log=False,  # an access log would show ?token=
            log_level="warning", proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips, timeout_keep_alive=30)
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def run(self) -> None:
        """Serve in the foreground until interrupted (SIGINT/SIGTERM), then commit what is queued."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.close()

    def start(self, timeout: float = 15.0) -> IntakeService:
        """Serve in a background thread (no signal handlers there); returns once requests are accepted."""
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                        name="intake-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()  # the committer's thread and the socket go too
                raise RuntimeError("the intake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self.close()

    def close(self) -> None:
        self.app.state.parse_pool.shutdown(wait=False, cancel_futures=True)
        self.committer.close()
        self.waker.close()
        self.socket.close()

    def __enter__(self) -> IntakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wake(self, items: list[InboxItem]) -> None:
        for stream in sorted({item.stream for item in items}):
            try:
                self.waker.wake(inbox_asset(stream))
            except Exception as exc:  # a hint, never the delivery: the submissions are committed already
                log.warning("wake-up failed", stream=stream, error=type(exc).__name__)

    def _limiter(self, redis_url: str | None) -> Limiter:
        if not redis_url:
            return RateLimiter()
        hub_database = self.hub.store.engine.url.render_as_string(hide_password=True)
        return SharedRateLimiter(redis_url, namespace(hub_database))

    def _health(self) -> None:
        self.hub.store.inbox_read("__health__", 0, 1)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"the intake cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
