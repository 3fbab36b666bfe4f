"""``hub demo`` with its CRM in a real Firebird database (``HUB_DEMO_CRM_URL``): every exchange of the
shipped mappings runs against it, and a second demo run writes nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.demo import run_demo
from hub.testing.databases import firebird_database

pytestmark = pytest.mark.firebird


def test_every_exchange_of_the_demo_runs_on_a_firebird_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with firebird_database("hub_demo", charset="WIN1251") as url:
        monkeypatch.setenv("HUB_DEMO_CRM_URL", url)
        reports, _ = run_demo(tmp_path)
        assert reports and all(r.status == "success" for r in reports), [
            (r.exchange, r.status, r.message) for r in reports if r.status != "success"]
        assert sum(r.counts.created for r in reports) > 0
        again, _ = run_demo(tmp_path)
        assert all(r.status == "success" for r in again)
        assert sum(r.counts.created + r.counts.updated for r in again) == 0
