"""``hub airflow`` (``make airflow``) as a user starts it: Airflow standalone with the demo simulators, one DAG
per mapping in the UI, an exchange run from the REST API writing into the demo systems, and Ctrl-C (SIGTERM)
stopping Airflow and everything it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from airflow_hub.api import AirflowApi
from hub.testing.network import free_port

ROOT = Path(__file__).resolve().parents[3]
HUB = Path(sys.executable).parent / "hub"
START_TIMEOUT = 300.0  # seconds: the first start migrates Airflow's metadata DB on a 2-core machine
RUN_TIMEOUT = 180.0


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


@pytest.fixture
def hub_airflow(tmp_path: Path):
    port = free_port()
    home = tmp_path / "airflow-home"
    env = {**os.environ, "HUB_MAPPINGS_DIR": str(ROOT / "mappings"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(HUB), "airflow", "--port", str(port), "--home", str(home), "--paused"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    output = Output(process)
    try:
        output.wait_for("Ctrl-C stops Airflow", process, START_TIMEOUT)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        with AirflowApi(f"http://127.0.0.1:{port}", "admin", password) as api:
            yield process, api, output, home
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # only if the test failed before stopping it itself
            process.wait()


def test_hub_airflow_serves_the_mappings_runs_an_exchange_and_stops_cleanly(hub_airflow) -> None:
    process, api, output, home = hub_airflow
    exchanges = {path.stem for path in (ROOT / "mappings").glob("*.yaml")}
    deadline = time.monotonic() + 120
    while not exchanges <= (dag_ids := {d["dag_id"] for d in api.request("GET", "/api/v2/dags",
                                                                        params={"limit": 100})["dags"]}):
        assert time.monotonic() < deadline, f"DAGs missing: {sorted(exchanges - dag_ids)}"
        time.sleep(2)

    # unpausing may also start the latest scheduled run (no catchup): then two runs, one after the other
    api.set_paused("nomenclature_to_1c", False)
    run_id = api.trigger("nomenclature_to_1c")
    run = api.wait_for_run("nomenclature_to_1c", run_id, RUN_TIMEOUT)
    assert run["state"] == "success", (home / "standalone.log").read_text(errors="replace")[-4000:]
    runs = [api.wait_for_run("nomenclature_to_1c", r["dag_run_id"], RUN_TIMEOUT)
            for r in api.dag_runs("nomenclature_to_1c")]
    summaries = [api.xcom("nomenclature_to_1c", r["dag_run_id"], "apply") for r in runs]
    assert all(r["state"] == "success" for r in runs), json.dumps(summaries)
    # the demo items reached 1C once: one run created them, any other found them unchanged
    assert [s["created"] > 0 for s in summaries].count(True) == 1, json.dumps(summaries)
    assert all(s["created"] + s["unchanged"] == s["read"] > 0 and s["rejected"] == 0 for s in summaries)

    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "Airflow standalone should be running under `hub airflow`"
    os.killpg(process.pid, signal.SIGTERM)  # what Ctrl-C in a terminal (or `kill`) does
    assert process.wait(60) == 0 and "stopping..." in output.lines
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after `hub airflow` stopped: {[p.pid for p in alive]}"
