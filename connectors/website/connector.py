"""The ``website`` source: form submissions, whichever way they reach the hub, as one stream of records.

Webhook submissions are read from the hub inbox, where the intake service committed them (stream =
``source.stream``), in commit order. Poll-mode sources are read from the site's API by cursor and
normalized exactly like webhooks. The checkpoint holds both positions, ``{"inbox": <last inbox id>,
"polls": {<source>: <API cursor>}}``, so a killed run resumes where the last applied batch ended.

Every record is a normalized submission (see :class:`~connectors.website.formats.base.Submission`) plus
``submission_key`` (the record key: a resubmission has the same one), ``inbox_id`` (webhooks only),
``received_at`` (aware, UTC) and ``meta`` (how it arrived).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel

from connectors.website.config import NORMALIZED_FIELDS, FormSource, WebsiteOptions
from connectors.website.formats import FORMATS
from connectors.website.formats.base import WrongType
from connectors.website.keys import sender_time, submission_keys
from connectors.website.poll import SiteApi
from hub.connections import ConnectionResolver
from hub.connector import EntityInfo, FieldInfo, ReadRequest, Record, SourceBatch
from hub.errors import ConfigError, FatalError
from hub.inbox import InboxConnector
from hub.mapping.model import Incremental

FIELDS: dict[str, FieldInfo] = {
    **{name: FieldInfo(name, "string") for name in ("submission_key", "source", "format", *NORMALIZED_FIELDS)},
    "answers": FieldInfo("answers", "list"),
    "inbox_id": FieldInfo("inbox_id", "integer"),
    "received_at": FieldInfo("received_at", "datetime", nullable=False),
    "meta": FieldInfo("meta", "json"),
}


class WebsiteConnector(InboxConnector):
    """The inbox connector's reading, plus poll sources and the submission fields (``describe``)."""

    name: ClassVar[str] = "website"
    source_options: ClassVar[type[BaseModel]] = WebsiteOptions

    def describe(self, entity: str) -> EntityInfo | None:
        return EntityInfo(entity, dict(FIELDS), ("submission_key",))

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        options = request.options
        if not isinstance(options, WebsiteOptions):
            raise ConfigError("a website source needs options: {sources: {...}}")
        if request.incremental.strategy != "cursor":
            raise ConfigError("a website source reads with incremental: {strategy: cursor, cursor: received_at}")
        checkpoint = dict(request.checkpoint or {})
        position = {"inbox": int(checkpoint.get("inbox") or 0), "polls": dict(checkpoint.get("polls") or {})}
        yield from self._inbox(request, position)
        for name, source in options.polls().items():
            yield from self._poll(name, source, position)

    # -- webhooks: the inbox
    def _inbox(self, request: ReadRequest, position: dict[str, Any]) -> Iterator[SourceBatch]:
        by_inbox_id = replace(request, checkpoint=position["inbox"],
                              incremental=Incremental(strategy="cursor", cursor="inbox_id"))
        for batch in super().read(by_inbox_id):
            for record in batch.records:
                record["received_at"] = record["received_at"].replace(tzinfo=dt.UTC)  # stored as naive UTC
            position["inbox"] = batch.checkpoint
            yield SourceBatch(batch.records, _copy(position))

    # -- poll mode: the site's API
    def _poll(self, name: str, source: FormSource, position: dict[str, Any]) -> Iterator[SourceBatch]:
        assert source.poll is not None  # the options model guarantees it for poll sources
        connections = self.resolver or ConnectionResolver(self.settings.connections_file)
        api = SiteApi(connections.get(source.connection), source.poll)
        try:
            for items, cursor in api.pages(position["polls"].get(name)):
                records = [self._polled(name, source, item) for item in items]
                position["polls"][name] = cursor
                yield SourceBatch(records, _copy(position))
        finally:
            api.close()

    def _polled(self, name: str, source: FormSource, item: dict[str, Any]) -> Record:
        api_id = item.get(source.poll.cursor_field)  # type: ignore[union-attr]
        try:
            submission = FORMATS[source.format].normalize(name, source, item)
        except WrongType as wrong:  # stop before the cursor moves past it: nothing is skipped or joined
            raise FatalError(f"poll source {name!r}, item {str(api_id)[:40]!r}: {wrong}; map that field to "
                             "another path in the source's 'fields:'") from None
        if not submission.get("submission_id") and api_id is not None:  # the API's own id identifies it
            submission = replace(submission, values={**submission.values, "submission_id": str(api_id)})
        now = dt.datetime.now(dt.UTC)
        received = sender_time(submission.get("submitted_at")) or now
        key, _ = submission_keys(submission, received, source.dedup_window)
        return {**submission.payload(), "submission_key": key, "inbox_id": None, "received_at": received,
                "meta": {"via": "poll", "api": source.poll.path}}  # type: ignore[union-attr]


def _copy(position: dict[str, Any]) -> dict[str, Any]:
    return {"inbox": position["inbox"], "polls": dict(position["polls"])}
