"""Intake replicas over one PostgreSQL hub database, with website_leads running in a loop meanwhile: every
acknowledged submission becomes exactly one inbox row and exactly one lead, whatever order the replicas
commit in (issue 17: with an id checkpoint, 20,000 acknowledged became 19,974 leads)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hub.testing.databases import postgres_schema
from hub.testing.intake_replicas import ExchangeLoop, environment, inbox_keys, intake_replicas, lead_refs, send
from sandbox.crm import seed

pytestmark = [pytest.mark.postgres, pytest.mark.system]
SUBMISSIONS = 20_000  # the acceptance size of issue 17


@pytest.mark.parametrize("replicas", [2, 4])
def test_every_acknowledged_submission_becomes_exactly_one_lead(replicas: int, tmp_path: Path) -> None:
    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    seed(crm_url, clients=20)
    with postgres_schema("hub_replicas") as hub_url:
        env = environment(tmp_path, hub_url, crm_url)
        with intake_replicas(env, replicas) as urls, ExchangeLoop(env) as loop:
            load = send(urls, range(SUBMISSIONS), connections_per_replica=4)
        inbox = inbox_keys(hub_url)
    leads = Counter(ref for ref in lead_refs(crm_url) if ref in load.acknowledged)
    assert loop.runs > 2  # the exchange read the inbox while the replicas were writing to it
    assert len(load.acknowledged) == SUBMISSIONS
    assert sorted(inbox) == sorted(load.acknowledged)
    assert set(leads) == load.acknowledged  # none lost ...
    assert set(leads.values()) == {1}  # ... none twice
