"""``hub`` with one more connector, for fault tests: ``crm_db_killed`` writes exactly like ``crm_db``, then
SIGKILLs its own process right after its Nth write call landed (``HUB_TEST_KILL_AFTER_WRITES``): the run dies
between a target write and the state commit of that batch, deterministically. The state store commits earlier
batches in the background (hub.runner.commits): the kill waits for those to land, so that exactly this batch's
state is missing (a kill at any moment, losing up to two batches, is test_kill_resume.py's).

Usage: python tests/fault/core/kill_after_write.py run EXCHANGE
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.crm_db import CrmDbConnector
from hub.cli import main
from hub.connector import WriteAction, WriteResult
from hub.manifest import Manifest
from hub.registry import register
from hub.state.store import StateStore


class KilledAfterWrite(CrmDbConnector):
    name: ClassVar[str] = "crm_db_killed"
    writes: ClassVar[int] = 0

    def write(self, entity: str, actions: Sequence[WriteAction], options: Any) -> list[WriteResult]:
        results = super().write(entity, actions, options)  # committed in the target
        KilledAfterWrite.writes += 1
        if KilledAfterWrite.writes >= int(os.environ["HUB_TEST_KILL_AFTER_WRITES"]):
            gc.unfreeze()  # a run freezes what existed before it (hub.runner.collector); get_objects skips those
            for store in (o for o in gc.get_objects() if isinstance(o, StateStore)):
                store.wait_for_commit()  # the batches before this one, committed in the background
            os.kill(os.getpid(), signal.SIGKILL)
        return results


# registered in this process, as the tests register their own connectors
register(Manifest(name=KilledAfterWrite.name, connectors={KilledAfterWrite.name: KilledAfterWrite}))

if __name__ == "__main__":
    main()
