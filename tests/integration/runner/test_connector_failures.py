"""A connector that raises something other than a hub error (a bug) stops the run with ONE line naming the
connector, what it was doing and the record; the traceback is behind ``hub --debug`` and at DEBUG in the log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from hub.cli import app
from hub.errors import ConnectorFailure
from hub.logs import configure as configure_logs
from hub.runner import Runner
from hub.state.store import StateStore
from hub.testing.memory import DATABASES, MemoryDatabase

MakeRunner = Callable[[str], Runner]

COPY = """
exchange: clients_copy
description: copy clients
schedule: "@hourly"
source: {connector: memory, connection: src, stream: clients, key: id, incremental: {strategy: hash}}
target: {connector: memory, connection: dst, entity: companies, match: [inn], mode: upsert}
fields:
  name: name
  inn: inn
"""


def seed(src: MemoryDatabase, n: int) -> None:
    src.tables["clients"] = [{"id": i, "name": f"Client {i}", "inn": f"77{i:08d}"} for i in range(1, n + 1)]


def test_a_source_bug_names_the_connector_the_stream_and_the_last_record(make_runner: MakeRunner, systems,
                                                                          store: StateStore) -> None:
    src, _ = systems
    seed(src, 250)
    src.faults.crash_reads_after = 2  # batches of 100: it breaks after record 200
    configure_logs(level="DEBUG")  # an earlier in-process CLI test may have left INFO, which drops the DEBUG line
    with structlog.testing.capture_logs() as logs, pytest.raises(ConnectorFailure) as failure:
        make_runner(COPY).apply()
    message = str(failure.value)
    assert message == ("connector 'memory' failed reading stream 'clients' after record '200': "
                       "KeyError: 'simulated bug in the source'")
    assert isinstance(failure.value.__cause__, KeyError)
    assert store.runs("clients_copy")[0].message == message
    [debug] = [e for e in logs if e["event"] == "connector failure"]
    assert debug["log_level"] == "debug" and isinstance(debug["exc_info"], KeyError)


def test_a_target_bug_names_the_records_of_the_write(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 5)
    dst.faults.crash_writes = 1
    with pytest.raises(ConnectorFailure) as failure:
        make_runner(COPY).apply()
    assert str(failure.value) == ("connector 'memory' failed writing 'companies' at records '1', '2', '3' and 2 more: "
                                  "KeyError: 'simulated bug in the target'")
    assert failure.value.records == ("1", "2", "3", "4", "5")


def test_a_bug_preparing_one_record_names_that_record(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 5)
    dst.faults.crash_preparing = "Client 3"
    with pytest.raises(ConnectorFailure) as failure:
        make_runner(COPY).plan()
    assert str(failure.value) == ("connector 'memory' failed preparing 'companies' at record '3': "
                                  "ValueError: simulated bug while preparing")


@pytest.fixture
def cli_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryDatabase]:
    """``hub`` in this process (the memory connector's data lives here), home and mappings in tmp_path."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "clients_copy.yaml").write_text(COPY)
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path / "mappings"))
    monkeypatch.setenv("AIRFLOW_CONN_SRC", "memory://cli_src")
    monkeypatch.setenv("AIRFLOW_CONN_DST", "memory://cli_dst")
    src = DATABASES.setdefault("cli_src", MemoryDatabase())
    seed(src, 5)
    src.faults.crash_reads_after = 0
    yield src
    DATABASES.pop("cli_src", None)
    DATABASES.pop("cli_dst", None)
    structlog.reset_defaults()  # as before the CLI configured them


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "--debug"])
def test_the_cli_prints_one_line_and_the_traceback_only_with_debug(cli_hub: MemoryDatabase, debug: bool) -> None:
    result = CliRunner().invoke(app, [*(["--debug"] if debug else []), "run", "clients_copy"])
    assert result.exit_code == 1
    failed = "failed: connector 'memory' failed reading stream 'clients' before the first record: KeyError:"
    if debug:
        assert failed in result.stderr and "Traceback" in result.stderr and "simulated bug" in result.stderr
    else:
        assert result.stderr.strip().splitlines() == [failed + " 'simulated bug in the source'"]
