"""Connection ids resolved through Airflow, so a task gets exactly the Connection an operator configured."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from airflow_hub.hooks import to_hub_connection
from hub.connections import Connection, ConnectionResolver
from hub.errors import ConfigError


class AirflowConnectionResolver(ConnectionResolver):
    """In a task: Airflow first (Connections in the metadata DB, secrets backends, ``AIRFLOW_CONN_<ID>``, through the
    Task SDK), then the hub's own sources (the connections file, the built-in ``hub`` connection)."""

    def __init__(self, file: Path | None = None, env: Mapping[str, str] | None = None):
        super().__init__(file, env, airflow=False)  # Airflow was asked first, the task's way

    def get(self, conn_id: str) -> Connection:
        try:
            found = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            connection = super().get(conn_id)
            mask_secret(connection.secret)  # masked in the task log and the run's note, as Airflow's own are
            return connection
        return to_hub_connection(found)


def airflow_connection(conn_id: str) -> Connection | None:
    """A connection as ``airflow connections get`` finds it outside a task (environment, secrets backends, the
    metadata database); None if Airflow has none. For the ``hub`` CLI and services where Airflow is configured."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection as AirflowConnection

    try:
        found = AirflowConnection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # its metadata database unreachable, a secrets backend failing: one line, no trace
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise ConfigError(f"connection {conn_id!r}: Airflow cannot read its connections: {text}") from None
    return to_hub_connection(found)
