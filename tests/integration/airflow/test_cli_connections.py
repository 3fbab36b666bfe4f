"""Where Airflow is configured, the ``hub`` CLI finds a connection as Airflow does: one kept in Airflow's metadata
database (made with the UI or ``airflow connections add``) resolves outside any task."""

from __future__ import annotations

import uuid

import pytest

from hub.app import Hub
from hub.connections import ConnectionResolver, airflow_configured
from hub.errors import ConfigError

pytestmark = pytest.mark.airflow


@pytest.fixture
def stored_connection(airflow_db) -> str:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    conn_id = f"crm_{uuid.uuid4().hex[:8]}"
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="hub_crm_db", host="crm-db.internal", port=5432,
                               login="crm_user", password="s3cret-in-airflow", schema="crm",
                               extra='{"dialect": "postgresql"}'))
    return conn_id


def test_the_cli_reads_a_connection_from_airflow_s_metadata_database(stored_connection: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    assert airflow_configured(os.environ)  # this folder's conftest configures Airflow's metadata database
    found = Hub().resolver.get(stored_connection)  # what every `hub` command uses
    assert (found.conn_type, found.host, found.port, found.login, found.secret, found.extra) == (
        "hub_crm_db", "crm-db.internal", 5432, "crm_user", "s3cret-in-airflow", {"dialect": "postgresql"})

    # AIRFLOW_CONN_<ID> still comes first, as in Airflow
    monkeypatch.setenv(f"AIRFLOW_CONN_{stored_connection.upper()}", "hub-crm-db://other@elsewhere:5433/crm")
    assert ConnectionResolver().get(stored_connection).host == "elsewhere"


def test_an_unknown_connection_says_where_it_was_looked_for(airflow_db) -> None:
    with pytest.raises(ConfigError, match="'nowhere' is not defined: add it in Airflow's Connections, set "
                                          "AIRFLOW_CONN_NOWHERE or add it to"):
        ConnectionResolver().get("nowhere")
    assert ConnectionResolver(airflow=False).get("hub").conn_type == "hub_state"  # the built-in one
