"""``hub listen ami --metrics-port``: Prometheus reads over real HTTP whether the listener is connected to the
PBX (the AMI simulator in its own process), and sees it drop when the PBX goes away."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sandbox.ami.server import SimulatorProcess

FAST = {"cdr_timezone": "UTC", "ping_interval": 0.5, "ping_timeout": 2.0, "reconnect_initial": 0.1,
        "reconnect_max": 1.0, "lease_ttl": 3.0, "lease_renew_interval": 1.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connected(port: int) -> dict[str, float] | None:
    """``hub_listener_connected`` by PBX, or None while the metrics server is not up yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    return {sample.labels["pbx"]: sample.value for family in text_string_to_metric_families(text)
            if family.name == "hub_listener_connected" for sample in family.samples}


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_prometheus_sees_the_listener_connect_and_lose_the_pbx(tmp_path: Path) -> None:
    metrics_port, log = free_port(), tmp_path / "listener.log"
    with SimulatorProcess(cdr_path=tmp_path / "Master.csv") as sim:
        env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_HOME": str(tmp_path),
               "AIRFLOW_CONN_PBX": json.dumps({"conn_type": "hub_asterisk_ami", "host": "127.0.0.1",
                                               "port": sim.port, "login": "hub", "password": "hubsecret",
                                               "extra": {"cdr_csv": str(tmp_path / "Master.csv"), **FAST}})}
        with log.open("ab") as output:
            listener = subprocess.Popen([sys.executable, "-m", "hub.cli", "listen", "ami", "--connection", "pbx",
                                         "--metrics-port", str(metrics_port)], env=env, stdout=output,
                                        stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: list((connected(metrics_port) or {}).values()) == [1.0], 60,
                     "the listener to report itself connected")
            [pbx] = connected(metrics_port)  # type: ignore[misc]
            sim.__exit__(None, None, None)  # the PBX goes away
            wait_for(lambda: connected(metrics_port) == {pbx: 0.0}, 30, "the listener to report the loss")
        finally:
            listener.send_signal(signal.SIGTERM)
            listener.wait(30)
    assert "metrics: http://127.0.0.1:" in log.read_text()
