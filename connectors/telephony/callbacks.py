"""Missed calls that need a callback, as a source: one record per callback task, from the inbox ``calls``.

Rules (per outside number, in the order the calls reached the inbox):

* an inbound call that nobody answered (``include``: no answer, busy, failed) opens a callback for its
  number; more missed calls from the same number while it is open are folded into it (``missed_count``);
  a click-to-call the manager did not take is the hub's own outbound attempt, never a missed call;
* an answered call with that number (it called again, or somebody called it) that started within
  ``window_minutes`` of the first missed call's end closes it before any task exists: nothing to do;
* once the window has passed without that, the callback becomes a task (``status: open``);
* a later answered call with the number closes the task (``status: done``, ``closed_by_call``);
* a task still open after ``close_within_days`` is no longer followed (it stays open in the CRM).

The open callbacks are part of the checkpoint, so a run resumes exactly where the last one stopped and a
dry run (``hub plan``) shows the tasks without remembering anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, FieldKind, ReadRequest, SourceBatch
from hub.errors import ConfigError
from hub.state import StateStore

Missed = Literal["no_answer", "busy", "failed"]
ALL_MISSED: tuple[Missed, ...] = ("no_answer", "busy", "failed")
#: how long an answered call is remembered, for calls that reach the inbox out of order (a long missed call
#: ends after the callback that followed it; a gap's calls are backfilled later)
ANSWERED_MEMORY = dt.timedelta(hours=2)
RECORD_FIELDS: dict[str, FieldKind] = {
    "missed_call_id": "string", "phone": "string", "missed_at": "datetime", "last_missed_at": "datetime",
    "missed_count": "integer", "extension": "string", "queue": "string", "due_at": "datetime", "status": "string",
    "closed_by_call": "string", "closed_at": "datetime", "inbox_id": "integer",
}


class CallbackOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: float = Field(5.0, ge=0, description="a missed call returned within this needs no task")
    close_within_days: float = Field(14.0, gt=0, description="how long an open task waits for its number")
    include: list[Missed] = Field(default_factory=lambda: list(ALL_MISSED),
                                  description="inbound outcomes that count as missed")


class CallbacksSource(Connector):
    name: ClassVar[str] = "telephony_callbacks"
    capabilities: ClassVar[Capabilities] = Capabilities(incremental=frozenset({"cursor"}))
    source_options: ClassVar[type[BaseModel]] = CallbackOptions

    @cached_property
    def store(self) -> StateStore:
        return StateStore(self.connection.extra.get("url") or self.settings.state_url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def check(self) -> str:
        self.store.inbox_read("calls", 0, 1)
        return "hub inbox readable"

    def describe(self, entity: str) -> EntityInfo | None:
        return EntityInfo(entity, {n: FieldInfo(n, k) for n, k in RECORD_FIELDS.items()}, ("missed_call_id",))

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        if request.incremental.strategy != "cursor" or request.incremental.cursor != "inbox_id":
            raise ConfigError("a telephony_callbacks source reads with incremental: {strategy: cursor, "
                              "cursor: inbox_id}")
        options = request.options if isinstance(request.options, CallbackOptions) else CallbackOptions()
        book = CallbackBook.from_checkpoint(request.checkpoint, options)
        while True:
            events = self.store.inbox_read(request.stream, book.after, request.batch_size)
            for inbox_id, call, _meta, _received in events:
                book.add(inbox_id, call)
            book.due(_now())
            yield SourceBatch(book.take_changes(), book.checkpoint())
            if len(events) < request.batch_size:
                return


def _missed_inbound(call: dict[str, Any], options: CallbackOptions) -> bool:
    """A call from the number that nobody took. A click-to-call (it has a request) is the hub's own outbound
    attempt, whatever its direction says: records committed before click-to-calls were classed as outbound
    read as inbound calls from the customer when the manager did not answer."""
    return call.get("direction") == "inbound" and not call.get("request_id") \
        and call.get("disposition") in options.include


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


TIMES = {"missed_at", "last_missed_at", "due_at", "closed_at"}


def _text(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> Any:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


class CallbackBook:
    """The open callbacks by number, and the task records that changed."""

    def __init__(self, after: int, open_: dict[str, dict[str, Any]], answered: dict[str, list[Any]],
                 options: CallbackOptions):
        self.after = after
        self.open = open_
        self.answered = answered  # number -> [start, call id] of its latest answered call (calls end in any order)
        self.options = options
        self._changed: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_checkpoint(cls, checkpoint: Any, options: CallbackOptions) -> CallbackBook:
        state = checkpoint if isinstance(checkpoint, dict) else {}
        open_ = {number: {k: _time(v) if k in TIMES else v for k, v in entry.items()}
                 for number, entry in state.get("open", {}).items()}
        answered = {number: [_time(start), call_id] for number, (start, call_id) in state.get("answered", {}).items()}
        return cls(int(state.get("after", 0)), open_, answered, options)

    def checkpoint(self) -> dict[str, Any]:
        """Plain JSON (times as ISO text), whatever store keeps it."""
        return {"after": self.after,
                "open": {number: {k: _text(v) if k in TIMES else v for k, v in entry.items()}
                         for number, entry in self.open.items()},
                "answered": {number: [_text(start), call_id] for number, (start, call_id) in self.answered.items()}}

    def add(self, inbox_id: int, call: dict[str, Any]) -> None:
        self.after = inbox_id
        number = call.get("external_number")
        started = call.get("started_at")
        if not number or not isinstance(started, dt.datetime):
            return
        entry = self.open.get(number)
        if _missed_inbound(call, self.options):
            self._missed(number, entry, call, inbox_id)
            later = self.answered.get(number)
            if later is not None and later[0] >= started:  # reached already (that call ended first)
                self._returned(number, self.open[number], {"started_at": later[0], "call_id": later[1]}, inbox_id)
        elif call.get("disposition") == "answered":
            latest = self.answered.get(number)
            if latest is None or started > latest[0]:
                self.answered[number] = [started, call["call_id"]]
            if entry is not None and started >= entry["missed_at"]:
                self._returned(number, entry, call, inbox_id)

    def _missed(self, number: str, entry: dict[str, Any] | None, call: dict[str, Any], inbox_id: int) -> None:
        if entry is None:
            ended = call.get("ended_at") or call["started_at"]
            self.open[number] = {
                "missed_call_id": call["call_id"], "phone": number, "missed_at": call["started_at"],
                "last_missed_at": call["started_at"], "missed_count": 1, "extension": call.get("extension"),
                "queue": call.get("queue"), "due_at": ended + dt.timedelta(minutes=self.options.window_minutes),
                "status": "pending", "closed_by_call": None, "closed_at": None, "inbox_id": inbox_id,
            }
            return
        entry["missed_count"] += 1
        entry["last_missed_at"] = max(entry["last_missed_at"], call["started_at"])
        entry["inbox_id"] = inbox_id
        if entry["status"] == "open":
            self._changed[number] = dict(entry)

    def _returned(self, number: str, entry: dict[str, Any], call: dict[str, Any], inbox_id: int) -> None:
        del self.open[number]
        if entry["status"] == "pending" and call["started_at"] <= entry["due_at"]:
            self._changed.pop(number, None)
            return  # returned within the window: no task needed
        self._changed[number] = {**entry, "status": "done", "closed_by_call": call["call_id"],
                                 "closed_at": call["started_at"], "inbox_id": inbox_id}

    def due(self, now: dt.datetime) -> None:
        """Callbacks whose window has passed become open tasks; old open ones are no longer followed."""
        horizon = now - dt.timedelta(days=self.options.close_within_days)
        recent = now - ANSWERED_MEMORY
        self.answered = {number: seen for number, seen in self.answered.items() if seen[0] >= recent}
        for number, entry in list(self.open.items()):
            if entry["status"] == "pending" and entry["due_at"] <= now:
                entry["status"] = "open"
                self._changed[number] = dict(entry)
            elif entry["status"] == "open" and entry["last_missed_at"] < horizon:
                del self.open[number]

    def take_changes(self) -> list[dict[str, Any]]:
        changes = list(self._changed.values())
        self._changed = {}
        return changes
