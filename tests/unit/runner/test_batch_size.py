"""How many records a batch holds: the mapping's choice, else HUB_BATCH_SIZE, else what both ends handle best."""

from __future__ import annotations

from hub.mapping.loader import load_text
from hub.runner.engine import batch_size_for
from hub.settings import HubSettings

MAPPING = """
exchange: copy
description: test
schedule: "@hourly"
source: {{connector: {source}, connection: a, stream: clients, key: id}}
target: {{connector: {target}, connection: b, entity: clients, match: [id], mode: upsert}}
{extra}
fields:
  id: id
"""


def size(source: str, target: str, extra: str = "", env: dict[str, str] | None = None) -> int:
    compiled = load_text(MAPPING.format(source=source, target=target, extra=extra), "copy.yaml").compiled
    return batch_size_for(compiled, HubSettings.from_env(env or {}))


def test_database_to_database_moves_thousands_of_rows_per_batch() -> None:
    assert size("crm_db", "crm_db") == 5_000


def test_a_connector_without_a_preference_keeps_the_hub_default() -> None:
    assert size("crm_db", "memory") == 500
    assert size("memory", "crm_db") == 500
    assert size("crm_db", "crm_db", "lookups:\n  kind: {connector: memory, connection: c, entity: kinds, "
                                    "match: [{name: name}], fields: [ref]}") == 500


def test_what_a_person_set_wins() -> None:
    assert size("crm_db", "crm_db", env={"HUB_BATCH_SIZE": "300"}) == 300
    assert size("crm_db", "crm_db", "batch_size: 40", env={"HUB_BATCH_SIZE": "300"}) == 40
    assert size("memory", "memory", env={"HUB_BATCH_SIZE": "7000"}) == 7_000
