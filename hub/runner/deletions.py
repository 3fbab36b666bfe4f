"""The deletion rules: what becomes of a known record that a complete sweep of the source did not see.

Leaving the scope is not a deletion. A record missing from the sweep is deleted (or marked) in the target
only when all of these hold:

1. it was deleted at the source: the source connector says the record no longer exists, ignoring the
   mapping's scope filters (``Connector.source_keys_present``). A record that still exists merely left the
   scope (a client whose only deal was lost): it is kept, with its state, and counted as ``out_of_scope``;
2. the hub created the target object: the effect ledger has a done ``create`` of this record for this object;
3. the target has nothing that depends on it (``Connector.deletion_blockers``: documents refer to it, ...).

Anything else goes to dead letters as :class:`~hub.errors.NeedsPerson` with the reason; the hub never
deletes or marks it. A source connector that cannot tell deleted from out of scope, with scope filters in
the mapping, sends every missing record there.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from hub.connector import parse_options
from hub.errors import NeedsPerson
from hub.runner.blame import blamed
from hub.runner.items import Item

if TYPE_CHECKING:
    from hub.runner.engine import _Run

Missing = tuple[str, str | None]  # source key, target key


def split_by_source(run: _Run, missing: Sequence[Missing]) -> tuple[list[Item], list[Missing], bool]:
    """(records that left the scope, as kept items; records gone from the source; whether "gone" is a guess).

    The guess: the source cannot tell, and the mapping filters its scope, so "gone" may be "out of scope".
    """
    if not missing:
        return [], [], False
    source = run.mapping.source
    connector = run.pool.get(source.connector, source.connection)
    options = parse_options(type(connector).source_options, source.options, "source")
    keys = [key for key, _ in missing]
    with blamed(source.connector, f"checking which records of stream {source.stream!r} are still there", keys):
        present = run._retried(partial(connector.source_keys_present, source.stream, tuple(source.key), keys, options))
    if present is None:
        return [], list(missing), bool(source.options)
    kept = []
    for key, target_key in missing:
        if key in present:
            item = Item(source_key=key, record={}, target_key=target_key, outcome="out_of_scope")
            item.note = "no longer in the source's scope but still exists there: kept, not deleted"
            kept.append(item)
    return kept, [(key, target_key) for key, target_key in missing if key not in present], False


def decide(run: _Run, gone: Sequence[Missing], guess: bool) -> list[Item]:
    """For records gone from the source: a deletion with its reason, or a NeedsPerson rejection saying why not."""
    if guess:
        connector = run.mapping.source.connector
        return [_refused(run, key, target_key, f"missing from the source's scope, and {connector!r} cannot tell "
                                               "whether it was deleted or only left the scope")
                for key, target_key in gone]
    created = run.store.hub_created(run.mapping.exchange, [key for key, _ in gone])
    ours = [target_key for key, target_key in gone if target_key is not None and target_key in created.get(key, {})]
    target = run.mapping.target
    with blamed(target.connector, f"checking what refers to {target.entity!r} objects", [key for key, _ in gone]):
        blockers = run._retried(partial(run.target.deletion_blockers, target.entity, ours)) if ours else {}
    items = []
    for key, target_key in gone:
        if target_key is None:
            items.append(_refused(run, key, target_key, "deleted at the source, but the hub does not know its "
                                                        "target object"))
        elif target_key not in created.get(key, {}):
            items.append(_refused(run, key, target_key, f"deleted at the source, but the hub did not create the "
                                                        f"target object {target_key} (it found it there)"))
        elif target_key in blockers:
            items.append(_refused(run, key, target_key, f"deleted at the source, but {blockers[target_key]}"))
        else:
            item = run.delete_item(key, target_key)
            item.note = f"deleted at the source; created by the hub in run {created[key][target_key]}"
            items.append(item)
    return items


def _refused(run: _Run, key: str, target_key: str | None, why: str) -> Item:
    item = run.delete_item(key, target_key)
    item.reject(NeedsPerson(
        f"needs a person: {why}; nothing was deleted or marked. Delete or keep the object by hand, then "
        f"`hub forget {run.mapping.exchange} {key}` and discard this dead letter"))
    return item
