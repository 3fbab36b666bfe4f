"""A pooled connection the server dropped while it sat idle is replaced, not failed on (the hub pings a connection
before reuse only after it sat idle: hub.state.engine.ping_after_idle)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.state.engine import make_engine
from hub.testing.databases import MARIADB_URL, POSTGRES_URL

KILL = {"postgresql": "SELECT pg_terminate_backend(:pid)", "mysql": "KILL :pid"}
SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}


@pytest.mark.parametrize("url", [pytest.param(POSTGRES_URL, marks=pytest.mark.postgres),
                                 pytest.param(MARIADB_URL, marks=pytest.mark.mariadb)])
def test_a_connection_killed_while_idle_is_replaced(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.state.engine.IDLE_BEFORE_PING", 0.0)  # every checkout counts as after a pause
    engine, killer = make_engine(url), make_engine(url)
    try:
        dialect = engine.dialect.name
        with engine.connect() as c:
            first = c.execute(text(SESSION_ID[dialect])).scalar_one()
        with killer.connect() as k:  # the server drops the pooled connection, as after a restart
            k.execute(text(KILL[dialect]), {"pid": first})
            k.commit()
        with engine.connect() as c:
            second = c.execute(text(SESSION_ID[dialect])).scalar_one()
        assert second != first
    finally:
        engine.dispose()
        killer.dispose()
