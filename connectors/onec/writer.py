"""Writing to an entity set: create, update, post, mark for deletion — and never a duplicate.

* create = ``POST <Set>`` with the mapped fields (tabular sections whole, ``LineNumber`` on every row);
  update = ``PATCH <Set>(guid'…')`` with only the changed fields; delete = ``PATCH {"DeletionMark": true}``
  (1C's ``DELETE`` is physical and skips the reference checks accountants rely on).
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

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from connectors.onec.metadata import EntitySet
from connectors.onec.options import ODataTargetOptions
from connectors.onec.query import entity_url
from connectors.onec.transport import HttpClient, NotFound, UncertainWrite
from connectors.onec.values import POSTED, Codec
from hub.connector import Record, WriteAction, WriteResult
from hub.errors import OutcomeUnknown, RecordError, RetriableError

Finder = Callable[[dict[str, Any]], Record | None]  # natural-key values -> the existing object


class EntityWriter:
    def __init__(self, client: HttpClient, root: str, entity: EntitySet, codec: Codec, find: Finder):
        self.client = client
        self.root = root
        self.entity = entity
        self.codec = codec
        self.find = find

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
            url = entity_url(self.root, self.entity.name, ref) + "?$format=json"
            response = self.client.call("PATCH", url, body=self.codec.to_wire(changes), idempotent=True, what=what,
                                        headers=_headers(options))
            posted = bool(self.client.json(response, what).get(POSTED)) if self.entity.is_document else None
        self._set_posted(ref, action.fields.get(POSTED, posted), currently=posted, options=options)
        return WriteResult(action.source_key, "updated", ref)

    def _mark_deleted(self, action: WriteAction, options: ODataTargetOptions) -> WriteResult:
        ref = action.target_key
        if ref is None:  # never linked to a 1C object: nothing in 1C to mark
            return WriteResult(action.source_key, "deleted", None)
        fields = self.codec.prepare({**action.fields, "DeletionMark": True})
        url = entity_url(self.root, self.entity.name, ref) + "?$format=json"
        with contextlib.suppress(NotFound):  # deleted in 1C already
            self.client.call("PATCH", url, body=self.codec.to_wire(fields), idempotent=True,
                             what=f"mark {self.entity.name} for deletion", headers=_headers(options))
        return WriteResult(action.source_key, "deleted", ref)

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
