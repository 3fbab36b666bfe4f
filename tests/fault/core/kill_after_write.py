"""``hub`` with one more connector, for fault tests: ``crm_db_killed`` writes exactly like ``crm_db``, then
SIGKILLs its own process right after its Nth write call landed (``HUB_TEST_KILL_AFTER_WRITES``): the run dies
between a target write and the state commit of that batch, deterministically.

Usage: python tests/fault/core/kill_after_write.py run EXCHANGE
"""

from __future__ import annotations

import os
import signal
import sys
import types
from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.crm_db import CrmDbConnector
from hub.cli import main
from hub.connector import WriteAction, WriteResult


class KilledAfterWrite(CrmDbConnector):
    name: ClassVar[str] = "crm_db_killed"
    writes: ClassVar[int] = 0

    def write(self, entity: str, actions: Sequence[WriteAction], options: Any) -> list[WriteResult]:
        results = super().write(entity, actions, options)  # committed in the target
        KilledAfterWrite.writes += 1
        if KilledAfterWrite.writes >= int(os.environ["HUB_TEST_KILL_AFTER_WRITES"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return results


# found as connectors.<name>.CONNECTOR, the way the hub finds any connector package
module = types.ModuleType(f"connectors.{KilledAfterWrite.name}")
module.CONNECTOR = KilledAfterWrite  # type: ignore[attr-defined]
sys.modules[module.__name__] = module

if __name__ == "__main__":
    main()
