"""A failing run reads in one line on every try: the run's note changes with each try and names the cause
(refused, timed out, DNS, TLS) from the exception chain, not only the hub's message."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.airflow.test_dag_runs import MAPPINGS, finished_run

pytestmark = pytest.mark.airflow


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_note(dag_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalars(sa.select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())).first()
        return run.note


def test_each_try_of_an_unreachable_system_updates_the_note_with_the_cause(
        dagbag, airflow_db, hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.app import Hub

    port = closed_port()
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(MAPPINGS))
    monkeypatch.setenv("HUB_RETRY_ATTEMPTS", "1")  # the runner's own retries: none, Airflow's tries are the subject
    monkeypatch.setenv("AIRFLOW_CONN_ONEC_DOWN", json.dumps(
        {"conn_type": "hub_onec_odata", "host": "127.0.0.1", "port": port, "schema": "buh", "login": "u",
         "password": "secret-1c"}))
    monkeypatch.setenv("AIRFLOW_CONN_ARCHIVE", "memory://down-archive")
    dag = dagbag().dags["onec_down"]
    for task in dag.tasks:
        task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), 0
    seen_at_each_try: list[str | None] = []
    real_plan = Hub.plan

    def plan_noting_what_the_operator_sees(hub: Hub, exchange: str, triggered_by: str | None = None):
        seen_at_each_try.append(current_note("onec_down"))
        return real_plan(hub, exchange, triggered_by)

    monkeypatch.setattr(Hub, "plan", plan_noting_what_the_operator_sees)

    dag.test()

    run = finished_run("onec_down")
    line = (f"connection refused by 127.0.0.1:{port}; onec_down (hub_onec_odata at 127.0.0.1:{port}): "
            "read $metadata failed in transit (ConnectionError)")
    assert run["state"] == "failed"
    assert run["tasks"]["plan"] == ("failed", 2)
    assert seen_at_each_try == [None, f"onec_down: plan try 1 of 2: {line}"]  # while it was still retrying
    assert run["note"] == f"onec_down: plan try 2 of 2: {line}"
