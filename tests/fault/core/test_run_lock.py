"""One run of an exchange at a time, with real ``hub run`` processes on every kind of hub database: runs
started together are serialized, a run that cannot wait names the one in progress in one line, and a run
killed with SIGKILL neither blocks the next one for ever nor stays "running" in the run log."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.state.store import StateStore
from hub.testing.databases import mariadb_database, postgres_schema

from .test_kill_resume import MAPPING, make_source, make_target

ROWS = 4_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """``hub`` settings: clients_replica from a SQLite CRM into a SQLite replica table, the hub state in each
    kind of database; a killed run's lease (SQLite, MariaDB) expires after 3 s."""
    source, target, mappings = tmp_path / "crm.db", tmp_path / "replica.db", tmp_path / "mappings"
    make_source(source, ROWS)
    make_target(f"sqlite:///{target}")
    mappings.mkdir()
    (mappings / "clients_replica.yaml").write_text(MAPPING, encoding="utf-8")
    with _hub_database(request.param, tmp_path) as hub_url:
        yield {**os.environ, "HUB_MAPPINGS_DIR": str(mappings), "HUB_DATABASE_URL": hub_url, "HUB_BATCH_SIZE": "100",
               "HUB_RUN_LOCK_TTL": "3", "COLUMNS": "250",
               "AIRFLOW_CONN_SRC": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"sqlite:///{source}"}}),
               "AIRFLOW_CONN_DST": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": f"sqlite:///{target}"}})}


def _hub_database(kind: str, tmp_path: Path) -> AbstractContextManager[str]:
    if kind == "postgres":
        return postgres_schema("hub_lock")
    if kind == "mariadb":
        return mariadb_database("hub_lock")
    return nullcontext(f"sqlite:///{tmp_path / 'hub.db'}")


def hub(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def replica_ids(env: dict[str, str]) -> list[int]:
    engine = sa.create_engine(json.loads(env["AIRFLOW_CONN_DST"])["extra"]["url"])
    with engine.connect() as c:
        ids = [row[0] for row in c.execute(sa.text("SELECT source_id FROM replica ORDER BY source_id"))]
    engine.dispose()
    return ids


def runs(env: dict[str, str]) -> list:  # type: ignore[type-arg]
    store = StateStore(env["HUB_DATABASE_URL"])
    try:
        return sorted(store.runs("clients_replica", 100), key=lambda r: r.id)
    finally:
        store.close()


def wait_until_running(env: dict[str, str], process: subprocess.Popen[str]) -> None:
    """Until the process has logged its run and written its first rows."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the run ended before it could be observed: {process.communicate()}")
        if any(r.status == "running" for r in runs(env)) and replica_ids(env):
            return
        time.sleep(0.05)
    raise AssertionError("the run did not start within 120 s")


def test_runs_started_together_take_turns(env: dict[str, str]) -> None:
    StateStore(env["HUB_DATABASE_URL"]).close()  # migrated before the race
    processes = [hub(env, "run", "clients_replica", "--wait", "300") for _ in range(3)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    logged = runs(env)
    assert [r.status for r in logged] == ["success"] * 3
    for earlier, later in itertools.pairwise(logged):
        assert earlier.finished_at <= later.started_at  # no overlap
    assert [r.created for r in logged] == [ROWS, 0, 0]
    # the replica has no unique constraint: runs side by side would each have created every row
    assert replica_ids(env) == list(range(1, ROWS + 1))


def test_a_run_that_cannot_wait_names_the_run_in_progress(env: dict[str, str]) -> None:
    first = hub({**env, "HUB_BATCH_SIZE": "5"}, "run", "clients_replica")  # small batches: a long run
    wait_until_running(env, first)
    [holder] = runs(env)
    second = hub(env, "run", "clients_replica")
    _, err = second.communicate(timeout=120)
    assert first.poll() is None, "the first run ended before the second one tried"
    assert second.returncode == 1
    assert err.strip().count("\n") == 0, err  # one line, no traceback
    assert re.fullmatch(rf"failed: clients_replica is already running: run {holder.id} on \S+ pid {first.pid} since "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; try again later or pass --wait SECONDS", err.strip()), err
    assert first.wait(300) == 0
    assert replica_ids(env) == list(range(1, ROWS + 1))


def test_a_killed_run_is_marked_interrupted_and_does_not_block_the_next(env: dict[str, str]) -> None:
    killed = hub(env, "run", "clients_replica")
    wait_until_running(env, killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    [dead] = runs(env)
    assert dead.status == "running"  # nobody could record its end
    rerun = hub(env, "run", "clients_replica", "--wait", "120")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    listed = hub(env, "runs", "clients_replica")
    table, _ = listed.communicate(timeout=60)
    dead_row = next(line for line in table.splitlines() if re.match(rf"\W*{dead.id}\W", line))
    assert "interrupted" in dead_row
    assert [r.status for r in runs(env)] == ["interrupted", "success"]
    assert replica_ids(env) == list(range(1, ROWS + 1))  # resumed: every row once
