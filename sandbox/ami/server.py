"""An AMI server that behaves like the recorded Asterisk 22: for the demo, the tests and the benchmark.

It speaks the AMI wire protocol exactly as the recordings show it (greeting line, CRLF-framed
``Key: Value`` messages ending in an empty line, responses matched by ``ActionID``, events to every
session that logged in with events on) and plays calls from templates made of the recorded sessions.

Actions: Login (with ``Events: on|off``), Ping, Originate (async), CoreShowChannels, Logoff; anything else
gets ``Response: Error``; anything but Login before logging in gets ``Permission denied``.

Calls: :meth:`AmiSimulator.play` plays call specs at a rate (or all at once: a burst); an Originate plays
the scenario its channel asks for. Every CDR event is also appended to ``Master.csv`` whether or not a
client is connected, like Asterisk's cdr_csv, so gap recovery can be tested.

Faults: :meth:`drop_connections` (the TCP sessions die, calls go on), :meth:`restart` (no AMI for a while,
then a new greeting and ``FullyBooted``; calls in progress go on, as after ``module reload manager``), and
sessions that stop reading are dropped like Asterisk drops them (its write timeout).

:class:`SimulatorThread` runs it on its own event loop in a background thread for synchronous callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.ami.cdr import MasterCsv
from sandbox.ami.templates import (
    KINDS,
    RECORDED_PARTIES,
    Kind,
    Substitutions,
    Template,
    build_template,
    frame,
    new_bridge_ids,
    render,
)

log = logging.getLogger(__name__)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

#: extension dialed in the recording dialplan -> scenario (Originate with Application, as recorded)
RECORDED_EXTENSIONS: dict[str, Kind] = {"100": "answered", "200": "missed", "300": "busy",
                                        "500": "queue-answered", "501": "queue-missed"}
#: a click-to-call the manager does not take: the template of the call. The manager's phone rings first, with
#: the customer's number as caller ID, exactly as the recordings originate Local/200@hub-in and
#: Local/300@hub-in; the customer is never dialed. Any other outcome plays the outbound recording (answered).
UNANSWERED_TEMPLATES: dict[str, Kind] = {"busy": "busy", "no_answer": "missed"}


@dataclass(frozen=True)
class CallSpec:
    """One call to play. Numbers default to the recording's."""

    kind: Kind
    caller: str | None = None
    callee: str | None = None
    agent: str | None = None
    recording: bool = False
    dialplan: tuple[str, str] | None = None  # (Context, Exten) of an Originate that continues in the dialplan


@dataclass
class _Active:
    """A call being played: what CoreShowChannels reports while its channels exist."""

    template: Template
    subs: Substitutions
    started: float  # loop time of its first event
    ends: float


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    logged_in: bool = False
    events: bool = True


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    data: bytes = field(compare=False)
    cdr_linkedid: str | None = field(compare=False, default=None)
    call: tuple[Template, Substitutions, CallSpec, dict[str, str] | None] | None = field(compare=False, default=None)


class AmiSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, username: str = "hub", secret: str = "hubsecret",
                 cdr_path: Path | None = None, zone: str = "UTC", clock_start: float | None = None,
                 newcdrcolumns: bool = False, max_buffer: int = 8 * 1024 * 1024, speed: float = 1.0):
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.zone = ZoneInfo(zone)
        self.cdr = MasterCsv(cdr_path, newcdrcolumns) if cdr_path else None
        self.max_buffer = max_buffer  # a session with more unsent bytes is dropped (Asterisk's write timeout)
        self.speed = speed  # > 1: calls play faster than real time (benchmarks); event times are unchanged
        self.originate_outcomes: dict[str, str] = {}  # number or extension -> answered | busy | no_answer
        self.templates = {kind: build_template(kind) for kind in KINDS}
        self.events_sent = 0
        self.sessions_dropped = 0
        self.originates = 0
        self._clock_start = clock_start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_start = 0.0
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[_Session] = set()
        self._heap: list[_Due] = []
        self._active: list[_Active] = []
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._uids = itertools.count()
        self._seqs = itertools.count()
        self._order = itertools.count()
        self._booted = 0.0
        self._paused_at: float | None = None  # timeline moment playback was paused at
        self._paused_total = 0.0

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_start = self._loop.time()
        self._wake = asyncio.Event()
        await self._listen()
        self._pump = asyncio.create_task(self._run_pump())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._close_server()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._booted = self.clock()

    async def _close_server(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _timeline(self) -> float:
        """When calls are at: the loop's clock, minus the time playback was paused (frozen while paused)."""
        assert self._loop is not None
        if self._paused_at is not None:
            return self._paused_at
        return self._loop.time() - self._paused_total

    def pause(self) -> None:
        """Hold every call where it is: no event is sent until :meth:`resume` (nothing is lost or skipped)."""
        if self._paused_at is None:
            self._paused_at = self._timeline()

    def resume(self) -> None:
        if self._paused_at is not None and self._loop is not None:
            self._paused_total = self._loop.time() - self._paused_at
            self._paused_at = None
            self._wake.set()

    def clock(self) -> float:
        """The PBX's clock: real time, or a fixed start moving with real time (deterministic demo ids)."""
        if self._clock_start is None or self._loop is None:
            return time.time()
        return self._clock_start + (self._loop.time() - self._loop_start)

    # -- faults -------------------------------------------------------------------------------------------

    def drop_connections(self) -> None:
        for session in list(self._sessions):
            session.writer.transport.abort()
        self.sessions_dropped += len(self._sessions)
        self._sessions.clear()

    async def restart(self, downtime: float) -> None:
        """The AMI goes away for ``downtime`` seconds (connections refused), then comes back fresh."""
        await self._close_server()
        await asyncio.sleep(downtime)
        await self._listen()

    # -- calls --------------------------------------------------------------------------------------------

    def play(self, specs: list[CallSpec], rate: float | None = None, start: float | None = None) -> list[str]:
        """Schedule calls ``1/rate`` seconds apart (all at once without a rate); returns their Linkedids.

        ``start`` is the PBX time of the first call (default: now); ids and times follow from it, so the
        same plan and start give the same Linkedids on every run.
        """
        first = self.clock() if start is None else start
        gap = 0.0 if not rate else 1.0 / rate
        return [self._schedule(spec, first + index * gap) for index, spec in enumerate(specs)]

    def _schedule(self, spec: CallSpec, at: float, action_id: str = "",
                  variables: dict[str, str] | None = None) -> str:
        """Give the call its ids now (deterministic order); render its events when it starts (smooth CPU use)."""
        template = self.templates[spec.kind]
        caller, callee, agent = RECORDED_PARTIES[spec.kind]
        uids = [f"{int(at)}.{next(self._uids)}" for _ in range(template.uids)]
        subs = Substitutions(
            caller=spec.caller or caller, callee=spec.callee or callee, agent=spec.agent or agent or "",
            tag=f"sim-{uids[0]}", start=at, zone=self.zone, uids=uids,
            seqs=[f"{next(self._seqs):08x}" for _ in range(template.seqs)],
            bridges=new_bridge_ids(template.bridges), action_id=action_id)
        assert self._loop is not None
        begins = self._timeline() + max(0.0, at - self.clock())
        heapq.heappush(self._heap, _Due(begins, next(self._order), b"", call=(template, subs, spec, variables)))
        self._wake.set()
        return uids[0]

    def _start(self, due: _Due) -> None:
        assert due.call is not None and self._loop is not None
        template, subs, spec, variables = due.call
        for message in render(template, subs, recording=spec.recording, variables=variables):
            linkedid = subs.uids[0] if message.event == "Cdr" else None
            data = message.data
            if message.event == "OriginateResponse" and spec.dialplan is not None:
                data = _dialplan_response(data, *spec.dialplan)
            heapq.heappush(self._heap, _Due(due.at + message.offset / self.speed, next(self._order), data, linkedid))
        if len(self._active) > 10_000:  # calls that ended are only needed until CoreShowChannels asks
            self._active = [call for call in self._active if call.ends >= self._timeline()]
        self._active.append(_Active(template, subs, due.at, due.at + template.length / self.speed))

    def pending(self) -> int:
        """Messages not sent yet."""
        return len(self._heap)

    def listeners(self) -> int:
        """Sessions logged in with events on."""
        return sum(1 for s in self._sessions if s.logged_in and s.events)

    async def _run_pump(self) -> None:
        assert self._loop is not None
        while True:
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = self._timeline()
            due = self._heap[0].at
            if self._paused_at is not None:
                self._wake.clear()
                await self._wake.wait()
                continue
            if due > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), due - now)
                continue
            batch = []
            while self._heap and self._heap[0].at <= now and len(batch) < 5000:
                due = heapq.heappop(self._heap)
                if due.call is not None:
                    self._start(due)
                else:
                    batch.append(due)
            self._emit(batch)
            await asyncio.sleep(0)

    def _emit(self, batch: list[_Due]) -> None:
        if not batch:
            return
        data = b"".join(item.data for item in batch)
        for session in list(self._sessions):
            if session.logged_in and session.events:
                self._write(session, data)
        self.events_sent += len(batch)
        if self.cdr is not None:
            for item in batch:
                if item.cdr_linkedid is not None:
                    self.cdr.write(_fields(item.data), item.cdr_linkedid)

    def _write(self, session: _Session, data: bytes) -> None:
        transport = session.writer.transport
        if transport.is_closing():
            self._sessions.discard(session)
            return
        if transport.get_write_buffer_size() > self.max_buffer:
            log.warning("AMI simulator: a session stopped reading; dropping it (as Asterisk's write timeout does)")
            transport.abort()
            self._sessions.discard(session)
            self.sessions_dropped += 1
            return
        session.writer.write(data)

    # -- sessions -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        writer.write(BANNER)
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = _parse(raw)
                if action and not await self._handle(session, action):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._sessions.discard(session)
            writer.transport.abort()

    async def _handle(self, session: _Session, action: list[tuple[str, str]]) -> bool:
        fields = dict(action)
        name = fields.get("Action", "").lower()
        action_id = fields.get("ActionID", "")
        reply = _Reply(session, action_id)
        if name == "login":
            if fields.get("Username") == self.username and fields.get("Secret") == self.secret:
                session.logged_in = True
                session.events = fields.get("Events", "on").lower() not in ("off", "no", "false")
                reply.send("Success", [("Message", "Authentication accepted")])
                if session.events:
                    uptime = str(int(self.clock() - self._booted))
                    session.writer.write(frame([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                                ("Uptime", uptime), ("LastReload", uptime),
                                                ("Status", "Fully Booted")]))
            else:
                reply.send("Error", [("Message", "Authentication failed")])
            return True
        if not session.logged_in:
            reply.send("Error", [("Message", "Permission denied")])
            return True
        if name == "ping":
            reply.send("Success", [("Ping", "Pong"), ("Timestamp", f"{self.clock():.6f}")])
        elif name == "originate":
            self._originate(action, reply)
        elif name == "coreshowchannels":
            self._core_show_channels(reply)
        elif name == "logoff":
            reply.send("Goodbye", [("Message", "Thanks for all the fish.")])
            await session.writer.drain()
            return False
        else:
            reply.send("Error", [("Message", "Invalid/unknown command")])
        return True

    def _originate(self, action: list[tuple[str, str]], reply: _Reply) -> None:
        fields = dict(action)
        found = re.match(r"^Local/([^@]+)@([^/]+)$", fields.get("Channel", ""))
        if found is None:
            reply.send("Error", [("Message", "Originate failed: this simulator dials Local/<exten>@<context>")])
            return
        first, context = found.groups()
        variables = dict(v.split("=", 1) for k, v in action if k == "Variable" and "=" in v)
        number = fields.get("Exten")
        if number:  # click-to-call: ring the extension, then dial the number
            outcome = self.originate_outcomes.get(number) or self.originate_outcomes.get(first) or "answered"
            context_to = fields.get("Context", "")
            if outcome in UNANSWERED_TEMPLATES:
                caller = _callerid_number(fields.get("CallerID", "")) or number
                spec = CallSpec(UNANSWERED_TEMPLATES[outcome], caller=caller, callee=first,
                                dialplan=(context_to, number))
            else:
                spec = CallSpec("outbound", caller=first, callee=number, dialplan=(context_to, number))
        else:  # the recording's own dialplan: Local/<exten>@hub-in|hub-out|demo running an application
            caller = variables.get("CALLER") or _callerid_number(fields.get("CallerID", ""))
            kind: Kind = "outbound" if context == "hub-out" else "demo" if context == "demo" else \
                RECORDED_EXTENSIONS.get(first, "answered")
            spec = CallSpec(kind, caller=caller or None, callee=first)
        reply.send("Success", [("Message", "Originate successfully queued")])
        self.originates += 1
        self._schedule(spec, self.clock(), action_id=reply.action_id, variables=variables or None)

    def _core_show_channels(self, reply: _Reply) -> None:
        now = self._timeline()
        self._active = [call for call in self._active if call.ends >= now]
        items = []
        for call in self._active:
            values = call.subs.base()
            for leg in call.template.legs:
                if call.started + leg.created / self.speed <= now < call.started + leg.hangup / self.speed:
                    seconds = int((now - call.started) * self.speed - leg.created)
                    items.append([("Event", "CoreShowChannel"), ("ActionID", reply.action_id),
                                  ("Channel", leg.channel.format_map(values)), ("ChannelState", "6"),
                                  ("ChannelStateDesc", "Up"), ("CallerIDNum", leg.caller.format_map(values)),
                                  ("CallerIDName", "<unknown>"), ("ConnectedLineNum", "<unknown>"),
                                  ("ConnectedLineName", "<unknown>"), ("Language", "en"), ("AccountCode", ""),
                                  ("Context", leg.context), ("Exten", leg.exten.format_map(values)),
                                  ("Priority", "1"), ("Uniqueid", values[leg.uid]), ("Linkedid", values["u0"]),
                                  ("Application", ""), ("ApplicationData", ""),
                                  ("Duration", time.strftime("%H:%M:%S", time.gmtime(seconds))), ("BridgeId", "")])
        reply.send("Success", [("EventList", "start"), ("Message", "Channels will follow")])
        for item in items:
            reply.session.writer.write(frame(item))
        reply.session.writer.write(frame([("Event", "CoreShowChannelsComplete"), ("ActionID", reply.action_id),
                                          ("EventList", "Complete"), ("ListItems", str(len(items)))]))


