"""A connector's own bug (an exception that is not a hub error) is one line naming the connector, the stream
and where the read stood - not a traceback; the traceback stays on the error's cause."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.connector import ReadRequest, SourceBatch
from hub.errors import FatalError
from hub.settings import HubSettings
from hub.testing.memory import MemoryConnector, database

MAPPING = """\
mapping_format: 1
exchange: buggy
description: a source that crashes in its second batch
triggers: [hub://test/buggy]
batch_size: 2
source: {connector: buggy_kit, connection: src, stream: items, key: [id]}
target: {connector: memory, connection: dst, entity: items, match: [id]}
fields: {id: id}
"""


class BuggyConnector(MemoryConnector):
    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        yield SourceBatch([{"id": 1}, {"id": 2}], {"after": 2})
        raise KeyError("price")  # a connector bug


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    module = types.ModuleType("connectors.buggy_kit")
    module.CONNECTOR = BuggyConnector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "connectors.buggy_kit", module)  # registered by the test, not in production
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "buggy.yaml").write_text(MAPPING, encoding="utf-8")
    name = f"bugs-{tmp_path.name}"
    env = {"AIRFLOW_CONN_SRC": json.dumps({"conn_type": "memory", "host": name}),
           "AIRFLOW_CONN_DST": json.dumps({"conn_type": "memory", "host": name + "-dst"})}
    database(name + "-dst").table("items")
    settings = HubSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                           mappings_dir=tmp_path / "mappings")
    opened = Hub(settings, ConnectionResolver(env=env))
    yield opened
    opened.close()


def test_a_connector_bug_is_one_line_naming_connector_stream_and_checkpoint(hub: Hub) -> None:
    with pytest.raises(FatalError) as caught:
        hub.run("buggy")

    message = str(caught.value)
    assert message.startswith("connector 'buggy_kit' failed reading stream 'items' after checkpoint")
    assert '"after":2' in message.replace(" ", "") and "KeyError: 'price'" in message and "\n" not in message
    assert isinstance(caught.value.__cause__, KeyError), "the traceback stays on the cause (HUB_DEBUG=1)"
    assert len(database(f"bugs-{Path(hub.settings.home).name}-dst").table("items")) == 2, "the batch before it crossed"
