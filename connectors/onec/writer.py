"""Writing to an entity set: create, update, post, mark for deletion — and never a duplicate.

* create = ``POST <Set>`` with the mapped fields (tabular sections whole, ``LineNumber`` on every row);
  update = ``PATCH <Set>(guid'…')`` with only the changed fields; delete = ``PATCH {"DeletionMark": true}``
  (1C's ``DELETE`` is physical and skips the reference checks accountants rely on).
* No lost update: an update first re-reads the object's ``DataVersion``; if it moved since the runner's
  lookup (someone saved the object in between), :class:`~hub.errors.ConcurrentEdit` makes the runner
  re-plan the record against what 1C holds now. The ``PATCH`` also sends ``If-Match: <DataVersion>``,
  which closes the last gap on servers that honour it (live ones are known to ignore it, reference §13).
* A document marked for deletion is unposted first and checked afterwards: it is never left posted.
* ``Posted`` in a document's fields is an action, not a property: ``true`` posts it
  (``POST …/Post``), ``false`` unposts it; a posted document that was changed is posted again so its
  movements follow. A refusal (1C's ``-1``) is a :class:`~hub.errors.BusinessError` with 1C's message:
  the record goes to dead letters, and the unposted document is found (not re-created) next time.
* A create whose outcome is unknown (the connection dropped, a 502 from the proxy) is *not* sent again
  blindly: the object is first looked up by the mapping's natural key (``target.match``); only if 1C
  does not have it is the create repeated. Without match fields the record goes to dead letters as
  :class:`~hub.errors.OutcomeUnknown` for an operator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from connectors.onec.metadata import EntitySet
from connectors.onec.options import ODataTargetOptions
from connectors.onec.query import entity_url
from connectors.onec.transport import HttpClient, NotFound, UncertainWrite
from connectors.onec.values import POSTED, VERSION, Codec
from hub.connector import Record, WriteAction, WriteResult
from hub.errors import BusinessError, ConcurrentEdit, OutcomeUnknown, RecordError, RetriableError

Finder = Callable[[dict[str, Any]], Record | None]  # natural-key values -> the existing object
PlannedVersion = Callable[[str], str | None]  # Ref_Key -> the DataVersion the runner planned against


class EntityWriter:
    def __init__(self, client: HttpClient, root: str, entity: EntitySet, codec: Codec, find: Finder,
                 planned_version: PlannedVersion):
        self.client = client
        self.root = root
        self.entity = entity
        self.codec = codec
        self.find = find
        self.planned_version = planned_version

    def write(self, actions: Sequence[WriteAction], options: ODataTargetOptions) -> list[WriteResult]:
        results = []
        for action in actions:
            try:
                results.append(self._apply(action, options))
            except RecordError as exc:
                results.append(WriteResult(action.source_key, "rejected", error=exc))
        return results

    def _apply(self, action: WriteAction, options: ODataTargetOptions) -> WriteResult:
        if action.kind == "create":
            return self._create(action, options)
        if action.kind == "update":
            return self._update(action, options)
        return self._mark_deleted(action, options)

    # -- actions

    def _create(self, action: WriteAction, options: ODataTargetOptions) -> WriteResult:
        body = self.codec.to_wire(action.fields)
        url = entity_url(self.root, self.entity.name) + "?$format=json"
        what = f"create {self.entity.name}"
        ref: str | None = None
        for attempt in range(self.client.retry.attempts):
            try:
                response = self.client.call("POST", url, body=body, idempotent=False, what=what,
                                            headers=_headers(options))
                created = self.client.json(response, what)
                if not isinstance(created, dict) or not created.get("Ref_Key"):
                    raise UncertainWrite(f"{self.client.where}: {what}: 1C's answer has no Ref_Key")
                ref = str(created["Ref_Key"])
                break
            except RetriableError as exc:  # in transit, a proxy's 5xx, or an unreadable answer: did 1C apply it?
                if not action.match:
                    raise OutcomeUnknown(f"{what}: the connection failed mid-request and the mapping has no "
                                         "target.match to tell whether 1C created the object; check 1C, then "
                                         "replay or discard this dead letter") from None
                existing = self.find(action.match)
                if existing is not None:  # 1C did apply it: the response was lost on the way back
                    ref = str(existing["Ref_Key"])
                    break
                if isinstance(exc, UncertainWrite) and exc.timed_out:
                    raise OutcomeUnknown(f"{what}: 1C did not answer in time and may still be writing the object; "
                                         "the next run looks it up again before creating it") from None
                self._pause(attempt)
        if ref is None:
            raise RetriableError(f"{self.client.where}: {what}: no answer after {self.client.retry.attempts} attempts")
        self._set_posted(ref, action.fields.get(POSTED), currently=False, options=options)
        return WriteResult(action.source_key, "created", ref)

    def _update(self, action: WriteAction, options: ODataTargetOptions) -> WriteResult:
        ref = action.target_key
        if ref is None:
            raise RecordError(f"update {self.entity.name}: the target object's key is unknown")
        changes = {k: v for k, v in action.fields.items() if not (k == POSTED and self.entity.is_document)}
        posted: bool | None = None
        if changes:
            what = f"update {self.entity.name}"
            headers = {**_headers(options), **self._unchanged_since_planned(ref, what)}
            url = entity_url(self.root, self.entity.name, ref) + "?$format=json"
            response = self.client.call("PATCH", url, body=self.codec.to_wire(changes), idempotent=True, what=what,
                                        headers=headers)
            posted = bool(self.client.json(response, what).get(POSTED)) if self.entity.is_document else None
        self._set_posted(ref, action.fields.get(POSTED, posted), currently=posted, options=options)
        return WriteResult(action.source_key, "updated", ref)

    def _unchanged_since_planned(self, ref: str, what: str) -> dict[str, str]:
        """Check that nobody saved the object since the runner read it; the ``If-Match`` header for the write."""
        if VERSION not in self.entity.props:
            return {}
        version = self._current(ref, [VERSION]).get(VERSION)
        planned = self.planned_version(ref)
        if planned is not None and version != planned:
            raise ConcurrentEdit(f"{self.client.where}: {what}: {self.entity.name} {ref} was saved in 1C since the "
                                 "hub read it; re-planning it against what it holds now")
        return {"If-Match": str(version)} if version else {}

    def _mark_deleted(self, action: WriteAction, options: ODataTargetOptions) -> WriteResult:
        ref = action.target_key
        if ref is None:  # never linked to a 1C object: nothing in 1C to mark
            return WriteResult(action.source_key, "deleted", None)
        fields = self.codec.prepare({**action.fields, "DeletionMark": True})
        what = f"mark {self.entity.name} for deletion"
        url = entity_url(self.root, self.entity.name, ref) + "?$format=json"
        try:
            # 1C may keep a marked document posted (its movements stay in the books): unpost it first
            if self.entity.is_document and self._current(ref, [POSTED]).get(POSTED):
                self._set_posted(ref, False, currently=True, options=options)
            self.client.call("PATCH", url, body=self.codec.to_wire(fields), idempotent=True, what=what,
                             headers=_headers(options))
            if self.entity.is_document and self._current(ref, [POSTED]).get(POSTED):
                raise BusinessError(f"{what}: {self.entity.name} {ref} is still posted after it was unposted and "
                                    "marked; unpost it in 1C")
        except NotFound:  # deleted in 1C already
            pass
        return WriteResult(action.source_key, "deleted", ref)

    def _current(self, ref: str, select: list[str]) -> Record:
        """What 1C holds now for these properties of one object."""
        url = entity_url(self.root, self.entity.name, ref) + "?$format=json&$select=" + ",".join(select)
        found = self.client.get_json(url, what=f"read {self.entity.name}")
        return self.codec.read(dict(found)) if isinstance(found, dict) else {}

    # -- posting

    def _set_posted(self, ref: str, wanted: Any, currently: bool | None, options: ODataTargetOptions) -> None:
        if not self.entity.is_document or wanted is None:
            return
        if wanted:
            action = "Post"
            query = "?PostingModeOperational=" + ("true" if options.posting_mode == "operational" else "false")
        elif currently is not False:
            action, query = "Unpost", ""
        else:
            return
        url = entity_url(self.root, self.entity.name, ref, action) + query
        self.client.call("POST", url, idempotent=True, what=f"{action.lower()} {self.entity.name}", expect="any")

    def _pause(self, attempt: int) -> None:
        policy = self.client.retry
        time.sleep(min(policy.max_wait, policy.initial_wait * 2 ** attempt))


def _headers(options: ODataTargetOptions) -> dict[str, str]:
    return {"1C_OData-DataLoadMode": "true"} if options.data_load_mode else {}