@dataclass
class _Reply:
    session: _Session
    action_id: str

    def send(self, status: str, fields: list[tuple[str, str]]) -> None:
        head = [("Response", status)] + ([("ActionID", self.action_id)] if self.action_id else [])
        self.session.writer.write(frame(head + fields))


def _parse(raw: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def _fields(data: bytes) -> dict[str, str]:
    return dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                for line in data.decode().split("\r\n") if line)


def _dialplan_response(data: bytes, context: str, exten: str) -> bytes:
    """Asterisk's OriginateResponse names what the Originate ran: ``Application``/``Data`` (as recorded) or,
    for an Originate into the dialplan, ``Context``/``Exten``."""
    return re.sub(rb"Application: [^\r]*\r\nData: [^\r]*\r\n",
                  lambda _m: f"Context: {context}\r\nExten: {exten}\r\n".encode(), data, count=1)


def _callerid_number(callerid: str) -> str:
    found = re.search(r"<([^>]*)>", callerid)
    return found.group(1) if found else callerid.strip('" ')


class SimulatorThread:
    """The simulator on its own event loop in a background thread, driven from synchronous code."""

    def __init__(self, **options: Any):
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ami-simulator", daemon=True)
        self.sim: AmiSimulator | None = None

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        self.sim = self._call(self._make())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.sim is not None:
                self._call(self.sim.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    async def _make(self) -> AmiSimulator:
        sim = AmiSimulator(**self._options)
        await sim.start()
        return sim

    def _call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return fn(*args, **kwargs)
        return self._call(call())

    @property
    def port(self) -> int:
        assert self.sim is not None
        return self.sim.port

    def play(self, specs: list[CallSpec], rate: float | None = None, start: float | None = None) -> list[str]:
        assert self.sim is not None
        return self._run(self.sim.play, specs, rate, start)  # type: ignore[no-any-return]

    def drop_connections(self) -> None:
        assert self.sim is not None
        self._run(self.sim.drop_connections)

    def restart(self, downtime: float) -> None:
        assert self.sim is not None
        self._call(self.sim.restart(downtime), timeout=downtime + 30)

    def set_outcome(self, number: str, outcome: str) -> None:
        assert self.sim is not None
        self._run(self.sim.originate_outcomes.__setitem__, number, outcome)

    def pause(self) -> None:
        assert self.sim is not None
        self._run(self.sim.pause)

    def resume(self) -> None:
        assert self.sim is not None
        self._run(self.sim.resume)

    def pending(self) -> int:
        assert self.sim is not None
        return self._run(self.sim.pending)  # type: ignore[no-any-return]

    def stats(self) -> dict[str, int]:
        """Counters: events sent, sessions dropped, Originates received, CDR rows written, sessions listening."""
        assert self.sim is not None
        sim = self.sim
        return self._run(lambda: {"events_sent": sim.events_sent, "sessions_dropped": sim.sessions_dropped,
                                  "originates": sim.originates, "cdr_rows": sim.cdr.rows if sim.cdr else 0,
                                  "listeners": sim.listeners()})

    def wait_played(self, timeout: float = 120.0) -> None:
        """Until every scheduled message has been sent."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                raise TimeoutError("the simulator did not finish playing in time")
            time.sleep(0.05)


class SimulatorProcess(SimulatorThread):
    """The simulator in a child process, like a real PBX: its CPU use does not slow the process under test.

    Same methods as :class:`SimulatorThread`; each call is sent over a pipe and run in the child.
    """

    def __init__(self, **options: Any):
        import multiprocessing

        self._options = options
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_commands, args=(child, options), daemon=True,
                                        name="ami-simulator")
        self._port = 0

    def __enter__(self) -> SimulatorProcess:
        self._process.start()
        self._port = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._pipe.send(("stop", (), {}))
            self._pipe.recv()
        self._pipe.close()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)

    @property
    def port(self) -> int:
        return self._port

    def _remote(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._pipe.send((name, args, kwargs))
        ok, value = self._pipe.recv()
        if not ok:
            raise RuntimeError(f"simulator {name} failed: {value}")
        return value

    def play(self, specs: list[CallSpec], rate: float | None = None, start: float | None = None) -> list[str]:
        return self._remote("play", specs, rate, start)  # type: ignore[no-any-return]

    def drop_connections(self) -> None:
        self._remote("drop_connections")

    def restart(self, downtime: float) -> None:
        self._remote("restart", downtime)

    def set_outcome(self, number: str, outcome: str) -> None:
        self._remote("set_outcome", number, outcome)

    def pause(self) -> None:
        self._remote("pause")

    def resume(self) -> None:
        self._remote("resume")

    def pending(self) -> int:
        return self._remote("pending")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, int]:
        return self._remote("stats")  # type: ignore[no-any-return]


def _serve_commands(pipe: Any, options: dict[str, Any]) -> None:
    with SimulatorThread(**options) as sim:
        pipe.send(sim.port)
        while True:
            try:
                name, args, kwargs = pipe.recv()
            except EOFError:
                return
            if name == "stop":
                pipe.send((True, None))
                return
            try:
                pipe.send((True, getattr(sim, name)(*args, **kwargs)))
            except Exception as exc:  # reported to the parent, which raises it
                pipe.send((False, f"{type(exc).__name__}: {exc}"))
