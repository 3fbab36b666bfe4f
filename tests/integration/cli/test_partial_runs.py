"""The real ``hub`` executable: a run that rejected records is marked PARTIAL in its line and in ``hub runs``,
and above the mapping's ``alerts`` it fails (exit 1, one line) after committing what could cross."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from hub.state.store import StateStore
from hub.testing.plugins import install_on_path

HUB = str(Path(sys.executable).with_name("hub"))
STRICT = Path(__file__).resolve().parents[1] / "airflow" / "mappings" / "strict_leads.yaml"


def test_partial_then_failed_runs_as_the_operator_reads_them(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    shutil.copy(STRICT, tmp_path / "mappings")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    # the hub processes find the tests' in-memory connector installed, as any connector package
    install_on_path(tmp_path / "site", "hub-test-memory", {"memory": "hub.testing.memory:MANIFEST"})
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "HUB_HOME": str(tmp_path), "HUB_DATABASE_URL": url,
           "HUB_MAPPINGS_DIR": str(tmp_path / "mappings"), "AIRFLOW_CONN_ARCHIVE": f"memory://{uuid.uuid4().hex}",
           "COLUMNS": "400"}

    def submit(*names: str) -> None:
        store = StateStore(url)
        try:
            for name in names:
                ref = uuid.uuid4().hex
                store.inbox_put("website", ref, {"submission_id": ref, "name": name})
        finally:
            store.close()

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    submit("Анна", "")
    partial = hub("run", "strict_leads")
    submit("", " ")
    failed = hub("run", "strict_leads")
    runs = hub("runs", "strict_leads")

    assert partial.returncode == 0, partial.stderr
    assert "strict_leads: PARTIAL, rejected 1 of 2; read 2, create 1," in partial.stdout
    assert failed.returncode == 1
    assert "records rejected" in failed.stderr  # the WARNING log line, then the one line of the failure
    assert failed.stderr.strip().splitlines()[-1] == (
        "failed: rejected 2 of 2 records, above alerts.rejected_max 1; what could cross is committed, "
        "see hub dead-letters list --exchange strict_leads")
    assert "PARTIAL, rejected 1 of 2" in runs.stdout
    assert runs.stdout.count("failed") == 1
