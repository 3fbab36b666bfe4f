from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.connections import ConnectionResolver
from hub.mapping.loader import load_text
from hub.runner import Runner
from hub.settings import HubSettings, RetryPolicy
from hub.state.store import StateStore
from hub.testing.databases import mariadb_database, postgres_schema
from hub.testing.memory import DATABASES, MemoryDatabase, database

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    with postgres_schema("hub_runner") as url:
        yield url


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    with mariadb_database("hub_runner") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    """The hub state in each supported database: SQLite, and the real PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    state = StateStore(url)
    yield state
    _empty(state)
    state.close()


def _empty(state: StateStore) -> None:
    """Session databases are shared by the tests: leave no rows behind."""
    from hub.state.models import Base

    with state.engine.begin() as c:
        for table in reversed(Base.metadata.sorted_tables):
            c.execute(table.delete())


@pytest.fixture
def systems() -> tuple[MemoryDatabase, MemoryDatabase]:
    """A fresh source and target in-memory database."""
    n = next(_names)
    yield database(f"src{n}"), database(f"dst{n}")
    DATABASES.pop(f"src{n}", None)
    DATABASES.pop(f"dst{n}", None)


MakeRunner = Callable[..., Runner]


@pytest.fixture
def make_runner(store: StateStore, systems: tuple[MemoryDatabase, MemoryDatabase]) -> MakeRunner:
    src, dst = systems
    src_name = next(k for k, v in DATABASES.items() if v is src)
    dst_name = next(k for k, v in DATABASES.items() if v is dst)
    env = {"AIRFLOW_CONN_SRC": f"memory://{src_name}", "AIRFLOW_CONN_DST": f"memory://{dst_name}"}
    settings = HubSettings(batch_size=100, retry=RetryPolicy(attempts=4, initial_wait=0, max_wait=0))

    def make(text: str) -> Runner:
        return Runner(load_text(text, "test.yaml").compiled, settings, store, ConnectionResolver(env=env))

    return make
