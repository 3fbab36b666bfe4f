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
from hub.testing.memory import DATABASES, MemoryDatabase, database

_names = itertools.count()


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(f"sqlite:///{tmp_path / 'hub.db'}")
    yield state
    state.close()


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
