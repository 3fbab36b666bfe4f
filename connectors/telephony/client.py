"""One AMI session, built on the ``asterisk-ami`` package, with its known reliability problems fixed.

``asterisk-ami`` (``asterisk.ami.AMIClient``) gives us the wire format: framing of the byte stream into
messages, parsing of ``Event``/``Response`` messages and rendering of actions (``Variable:`` lines
included). What it does not do well, and what :class:`AmiClient` changes (see docs/telephony.md):

* ``connect()`` blocks with no connect timeout (python-ami PR #35): we connect with ``connect_timeout``;
* the default 3 s socket timeout drops quiet links (#47): the socket blocks; liveness is our ping;
* ``send()`` may send part of an action and is not thread-safe (PR #66): ``sendall`` under a lock, and a
  broken pipe becomes a :class:`~hub.errors.RetriableError`;
* an error while reading the greeting kills the reader thread without ``on_disconnect``: always reported;
* waiting on a ``FutureResponse`` without a timeout can deadlock (PR #50): we wait on our own events,
  always with a timeout;
* callbacks run on the reader thread, so a slow consumer stalls the socket (and Asterisk then drops the
  session): the reader only hands each event to ``on_event``, which must not block (the listener puts it
  on an in-memory queue).

:class:`AmiSession` adds login, actions with answers, list actions (``EventList``) and ping.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asterisk.ami import Action, AMIClient, Event, Response

from connectors.telephony.config import PbxConfig
from hub.errors import AuthError, RetriableError

#: (event name, fields with "Event" included, local wall time, perf_counter) -> None; must not block
EventSink = Callable[[dict[str, str], float, float], None]
_ids = itertools.count(1)


class AmiClient(AMIClient):  # type: ignore[misc]  # asterisk-ami ships no types: its base class is Any
    """``asterisk.ami.AMIClient`` with a connect timeout, a blocking socket, safe sends and a reader that
    always reports its end."""

    def __init__(self, host: str, port: int, connect_timeout: float, buffer_size: int = 65536):
        super().__init__(address=host, port=port, timeout=None, buffer_size=buffer_size)
        self._connect_timeout = connect_timeout
        self._send_lock = threading.Lock()
        self.ended = threading.Event()  # set when the reader thread stops, whatever the reason

    def connect(self) -> None:
        try:
            sock = socket.create_connection((self._address, self._port), timeout=self._connect_timeout)
        except OSError as exc:
            raise RetriableError(f"cannot connect to the AMI at {self._address}:{self._port}: "
                                 f"{exc.strerror or exc}") from None
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._socket = sock
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self.listen, name=f"ami-reader-{self._port}", daemon=True)
        self._thread.start()

    def listen(self) -> None:
        try:
            super().listen()
        except Exception as exc:  # the greeting could not be read: report it like any other end
            self._fire_on_disconnect(error=exc)
        finally:
            self.ended.set()

    def send(self, pack: Any) -> None:
        data = (str(pack) + "\r\n").encode(self.encoding)
        try:
            with self._send_lock:
                self._socket.sendall(data)
        except OSError as exc:
            raise RetriableError(f"the AMI connection to {self._address}:{self._port} is broken: "
                                 f"{exc.strerror or exc}") from None

    def close(self) -> None:
        if self.finished is not None:
            self.finished.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv()
            self._socket.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None
    events: list[dict[str, str]] = field(default_factory=list)  # EventList actions: the listed items
    complete: threading.Event = field(default_factory=threading.Event)


class AmiSession:
    """A logged-in AMI session: actions with their answers, list actions, ping; events to ``on_event``."""

    def __init__(self, config: PbxConfig, on_event: EventSink | None = None, events: bool = True,
                 on_disconnect: Callable[[BaseException | None], None] | None = None):
        self.config = config
        self._on_event = on_event
        self._events = events
        self._on_disconnect = on_disconnect
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self.last_activity = time.monotonic()  # when a message last arrived (the link is alive)
        self._client = AmiClient(config.host, config.port, config.connect_timeout)
        self._client.add_listener(on_event=self._event, on_response=self._response,
                                  on_disconnect=self._disconnected)

    # -- lifecycle

    def open(self) -> None:
        """Connect and log in. Raises AuthError (wrong credentials) or RetriableError (anything else)."""
        self._client.connect()
        try:
            answer = self.action("Login", [("Username", self.config.username),
                                           ("Secret", self.config.secret.get_secret_value()),
                                           ("Events", "on" if self._events else "off")],
                                 timeout=self.config.connect_timeout)
        except BaseException:
            self.close(logoff=False)
            raise
        if answer.get("Response", "").lower() != "success":
            self.close(logoff=False)
            raise AuthError(f"{self.config.where} refused the login of user {self.config.username!r}: "
                            f"{answer.get('Message') or answer.get('Response')}")

    @property
    def alive(self) -> bool:
        return not self._client.ended.is_set()

    def close(self, logoff: bool = True) -> None:
        if logoff and self.alive:
            with contextlib.suppress(RetriableError):
                self.action("Logoff", [], timeout=1.0)
        self._client.close()

    # -- actions

    def action(self, name: str, fields: Sequence[tuple[str, str]], variables: dict[str, str] | None = None,
               timeout: float | None = None) -> dict[str, str]:
        """Send an action and wait for its ``Response`` (as a dict). RetriableError if none comes in time."""
        waiter, action_id = self._send(name, fields, variables)
        try:
            if not waiter.done.wait(timeout or self.config.ping_timeout) or waiter.response is None:
                raise RetriableError(f"{self.config.where} did not answer {name} in time")
            response = waiter.response
        finally:
            with self._lock:
                self._waiters.pop(action_id, None)
        return {"Response": response.status, **response.keys}

    def list_action(self, name: str, fields: Sequence[tuple[str, str]] = (), timeout: float = 10.0,
                    ) -> list[dict[str, str]]:
        """An action answered by a list of events (``EventList: start`` ... ``...Complete``)."""
        waiter, action_id = self._send(name, fields, None)
        try:
            deadline = time.monotonic() + timeout
            if not waiter.done.wait(timeout) or waiter.response is None:
                raise RetriableError(f"{self.config.where} did not answer {name} in time")
            if waiter.response.is_error():
                raise RetriableError(f"{self.config.where} refused {name}: {waiter.response.keys.get('Message')}")
            if not waiter.complete.wait(max(0.0, deadline - time.monotonic())):
                raise RetriableError(f"{self.config.where} did not finish the {name} list in time")
            return waiter.events
        finally:
            with self._lock:
                self._waiters.pop(action_id, None)

    def ping(self) -> float:
        """The PBX's clock (``Timestamp`` of the Pong), or the local clock if it does not say.

        During a burst the Pong waits behind megabytes of events still to be read: as long as messages keep
        arriving the link is alive, so the wait goes on (up to ten timeouts) instead of dropping a busy link.
        """
        waiter, action_id = self._send("Ping", [], None)
        try:
            for _ in range(10):
                seen = self.last_activity
                if waiter.done.wait(self.config.ping_timeout) or self.last_activity == seen:
                    break
            if waiter.response is None:
                raise RetriableError(f"{self.config.where} did not answer Ping in time")
            answer = dict(waiter.response.keys)
        finally:
            with self._lock:
                self._waiters.pop(action_id, None)
        try:
            return float(answer.get("Timestamp", ""))
        except ValueError:
            return time.time()

    def _send(self, name: str, fields: Sequence[tuple[str, str]], variables: dict[str, str] | None,
              ) -> tuple[_Waiter, str]:
        keys = dict(fields)
        action_id = keys.pop("ActionID", None) or f"hub-{next(_ids)}"
        action = Action(name, {"ActionID": action_id, **keys}, variables or {})
        waiter = _Waiter()
        with self._lock:
            self._waiters[action_id] = waiter
        try:
            self._client.send(action)
        except RetriableError:
            with self._lock:
                self._waiters.pop(action_id, None)
            raise
        return waiter, action_id

    # -- callbacks (on the reader thread: quick, never blocking)

    def _response(self, source: Any, response: Response) -> None:
        self.last_activity = time.monotonic()
        waiter = self._waiters.get(response.keys.get("ActionID", ""))
        if waiter is not None:
            waiter.response = response
            waiter.done.set()

    def _event(self, source: Any, event: Event) -> None:
        self.last_activity = time.monotonic()
        keys = event.keys
        keys["Event"] = event.name
        action_id = keys.get("ActionID")
        if action_id is not None:
            waiter = self._waiters.get(action_id)
            if waiter is not None and event.name != "OriginateResponse":
                if keys.get("EventList") == "Complete" or event.name.endswith("Complete"):
                    waiter.complete.set()
                else:
                    waiter.events.append(keys)
                return
        if self._on_event is not None:
            self._on_event(keys, time.time(), time.perf_counter())

    def _disconnected(self, source: Any, error: BaseException | None = None) -> None:
        for waiter in list(self._waiters.values()):
            waiter.done.set()
            waiter.complete.set()
        if self._on_disconnect is not None:
            self._on_disconnect(error)
