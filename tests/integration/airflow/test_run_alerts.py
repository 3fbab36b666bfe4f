"""A run that rejected records does not look like a success: its note is marked, and above the mapping's
``alerts`` the run ends failed after committing, so the chat webhook notifier fires (a real HTTP server). Its
metrics go through Airflow's own StatsD set-up (what the task runner initializes in a worker from ``[metrics]``),
received on a real UDP socket."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hub.state.store import StateStore
from hub.testing.memory import DATABASES, database
from tests.integration.airflow.test_dag_runs import MAPPINGS, finished_run

pytestmark = pytest.mark.airflow


@pytest.fixture
def chat() -> Iterator[tuple[str, list[dict]]]:
    """A chat's incoming webhook: what it received."""
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/ops", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def strict(dagbag, airflow_db, hub_env: Path, chat, monkeypatch: pytest.MonkeyPatch):
    archive = f"archive-{uuid.uuid4().hex[:8]}"
    url, _ = chat
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(MAPPINGS))
    monkeypatch.setenv("AIRFLOW_CONN_ARCHIVE", f"memory://{archive}")
    monkeypatch.setenv("AIRFLOW_CONN_HUB_ALERTS", json.dumps({"conn_type": "http", "extra": {"url": url}}))
    monkeypatch.setenv("HUB_ALERT_CONNECTION", "hub_alerts")  # read when the DAGs are parsed
    yield dagbag().dags["strict_leads"], archive
    DATABASES.pop(archive, None)


def submit(hub_env: Path, *names: str) -> list[str]:
    store = StateStore(f"sqlite:///{hub_env / 'hub.db'}")
    try:
        refs = [uuid.uuid4().hex for _ in names]
        for ref, name in zip(refs, names, strict=True):
            store.inbox_put("website", ref, {"submission_id": ref, "name": name})
        return refs
    finally:
        store.close()


def test_a_run_that_rejected_records_is_marked_partial_and_notifies_nobody(strict, hub_env: Path, chat) -> None:
    dag, archive = strict
    submit(hub_env, "Анна", "", "Борис")

    dag.test()

    run = finished_run("strict_leads")
    assert run["state"] == "success"
    assert run["note"].startswith("strict_leads: PARTIAL, rejected 1 of 3; read 3, create 2, ")
    assert sorted(row["name"] for row in database(archive).tables["leads"]) == ["Анна", "Борис"]
    assert chat[1] == []


def test_rejections_above_the_mapping_s_alerts_fail_the_run_after_committing_and_the_notifier_fires(
        strict, hub_env: Path, chat) -> None:
    dag, archive = strict
    submit(hub_env, "", "Вера", " ")

    dag.test()

    run = finished_run("strict_leads")
    assert run["state"] == "failed"
    assert run["tasks"] == {"plan": ("success", 1), "apply": ("failed", 1)}  # not retried: it would reject again
    expected = ("strict_leads: apply failed - rejected 2 of 3 records, above alerts.rejected_max 1; what could "
                "cross is committed, see hub dead-letters list --exchange strict_leads")
    assert run["note"].startswith(expected)
    assert [row["name"] for row in database(archive).tables["leads"]] == ["Вера"]  # committed all the same
    [message] = chat[1]
    assert message["text"].startswith(expected)


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A StatsD server (a UDP socket), and Airflow's Stats pointed at it as a worker's task runner does."""
    from airflow.sdk._shared.observability.metrics import stats
    from airflow.sdk.observability.metrics import stats_utils

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(server.getsockname()[1]))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    yield server
    stats.initialize(factory=stats_utils.NoStatsLogger, export_legacy_names=False)
    server.close()


def received(server: socket.socket) -> list[str]:
    lines = []
    try:
        while True:
            lines.extend(server.recv(65536).decode().splitlines())
    except TimeoutError:
        return lines


def test_a_run_reports_records_by_outcome_dead_letters_and_inbox_lag(strict, statsd, hub_env: Path) -> None:
    dag, _ = strict
    submit(hub_env, "Анна", "")

    dag.test()

    lines = received(statsd)
    assert "airflow.hub.records.strict_leads.created:1|c" in lines
    assert "airflow.hub.records.strict_leads.rejected:1|c" in lines
    assert "airflow.hub.dead_letters_open.strict_leads:1|g" in lines
    assert "airflow.hub.inbox_lag_seconds.strict_leads:0.0|g" in lines  # everything read
    assert not any(".unchanged:" in line for line in lines)  # outcomes with no records send nothing
