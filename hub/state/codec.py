"""JSON that keeps Decimal, dates, times and bytes: payloads replayed from dead letters and the inbox
must reach the mapping with the same types they had when they were first read."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": format(value, "f")}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} value")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "$decimal": Decimal,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$bytes": base64.b64decode,
}


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        decoder = _DECODERS.get(key)
        if decoder is not None and isinstance(value, str):
            return decoder(value)
    return obj


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def loads(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_hook)


def content_hash(value: Any) -> str:
    """A fingerprint of a record: equal content, equal hash, in every process.

    The hash is taken over the ``repr`` of a canonical form: dict keys sorted, set elements sorted, every
    value keeping its type (``1``, ``'1'`` and ``Decimal('1')`` differ). Connectors may build records in
    any field order (the order of a frozenset of field names changes with each process's hash seed), so a
    plain ``repr`` would make every new process see every record as changed. ``repr`` is unambiguous for
    the types records carry and several times faster than JSON; a change of Python version that changed a
    ``repr`` would only cause one extra comparison with the target, never a wrong write.
    """
    return hashlib.blake2b(repr(canonical(value)).encode("utf-8"), digest_size=16).hexdigest()


_CONTAINERS = (dict, list, tuple, set, frozenset)


def canonical(value: Any) -> Any:
    """``value`` with every dict rebuilt in sorted key order and every set as a sorted, marked list."""
    if isinstance(value, dict):
        try:
            keys = sorted(value)
        except TypeError:  # keys of mixed types: order them by their repr
            keys = sorted(value, key=repr)
        return {k: canonical(value[k]) if isinstance(value[k], _CONTAINERS) else value[k] for k in keys}
    if isinstance(value, list):
        return [canonical(v) if isinstance(v, _CONTAINERS) else v for v in value]
    if isinstance(value, tuple):
        return tuple(canonical(v) if isinstance(v, _CONTAINERS) else v for v in value)
    if isinstance(value, (set, frozenset)):
        return _SortedSet(sorted(repr(canonical(v)) for v in value))
    return value


class _SortedSet(list):  # type: ignore[type-arg]
    """A set's elements (as reprs) in sorted order; its repr is marked so it never equals a list's."""

    def __repr__(self) -> str:
        return "set(" + list.__repr__(self) + ")"
