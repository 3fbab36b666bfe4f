"""Reading an entity set in pages, with the three incremental strategies (reference §3).

1C has no server paging and no change feed, so:

* every request pages with ``$top``/``$skip`` over a stable ``$orderby`` (never ``$inlinecount``, which
  makes 1C ignore ``$top``); one row more than the page tells whether another page follows;
* ``hash``: a full sweep of the mapped fields (``$select`` of exactly them);
* ``version``: a sweep of ``Ref_Key`` + ``DataVersion`` only; full objects are fetched (by key, in chunks)
  just for new or changed versions, unchanged keys are reported as such;
* ``cursor`` (documents by ``Date``): a window from the checkpoint minus ``lookback`` seconds, re-scanned
  every run because ``Date`` is the document date, not a modification time; with ``version_field`` the
  window is scanned by versions too, so only edited documents are fetched again.

A full sweep that detects deletions counts the set (``/$count``) before and after: paging by ``$skip``
over a set that changes meanwhile can skip a row, and a skipped row must never look deleted. An
unstable sweep is repeated; if it stays unstable, it ends without a final checkpoint, so the runner does
not delete anything this time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connectors.onec.metadata import EntitySet
from connectors.onec.options import ODataSourceOptions
from connectors.onec.query import any_of, both, entity_url, literal, where_filter
from connectors.onec.transport import HttpClient
from connectors.onec.values import Codec
from hub.connector import ReadRequest, Record, SourceBatch
from hub.errors import ConfigError, RetriableError

HEADER_PAGES = 5  # batches of Ref_Key + DataVersion fetched per request by the version sweep
KEY_CHUNK = 40  # keys per "Ref_Key eq … or …" request: keeps URLs well under web-server limits
SWEEP_ATTEMPTS = 3
BULK_FORMAT = "application/json;odata=nometadata"  # smallest JSON: no metadata URLs, no navigation links


@dataclass(frozen=True)
class Plan:
    select: list[str] | None  # None: every property
    key: list[str]
    version: str | None
    cursor: str | None
    base_filter: str | None
    page: int


class EntityReader:
    def __init__(self, client: HttpClient, root: str, entity: EntitySet, codec: Codec, zone: ZoneInfo):
        self.client = client
        self.root = root
        self.entity = entity
        self.codec = codec
        self.zone = zone
        self.url = entity_url(root, entity.name)

    def read(self, request: ReadRequest, options: ODataSourceOptions) -> Iterator[SourceBatch]:
        plan = self._plan(request, options)
        if request.incremental.strategy == "cursor":
            return self._by_cursor(plan, request)
        if request.incremental.strategy == "version":
            return self._sweep(plan, request, by_version=True)
        return self._sweep(plan, request, by_version=False)

    # -- planning

    def _plan(self, request: ReadRequest, options: ODataSourceOptions) -> Plan:
        where = f"stream {self.entity.name}"
        key = list(request.key)
        for name in key:
            self.entity.prop(name, f"{where} key")
        inc = request.incremental
        version = inc.version_field if inc.version_field else None
        cursor = inc.cursor if inc.strategy == "cursor" else None
        for ordering in (version, cursor):
            if ordering:
                self.entity.prop(ordering, where)
        if version and len(key) != 1:
            raise ConfigError(f"{where}: reading by version needs a single key field such as Ref_Key")
        select = None
        if request.fields is not None:
            wanted = list(dict.fromkeys([*key, *([version] if version else []), *([cursor] if cursor else []),
                                         *sorted(request.fields)]))
            for name in wanted:
                prop = self.entity.prop(name, f"{where} fields")
                if prop.composite and f"{name}_Type" not in wanted:
                    wanted.append(f"{name}_Type")
            select = wanted
        return Plan(select, key, version, cursor, where_filter(self.entity, options.where, self.zone),
                    options.page_size or request.batch_size)

    # -- requests

    def fetch(self, select: Sequence[str] | None, condition: str | None, orderby: Sequence[str],
             top: int | None = None, skip: int = 0) -> list[Record]:
        params = [("$format", BULK_FORMAT)]
        if select is not None:
            params.append(("$select", ",".join(select)))
        if condition:
            params.append(("$filter", condition))
        if orderby:
            params.append(("$orderby", ",".join(orderby)))
        if top is not None:
            params.append(("$top", str(top)))
        if skip:
            params.append(("$skip", str(skip)))
        query = "&".join(f"{name}={quote(value, safe=_SAFE)}" for name, value in params)
        data = self.client.get_json(f"{self.url}?{query}", what=f"read {self.entity.name}")
        rows = data.get("value") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise RetriableError(f"{self.client.where}: read {self.entity.name}: the answer has no 'value' list")
        return [self.codec.read(row) for row in rows]

    def count(self, condition: str | None) -> int:
        url = f"{self.url}/$count" + (f"?$filter={quote(condition, safe=_SAFE)}" if condition else "")
        text = self.client.get_text(url, what=f"count {self.entity.name}").strip()
        if not text.isdigit():
            raise RetriableError(f"{self.client.where}: count {self.entity.name}: not a number: {text[:40]!r}")
        return int(text)

    def by_keys(self, keys: Sequence[str], select: Sequence[str] | None) -> dict[str, Record]:
        """Full objects for single-field keys (``Ref_Key``), fetched in chunks."""
        name = self.entity.key[0] if self.entity.key else "Ref_Key"
        found: dict[str, Record] = {}
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start:start + KEY_CHUNK]
            condition = any_of(self.entity, [name], [(k,) for k in chunk], self.zone, "fetch by key")
            for record in self.fetch(select, condition, ()):
                found[str(record[name])] = record
        return found

    # -- strategies

    def _sweep(self, plan: Plan, request: ReadRequest, by_version: bool) -> Iterator[SourceBatch]:
        checkpoint = request.checkpoint if isinstance(request.checkpoint, dict) else {}
        start = 0 if checkpoint.get("restart") else int(checkpoint.get("skip", 0))
        guarded = request.incremental.detect_deletes and start == 0
        header = [*plan.key, plan.version] if by_version and plan.version else plan.select
        # version headers are tiny: fetch several batches' worth per request, hand them out batch by batch
        size = plan.page * (HEADER_PAGES if by_version else 1)
        for attempt in range(1, SWEEP_ATTEMPTS + 1):
            before = self.count(plan.base_filter) if guarded else None
            # hashes of the keys, not the keys: a fraction of the memory over a whole set, and a collision can
            # only make the sweep look unstable (swept again), never hide a skipped row
            seen: set[int] = set()
            for rows, skip, last in self._pages(header, plan, start, size):
                if guarded:
                    seen.update(hash(tuple(row.get(k) for k in plan.key)) for row in rows)
                records, unchanged = self._changed(plan, request, rows) if by_version else (rows, [])
                if not last:
                    yield SourceBatch(records, {"skip": skip}, unchanged)
                elif before is None or before == len(seen) == self.count(plan.base_filter):
                    yield SourceBatch(records, None, unchanged)
                    return
                else:  # the set changed while paging, so a row may have been skipped: sweep again
                    yield SourceBatch(records, {"restart": True} if attempt == SWEEP_ATTEMPTS else {"skip": skip},
                                      unchanged)

    def _pages(self, header: list[str] | None, plan: Plan, start: int,
               size: int) -> Iterator[tuple[list[Record], int, bool]]:
        """(rows of one batch, the offset after them, whether they are the last) over ``$top``/``$skip`` pages."""
        skip = start
        while True:
            rows = self.fetch(header, plan.base_filter, plan.key, size + 1, skip)  # one more: is there a next page?
            more = len(rows) > size
            rows = rows[:size]
            for offset in range(0, max(len(rows), 1), plan.page):
                chunk = rows[offset:offset + plan.page]
                yield chunk, skip + offset + len(chunk), not more and offset + plan.page >= len(rows)
            if not more:
                return
            skip += len(rows)

    def _changed(self, plan: Plan, request: ReadRequest, headers: list[Record]) -> tuple[list[Record], list[str]]:
        """Full objects for the new/changed versions among ``headers``; the keys of the unchanged ones."""
        key, version = plan.key[0], plan.version or ""
        keys = [str(h[key]) for h in headers]
        known = request.known_versions(keys) if request.known_versions else {}
        changed: list[str] = []
        unchanged: list[str] = []
        for k, h in zip(keys, headers, strict=True):
            (unchanged if known.get(k) == _text(h.get(version)) else changed).append(k)
        full = self.by_keys(changed, plan.select) if changed else {}
        return [full[k] for k in changed if k in full], unchanged

    def _by_cursor(self, plan: Plan, request: ReadRequest) -> Iterator[SourceBatch]:
        assert plan.cursor is not None
        cursor_prop = self.entity.prop(plan.cursor, "cursor")
        saved = request.checkpoint.get("cursor") if isinstance(request.checkpoint, dict) else None
        condition = plan.base_filter
        best = _decode(saved, cursor_prop.kind)
        if best is not None:
            start = _minus(best, request.incremental.lookback)
            condition = both(condition, f"{plan.cursor} ge {literal(cursor_prop, start, self.zone, 'cursor')}")
        order = [plan.cursor, *plan.key]
        header = [*order, plan.version] if plan.version else plan.select
        skip = 0
        while True:
            rows = self.fetch(header, condition, order, plan.page + 1, skip)
            more = len(rows) > plan.page
            rows = rows[:plan.page]
            skip += len(rows)
            for row in rows:
                value = row.get(plan.cursor)
                if value is not None and (best is None or value > best):
                    best = value  # a re-scanned window never moves the checkpoint back
            records, unchanged = self._changed(plan, request, rows) if plan.version else (rows, [])
            yield SourceBatch(records, {"cursor": _encode(best)}, unchanged)
            if not more:
                return


_SAFE = "$',()=:*/"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def _minus(value: Any, lookback: int) -> Any:
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=lookback)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value - lookback
    return value
