"""Retries are visible (issue 16, item 14) through the real ``hub run`` command against the simulated 1C on
real HTTP: each transient failure is a WARNING line naming its cause, and the summary counts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from sandbox.onec.faults import Faults
from sandbox.onec.world import MAPPINGS, OneCWorld, connection_values


def test_hub_run_logs_and_counts_each_retried_503(world: OneCWorld, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in connection_values(world.sim, str(world.crm.engine.url)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(MAPPINGS))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli-hub.db'}")
    client = world.crm.client("ООО «Вектор»", "7701234560", "770101001", phone="+7 495 123-45-67")
    world.crm.deal(client, "shipped", [("PAP-A4-500", "Бумага", "1", "389.00")])
    world.sim.faults = Faults(kinds=("503",), fail_next=3)

    result = CliRunner().invoke(app, ["run", "counterparties_to_1c", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the log lines went to stderr: stdout is the JSON alone
    assert (summary["created"], summary["retries"]) == (1, 3)
    retried = [line for line in result.stderr.splitlines() if "retrying after a transient failure" in line]
    assert len(retried) == 3 and all("warning" in line and "503" in line for line in retried), result.stderr
    assert len(world.onec("Catalog_Контрагенты", ИНН="7701234560")) == 1
