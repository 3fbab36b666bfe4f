"""``hub demo`` runs what it can and lists what it cannot, with the reason: a mapping whose connection no demo part
defines, one whose connector is not installed, one that is invalid, a demo part that cannot be imported. A second
demo writes nothing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub import registry
from hub.cli import app
from hub.demo import DemoEnv
from hub.logs import configure
from hub.manifest import Manifest
from hub.testing.memory import DATABASES, MemoryConnector, database

MAPPING = """\
exchange: {name}
description: a demo exchange
schedule: "@hourly"
source: {{connector: {connector}, connection: {source}, stream: clients, key: id}}
target: {{connector: memory, connection: demo_dst, entity: companies, match: [inn]}}
fields:
  name: name
  inn: inn
"""


@dataclass
class MemoryDemoPart:
    """Publishes the demo connections of two in-memory systems and seeds the source."""

    name: str = "memory"
    order: int = 0

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
        database("demo-src").tables["clients"] = [{"id": 1, "name": "Alpha", "inn": "7707083893"},
                                                  {"id": 2, "name": "Beta", "inn": "5024089920"}]
        database("demo-dst").tables.setdefault("companies", [])
        env.connections.update({"demo_src": "memory://demo-src", "demo_dst": "memory://demo-dst"})
        yield

    def produce(self, env: DemoEnv) -> None:
        return None


PART = MemoryDemoPart()


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name, connector, source in (("copy", "memory", "demo_src"), ("prices_to_crm", "memory", "prices"),
                                    ("from_nowhere", "no_such_connector", "demo_src")):
        (mappings / f"{name}.yaml").write_text(MAPPING.format(name=name, connector=connector, source=source),
                                               encoding="utf-8")
    (mappings / "broken.yaml").write_text("exchange: broken\n", encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)  # the demo keeps its state in ./var/demo
    monkeypatch.setattr(os, "environ", os.environ.copy())  # the demo exports its connections as AIRFLOW_CONN_*
    only = (Manifest(name="memory", connectors={"memory": MemoryConnector}, demo=f"{__name__}:PART"),
            Manifest(name="simulators_missing", demo="no_such_package.demo:PART"))
    monkeypatch.setattr(registry, "manifests", lambda: only)
    yield tmp_path
    configure()  # `hub demo` logged to the runner's captured stderr, closed now: the process's own again
    for name in ("demo-src", "demo-dst"):
        DATABASES.pop(name, None)


def test_the_demo_lists_what_it_cannot_run_and_runs_the_rest(demo_dir: Path) -> None:
    first = CliRunner().invoke(app, ["demo"], catch_exceptions=False)

    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert any(line.startswith("│ copy ") and "│ success │ 2    │ 2 " in line for line in lines), first.output
    assert "skipped prices_to_crm: connection 'prices' is not defined" in first.output
    assert "skipped from_nowhere: unknown connector 'no_such_connector'" in first.output
    assert "skipped broken: invalid mapping: " in first.output
    assert "skipped demo part of simulators_missing: cannot be imported" in first.output
    assert len(database("demo-dst").tables["companies"]) == 2

    again = CliRunner().invoke(app, ["demo"], catch_exceptions=False)

    assert again.exit_code == 0, again.output
    assert any(line.startswith("│ copy ") and "│ success │ 2    │ 0       │ 0 " in line
               for line in again.output.splitlines()), again.output
    assert len(database("demo-dst").tables["companies"]) == 2
