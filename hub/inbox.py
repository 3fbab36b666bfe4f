"""Reads ``hub_inbox`` by stream, in commit order: the ``inbox`` connector (:mod:`connectors.inbox`) and the
base of connectors whose events arrive through the inbox (the website's form submissions).

It lives in the hub, not in ``connectors/``, because connectors do not import each other (``make lint``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any, ClassVar

from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, ReadRequest, SourceBatch
from hub.errors import ConfigError
from hub.state import StateStore


class InboxConnector(Connector):
    name: ClassVar[str] = "inbox"
    capabilities: ClassVar[Capabilities] = Capabilities(incremental=frozenset({"cursor"}))

    @cached_property
    def store(self) -> StateStore:
        url = self.connection.extra.get("url") or self.settings.state_url
        return StateStore(url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def check(self) -> str:
        self.store.inbox_read("__check__", 0, 1)
        return f"hub inbox at {self.store.engine.url.render_as_string(hide_password=True)}"

    def describe(self, entity: str) -> EntityInfo | None:
        # payload fields differ per sender; the envelope is what is always there
        fields = {"inbox_id": FieldInfo("inbox_id", "integer"), "received_at": FieldInfo("received_at", "datetime"),
                  "meta": FieldInfo("meta", "json")}
        return EntityInfo(entity, {**fields, "*": FieldInfo("*", "any")}, ("inbox_id",))

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        if request.incremental.strategy != "cursor" or request.incremental.cursor != "inbox_id":
            raise ConfigError("an inbox source reads with incremental: {strategy: cursor, cursor: inbox_id}")
        after = int(request.checkpoint or 0)
        while True:
            events = self.store.inbox_read(request.stream, after, request.batch_size)
            if not events:
                return
            records: list[dict[str, Any]] = []
            for inbox_id, payload, meta, received_at in events:
                records.append({**payload, "inbox_id": inbox_id, "received_at": received_at, "meta": meta})
            after = events[-1][0]
            yield SourceBatch(records, after)
            if len(events) < request.batch_size:
                return
