"""``hub`` with one more connector, for fault tests: ``crm_db_killed`` writes exactly like ``crm_db``, then
SIGKILLs its own process right after its Nth write call landed (``HUB_TEST_KILL_AFTER_WRITES``): the run dies
between a target write and the state commit of that batch, deterministically.

Usage: python tests/fault/core/kill_after_write.py run EXCHANGE
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.crm_db import CrmDbConnector
from hub.cli import main
from hub.connector import WriteAction, WriteResult
from hub.manifest import Manifest
from hub.registry import register


class KilledAfterWrite(CrmDbConnector):
    name: ClassVar[str] = "crm_db_killed"
    writes: ClassVar[int] = 0

    def write(self, entity: str, actions: Sequence[WriteAction], options: Any) -> list[WriteResult]:
        results = super().write(entity, actions, options)  # committed in the target
        KilledAfterWrite.writes += 1
        if KilledAfterWrite.writes >= int(os.environ["HUB_TEST_KILL_AFTER_WRITES"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return results


# registered in this process, as the tests register their own connectors
register(Manifest(name=KilledAfterWrite.name, connectors={KilledAfterWrite.name: KilledAfterWrite}))

if __name__ == "__main__":
    main()
