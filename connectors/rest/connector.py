"""The declarative REST connector: reads pages of records, finds and writes objects over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel

from connectors.rest.client import ApiClient
from connectors.rest.options import RestSourceOptions, RestTargetOptions, _Api
from connectors.rest.paging import Pager, dig
from hub.connector import (
    AmbiguousMatch,
    Capabilities,
    Connector,
    EntityInfo,
    FieldInfo,
    ReadRequest,
    Record,
    SourceBatch,
    WriteAction,
    WriteResult,
)
from hub.errors import BusinessError, FatalError, RecordError


class RestConnector(Connector):
    name: ClassVar[str] = "rest"
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental=frozenset({"hash", "cursor"}), lookup=True, write_modes=frozenset({"create", "upsert"}))
    source_options: ClassVar[type[BaseModel]] = RestSourceOptions
    target_options: ClassVar[type[BaseModel]] = RestTargetOptions

    def client(self, options: _Api) -> ApiClient:
        clients = self.__dict__.setdefault("_clients", {})
        key = (options.base_url, options.auth, options.timeout, options.max_retry_after)  # one client (and token)
        if key not in clients:
            clients[key] = ApiClient(self.connection, options.base_url, options.auth, options.timeout,
                                     self.settings.retry, options.max_retry_after)
        return clients[key]  # type: ignore[no-any-return]

    def close(self) -> None:
        for client in self.__dict__.get("_clients", {}).values():
            client.close()

    def check(self) -> str:
        client = self.client(RestSourceOptions())
        return f"API at {client.http.base_url} (connection {self.connection.describe()})"

    def describe(self, entity: str) -> EntityInfo | None:
        # an API has no schema to ask: every field name is accepted, the id is the usual key
        return EntityInfo(entity, {"*": FieldInfo("*", "any"), "id": FieldInfo("id", "any")}, ("id",))

    def target_key_field(self, entity: str) -> str | None:
        return "id"

    # -- reading

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        options = request.options if isinstance(request.options, RestSourceOptions) else self._as_target_sees_it()
        client = self.client(options)
        pager = Pager(options.paging, request.batch_size)
        cursor = request.incremental.cursor if request.incremental.strategy == "cursor" else None
        start = request.checkpoint or {}
        since, highest = start.get("since"), start.get("max", start.get("since"))
        state = start["next"] if "next" in start and start["next"] is not None else pager.first()
        skip = int(start.get("skip", 0))
        params = {**options.params, **({options.since_param: since} if since and options.since_param else {})}
        while True:
            path, query = pager.request(request.stream, params, state)
            response = client.request("GET", path, params=query)
            body = response.json()
            records = dig(body, options.records)
            if not isinstance(records, list):
                raise FatalError(f"{client.where}: GET {request.stream}: no list at {options.records or 'the top'} "
                                 "of the answer (set options.records)")
            following = pager.next(state, response, body, len(records))
            for offset in range(skip, max(len(records), 1), request.batch_size):
                chunk = [r for r in records[offset:offset + request.batch_size] if isinstance(r, dict)]
                if cursor:
                    highest = max([highest, *(r.get(cursor) for r in chunk)], key=lambda v: (v is not None, v))
                end = offset + request.batch_size >= len(records)
                if not end:  # part of a page: resuming fetches the page again and skips what was handed out
                    yield SourceBatch(chunk, {"since": since, "next": state, "skip": offset + len(chunk),
                                              "max": highest})
                elif following is not None:
                    yield SourceBatch(chunk, {"since": since, "next": following, "max": highest})
                else:
                    yield SourceBatch(chunk, {"since": highest, "next": None, "max": highest} if cursor else None)
                    return
            state, skip = following, 0

    def _as_target_sees_it(self) -> RestSourceOptions:
        """Reading without source options (a target's own records): the API as the target options declare it."""
        target = self._target_options
        return RestSourceOptions(base_url=target.base_url, auth=target.auth, timeout=target.timeout,
                                 records=target.lookup_records)

    # -- writing

    def prepare(self, entity: str, record: Record) -> Record:
        """JSON has no decimals or dates: they cross as text (and compare equal with what a lookup gives)."""
        return {name: _json_value(value) for name, value in record.items()}

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str], options: RestTargetOptions | None = None) -> dict[tuple[Any, ...], Any]:
        options = options or self._target_options
        client = self.client(options)
        found: dict[tuple[Any, ...], Any] = {}
        for wanted in values:
            params = {field: _json_value(value) for field, value in zip(by, wanted, strict=True)}
            records = dig(client.request("GET", entity, params=params).json(), options.lookup_records)
            same = [r for r in records or [] if isinstance(r, dict)
                    and all(str(r.get(f)) == str(v) for f, v in params.items())]
            if len(same) == 1:
                found[tuple(wanted)] = same[0]
            elif same:
                found[tuple(wanted)] = AmbiguousMatch(tuple(str(r.get("id")) for r in same))
        return found

    def use_target_options(self, entity: str, options: BaseModel) -> None:
        if isinstance(options, RestTargetOptions):
            self.__dict__["_bound_target_options"] = options

    @property
    def _target_options(self) -> RestTargetOptions:
        return self.__dict__.get("_bound_target_options") or RestTargetOptions()

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        assert isinstance(options, RestTargetOptions)
        self.use_target_options(entity, options)
        return [self._write_one(entity, action, options) for action in actions]

    def _write_one(self, entity: str, action: WriteAction, options: RestTargetOptions) -> WriteResult:
        client = self.client(options)
        target_key = action.target_key
        kind = action.kind
        try:
            if kind == "create" and action.match:  # find before create: a retry after a lost answer never duplicates
                existing = self.lookup(entity, tuple(action.match), [tuple(action.match.values())], [], options)
                found = existing.get(tuple(action.match.values()))
                if isinstance(found, AmbiguousMatch):
                    return WriteResult(action.source_key, "rejected", error=BusinessError(found.describe()))
                if found is not None:
                    target_key, kind = found.get("id"), "update"
            if kind == "create":
                call = options.create
                answer = client.request(call.method, _path(call.path or entity, entity, None, action.fields),
                                        body=action.fields, write=True)
                return WriteResult(action.source_key, "created", _json_or_empty(answer).get("id"))
            if kind == "update":
                call = options.update
                client.request(call.method, _path(call.path or "{entity}/{id}", entity, target_key, action.fields),
                               body=action.fields, write=True)
                return WriteResult(action.source_key, "updated", target_key)
            return WriteResult(action.source_key, "rejected", error=BusinessError("the rest connector does not delete"))
        except RecordError as exc:
            return WriteResult(action.source_key, "rejected", error=exc)


def _path(template: str, entity: str, target_key: Any, fields: Record) -> str:
    values = {**{k: "" if v is None else v for k, v in fields.items()}, "entity": entity.rstrip("/"),
              "id": target_key or ""}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise FatalError(f"path template {template!r}: no value for {exc}") from None


def _json_or_empty(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
