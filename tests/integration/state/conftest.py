from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.testing.databases import mariadb_database, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh hub database in each supported kind: a SQLite file, a PostgreSQL schema, a MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    elif request.param == "postgres":
        with postgres_schema("hub_state") as url:
            yield url
    else:
        with mariadb_database("hub_state") as url:
            yield url
