"""Settle the effect ledger: find out what became of writes whose outcome was never committed.

A run killed between a target write and its batch's state commit leaves the write *pending* in the ledger and
the record without state: later runs would not know the object exists, so a later deletion at the source
would never reach it. At the start of every apply, each pending write of the exchange is looked up in the
target, by the target key or the match values kept with its intent:

* an object found for a create or update: its key and key-map link are recorded (without a content hash, so
  the next run compares the object field by field), and the write is closed as done;
* a deletion whose object is gone (or carries the delete marks): done, and the record is forgotten;
* nothing found: closed as ``not_happened``, so the next sync simply writes the record again.

A target that cannot be searched leaves its pending writes as they are: the record's next write goes to dead
letters as OutcomeUnknown for a person to check (``_Run._check_ledger``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from hub.connector import AmbiguousMatch
from hub.runner.blame import blamed
from hub.runner.items import key_text, same_value
from hub.state.store import KeyLink, PendingEffect, Settlement, chunks

if TYPE_CHECKING:
    from hub.runner.engine import _Run

Finder = tuple[tuple[str, ...], tuple[Any, ...]]  # fields to look up by, and their values


def settle_ledger(run: _Run) -> int:
    """Close every pending write of the run's exchange that the target can tell about; return how many."""
    if not run.can_lookup:
        return 0
    pending = run.store.pending_effects(run.mapping.exchange)
    settlement = Settlement(run.mapping.exchange)
    for effect in pending:
        if effect.batch_id is not None:
            settlement.batches.setdefault(effect.batch_id, []).append(effect)
    for chunk in chunks(pending, run.runner.batch_size):
        _settle_chunk(run, chunk, settlement)
    if settlement.outcomes or settlement.batches:
        run.store.settle(settlement)
    return len(settlement.outcomes)


def _settle_chunk(run: _Run, effects: Sequence[PendingEffect], settlement: Settlement) -> None:
    target = run.mapping.target
    groups: dict[tuple[str, ...], list[tuple[PendingEffect, tuple[Any, ...]]]] = {}
    for effect in effects:
        finder = _finder(run, effect)
        if finder is not None:  # nothing identifies the object: the outcome stays unknown
            groups.setdefault(finder[0], []).append((effect, finder[1]))
    fields = sorted(f for f in {run.key_field, *target.delete_fields} if f is not None)
    found: dict[str, dict[str, Any] | None] = {}  # idempotency key -> the object found
    for by, members in groups.items():
        with blamed(target.connector, f"looking up {target.entity!r}", [e.source_key for e, _ in members]):
            objects = run._retried(partial(run.target.lookup, target.entity, by, list({v for _, v in members}),
                                           fields))
        for effect, values in members:
            obj = objects.get(values)
            # several candidates: which one this write made is not the hub's to guess; the next sync sends the
            # record to dead letters naming them all
            found[effect.idempotency_key] = None if isinstance(obj, AmbiguousMatch) else obj
    keys = [key_text(obj.get(run.key_field)) for obj in found.values() if obj is not None and run.key_field]
    owners = run.store.owners(run.mapping.exchange, [k for k in keys if k is not None]) if keys else {}
    for effect, _ in (member for members in groups.values() for member in members):
        obj = found[effect.idempotency_key]
        if effect.action == "delete":
            _close_delete(run, effect, obj, settlement)
        else:
            _close_write(run, effect, obj, owners, settlement)


def _finder(run: _Run, effect: PendingEffect) -> Finder | None:
    """How to look the write's object up: by its target key when known, else by its match values."""
    if effect.target_key is not None and run.key_field:
        return (run.key_field,), (effect.target_key,)
    if effect.action != "delete" and effect.match and all(v is not None and v != "" for v in effect.match.values()):
        return tuple(effect.match), tuple(effect.match.values())
    return None


def _close_write(run: _Run, effect: PendingEffect, obj: dict[str, Any] | None, owners: dict[str, set[str]],
                 settlement: Settlement) -> None:
    target_key = key_text(obj.get(run.key_field)) if obj is not None and run.key_field else None
    # an object another source record owns was not made by this write (two records never share one object)
    if obj is None or owners.get(target_key or "", {effect.source_key}) - {effect.source_key}:
        settlement.outcomes[effect.idempotency_key] = ("not_happened", None)
        return
    mapping = run.mapping
    settlement.outcomes[effect.idempotency_key] = ("done", target_key)
    settlement.targets[effect.source_key] = target_key
    if target_key is not None:
        settlement.links.append(KeyLink(mapping.target.key_map_entity or mapping.target.entity,
                                        mapping.source.connection, effect.source_key, mapping.target.connection,
                                        target_key))
    settlement.log.append(dict(run_id=effect.run_id or run.report.run_id, source_key=effect.source_key,
                               target_key=target_key, fields=None,
                               action="created" if effect.action == "create" else "updated"))


def _close_delete(run: _Run, effect: PendingEffect, obj: dict[str, Any] | None, settlement: Settlement) -> None:
    target = run.mapping.target
    marked = target.on_delete == "mark" and obj is not None and all(
        same_value(obj.get(name), value) for name, value in target.delete_fields.items())
    if obj is not None and not marked:
        settlement.outcomes[effect.idempotency_key] = ("not_happened", effect.target_key)
        return
    settlement.outcomes[effect.idempotency_key] = ("done", effect.target_key)
    settlement.forget.append(effect.source_key)
    settlement.log.append(dict(run_id=effect.run_id or run.report.run_id, source_key=effect.source_key,
                               target_key=effect.target_key, fields=None, action="deleted"))
