"""``hub new connector prices`` as a new integrator would use it: the package it makes passes its kit tests as it
is, installs through the ``hub.connectors`` entry point (a real ``.dist-info``, as pip leaves it), and its sample
mapping validates, plans and runs; its demo part runs in ``hub demo`` and a second demo writes nothing; Airflow's
provider info offers its connection type."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import registry
from hub.cli import app
from hub.logs import configure
from hub.testing.plugins import install_on_path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def row_of(output: str, exchange: str) -> list[str]:
    """The cells of an exchange's row in the demo's table."""
    line = next(line for line in output.splitlines() if line.startswith(f"│ {exchange} "))
    return [cell.strip() for cell in line.split("│")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty hub project folder as the current directory."""
    (tmp_path / "mappings").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path / "mappings"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(os, "environ", os.environ.copy())  # the demo exports its connections as AIRFLOW_CONN_*
    yield tmp_path
    configure()  # `hub demo` logged to the runner's captured stderr, closed now: the process's own again
    monkeypatch.undo()  # sys.path and the registry as they were, then forget the package
    for module in [name for name in sys.modules if name.split(".")[0] == "prices_connector"]:
        del sys.modules[module]
    importlib.invalidate_caches()
    registry.refresh()


def test_a_new_connector_passes_its_kit_and_runs_its_sample_mapping(project: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    output = invoke("new", "connector", "prices")
    package = project / "plugins" / "prices"
    assert f"created {project / 'mappings' / 'prices_sample.yaml'}" in output
    assert "-e ${PROJECT_ROOT}/plugins/prices" in (project / "config" / "extra-requirements.txt").read_text()

    kit = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package)],
                         cwd=project, capture_output=True, text=True, timeout=600)
    assert kit.returncode == 0, kit.stdout + kit.stderr
    assert " passed" in kit.stdout

    install_on_path(package, "hub-connector-prices", {"prices": "prices_connector.manifest:MANIFEST"})
    assert {"prices", "prices_target"} <= set(registry.connector_names())
    source, target = project / "in", project / "out"
    for folder in (source, target):
        folder.mkdir()
    (source / "items.csv").write_text("article,name,price\nA-1, Стол ,1200.00\nA-2,Стул,450.50\n", encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CONN_PRICES", json.dumps({"conn_type": "hub_prices", "extra": {"path": str(source)}}))
    monkeypatch.setenv("AIRFLOW_CONN_PRICES_OUT", json.dumps({"conn_type": "hub_prices",
                                                               "extra": {"path": str(target)}}))

    assert "1 CSV file(s)" in invoke("check", "prices")  # its connection type's test, as Airflow's Test button
    assert "1 mapping file(s) valid" in invoke("validate")
    assert "+ create A-1" in invoke("plan", "prices_sample")
    assert json.loads(invoke("run", "prices_sample", "--json"))["created"] == 2
    written = [json.loads(line) for line in (target / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(row["article"], row["name"]) for row in written] == [("A-1", "Стол"), ("A-2", "Стул")]
    assert json.loads(invoke("run", "prices_sample", "--json"))["unchanged"] == 2

    from airflow_hub.provider import get_provider_info

    [offered] = [t for t in get_provider_info()["connection-types"] if t["connection-type"] == "hub_prices"]
    assert offered["hook-class-name"] == "airflow_hub.hooks.HubPricesHook"


def test_the_new_connector_s_demo_part_runs_and_a_second_demo_writes_nothing(project: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("new", "connector", "prices", "--no-register")
    install_on_path(project / "plugins" / "prices", "hub-connector-prices",
                    {"prices": "prices_connector.manifest:MANIFEST"})
    only_prices = tuple(m for m in registry.manifests() if m.name == "prices")  # no other systems' simulators
    monkeypatch.setattr(registry, "manifests", lambda: only_prices)

    first, second = invoke("demo"), invoke("demo")

    assert row_of(first, "prices_sample")[4] == "3"  # created
    row = row_of(second, "prices_sample")
    assert (row[4], row[5], row[7]) == ("0", "0", "3")  # created, updated, unchanged
    assert "skipped" not in second
    assert not (project / "config" / "extra-requirements.txt").exists()
