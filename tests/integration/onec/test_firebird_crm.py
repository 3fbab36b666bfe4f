"""`hub validate` of the 1C mappings against a CRM in a real Firebird database (both directions of the
exchanges themselves run in test_server_crm.py, on PostgreSQL and Firebird alike)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.testing.databases import firebird_database
from sandbox.onec.world import MAPPINGS, OneCWorld, onec_world

pytestmark = pytest.mark.firebird


@pytest.fixture(params=["UTF8", "WIN1251"])
def fb_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OneCWorld]:
    """The CRM in a Firebird database whose own character set is UTF8, or WIN1251 as in older CRMs."""
    with firebird_database("hub_onec", charset=request.param) as url, onec_world(tmp_path, url) as opened:
        yield opened


def test_hub_validate_finds_every_crm_table_and_column_of_the_1c_mappings_in_firebird(fb_world: OneCWorld,
                                                                                      tmp_path: Path) -> None:
    """Firebird stores the unquoted reference tables upper-case; the mappings' lower-case names find them, and
    a column the CRM lacks is reported."""
    mappings = sorted(MAPPINGS.glob("*1c*.yaml"))
    assert [str(f.error) for f in fb_world.hub.validate(mappings) if not f.warning] == []
    text = (MAPPINGS / "payments_from_1c.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "payments_from_1c.yaml"
    broken.write_text(text.replace("paid_on:", "paid_at:", 1), encoding="utf-8")
    errors = [str(f.error) for f in fb_world.hub.validate([broken]) if not f.warning]
    assert any("paid_at" in error for error in errors), errors
