"""What compiled expressions may ask of a run: default phone region, time zone, the key map; and where they
report a value a conversion emptied or cut (collected per record, then taken by the runner)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hub.expr.functions import Loss
from hub.state.store import StateStore


class RunContext:
    def __init__(self, store: StateStore, default_region: str, timezone: str, cache_size: int = 50_000):
        self.default_region = default_region
        self.timezone = timezone
        self._store = store
        self._cache: OrderedDict[tuple[str, str, str, str], str | None] = OrderedDict()
        self._cache_size = cache_size
        #: losses reported while mapping the current record (the runner takes them after each record)
        self.losses: list[Loss] = []

    def warn(self, loss: Loss) -> None:
        self.losses.append(loss)

    def take_losses(self) -> list[Loss]:
        taken, self.losses = self.losses, []
        return taken

    def lookup(self, entity: str, value: Any, from_system: str, to_system: str) -> str | None:
        key = (entity, str(value), from_system, to_system)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = self._store.key_lookup(entity, str(value), from_system, to_system)
        if found is not None:  # misses are not cached: the object may be synced later in this run
            self._cache[key] = found
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found
