"""The two expression-level features exchange 1 needs from the core: a lookup that uses an earlier lookup
(the client of the contact found by phone), and ``pick`` for the round robin of managers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.connections import ConnectionResolver
from hub.errors import MappingError
from hub.expr.functions import pick
from hub.mapping.loader import load_text
from hub.runner import Runner
from hub.settings import HubSettings, RetryPolicy
from hub.state.store import StateStore
from hub.testing.memory import DATABASES, database

LEADS = """
exchange: leads_test
description: submissions to leads
schedule: "@hourly"
source: {connector: memory, connection: src, stream: submissions, key: id, incremental: {strategy: hash}}
target: {connector: memory, connection: dst, entity: leads, match: [ref], mode: create}
lookups:
  contact:
    entity: contacts
    match: [{phone: phone}]
    fields: [client_id]
  contact_client:
    entity: clients
    match: [{id: contact.client_id}]
    fields: [manager_id]
fields:
  ref: id
  client_id: contact.client_id
  manager_id: coalesce(contact_client.manager_id, pick(settings.managers, id))
settings: {managers: [7, 8, 9]}
"""


def test_round_robin_over_a_sequence_and_stable_for_text() -> None:
    assert [pick([7, 8, 9], n) for n in range(1, 7)] == [8, 9, 7, 8, 9, 7]
    assert pick(["a", "b"], "website:id:42") == pick(["a", "b"], "website:id:42")
    assert pick([], 3) is None and pick([1], None) is None and pick("abc", 1) is None


def test_a_lookup_uses_the_lookup_declared_before_it(tmp_path: Path) -> None:
    src, dst = database("fs_src"), database("fs_dst")
    try:
        src.tables["submissions"] = [{"id": 1, "phone": "+79165554433"}, {"id": 2, "phone": "+70000000000"}]
        dst.tables["contacts"] = [{"id": 10, "phone": "+79165554433", "client_id": 5}]
        dst.tables["clients"] = [{"id": 5, "manager_id": 4}]
        store = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
        resolver = ConnectionResolver(env={"AIRFLOW_CONN_SRC": "memory://fs_src", "AIRFLOW_CONN_DST": "memory://fs_dst"})
        runner = Runner(load_text(LEADS, "leads.yaml").compiled, HubSettings(retry=RetryPolicy(initial_wait=0)),
                        store, resolver)
        assert runner.apply().counts.created == 2
        leads = {row["ref"]: row for row in dst.tables["leads"]}
        assert (leads[1]["client_id"], leads[1]["manager_id"]) == (5, 4)  # the contact's client's manager
        assert (leads[2]["client_id"], leads[2]["manager_id"]) == (None, 9)  # nobody: round robin by id
        store.close()
    finally:
        DATABASES.pop("fs_src", None)
        DATABASES.pop("fs_dst", None)


def test_a_lookup_cannot_use_one_declared_after_it() -> None:
    backwards = LEADS.replace("match: [{phone: phone}]", "match: [{phone: contact_client.phone}]")
    with pytest.raises(MappingError, match="lookup 'contact' uses lookup 'contact_client', which is not declared "
                                           "before it") as caught:
        load_text(backwards, "leads.yaml")
    assert caught.value.line == 10  # the line of the match
