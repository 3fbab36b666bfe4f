"""``hub check onec``: the service document is read in whichever form the publication answers (reference §1.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from connectors.onec.transport import basic_auth_header
from hub.cli import app
from sandbox.onec import OneCSimulator
from sandbox.onec.edmx import service_document


@pytest.mark.parametrize("atom", [False, True], ids=["json", "atom"])
def test_hub_check_accepts_a_json_and_an_atom_service_document(sim: OneCSimulator, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, atom: bool) -> None:
    sim.atom_service_document = atom
    served = requests.get(f"{sim.url}/odata/standard.odata/?$format=json", timeout=10,
                          headers={"Authorization": basic_auth_header("Интеграция", sim.users["Интеграция"])})
    assert ("xml" in served.headers["Content-Type"]) is atom
    monkeypatch.setenv("AIRFLOW_CONN_ONEC", json.dumps(sim.connection("odata")))
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    visible = service_document(sim.url).count("<collection ")

    result = CliRunner().invoke(app, ["check", "onec", "--connector", "onec_odata"])

    assert result.exit_code == 0, result.output
    assert f"{visible} entity sets visible" in result.output and visible > 10
    answered = [path for method, path in sim.log if method == "GET" and path.endswith("standard.odata/?$format=json")]
    assert answered, "the service document was asked for in JSON"
