"""``hub airflow`` (``make airflow``) started as a user starts it, for the tests of this folder that drive it
from outside (a browser, the REST API)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_hub.api import AirflowApi
from hub.testing.network import free_port

ROOT = Path(__file__).resolve().parents[3]
HUB = Path(sys.executable).parent / "hub"
START_TIMEOUT = 300.0  # seconds: the first start migrates Airflow's metadata DB on a 2-core machine
DEMO_PORTS = (18080, 18081, 18082, 15038)  # the demo simulators' ports (sandbox/demo_*.py), before the offset


class Output:
    """The command's output, read as it comes (a full pipe would block it)."""

    def __init__(self, process: subprocess.Popen[str]):
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, process: subprocess.Popen[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`hub airflow` never printed {text!r}:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.5)


@dataclass
class RunningAirflow:
    url: str
    home: Path  # AIRFLOW_HOME
    hub_home: Path  # the hub's state and the demo's systems
    password: str  # the admin's
    port_offset: int  # HUB_DEMO_PORT_OFFSET: the demo's ports are DEMO_PORTS + this
    output: Output
    process: subprocess.Popen[str]  # `hub airflow` itself (a test may stop it as a user would)

    def api(self) -> AirflowApi:
        return AirflowApi(self.url, "admin", self.password)

    def demo_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port + self.port_offset}"


def free_demo_offset() -> int:
    """An offset that puts every demo port on a free one, so that this run does not meet another demo."""
    for _ in range(200):
        offset = free_port() - DEMO_PORTS[0]
        if all(port + offset < 65536 and _is_free(port + offset) for port in DEMO_PORTS):
            return offset
    raise RuntimeError("no free ports for the demo simulators")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def start_hub_airflow(tmp_path: Path) -> Iterator[Callable[..., RunningAirflow]]:
    """Starts ``hub airflow --paused`` in ``tmp_path`` (with the demo, on free ports); stops it after the test."""
    processes: list[subprocess.Popen[str]] = []

    def start(mappings: Path = ROOT / "mappings") -> RunningAirflow:
        port, offset = free_port(), free_demo_offset()
        home = tmp_path / "airflow-home"
        env = {**os.environ, "HUB_MAPPINGS_DIR": str(mappings), "PYTHONUNBUFFERED": "1",
               "HUB_DEMO_PORT_OFFSET": str(offset)}
        process = subprocess.Popen([str(HUB), "airflow", "--port", str(port), "--home", str(home), "--paused"],
                                   cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        processes.append(process)
        output = Output(process)
        output.wait_for("Ctrl-C stops Airflow", process, START_TIMEOUT)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        return RunningAirflow(f"http://127.0.0.1:{port}", home, tmp_path / "var" / "airflow-demo", password, offset,
                              output, process)

    yield start
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
