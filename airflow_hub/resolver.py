"""Connection ids resolved through Airflow, so a task gets exactly the Connection an operator configured."""

from __future__ import annotations

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from airflow_hub.hooks import to_hub_connection
from hub.connections import Connection, ConnectionResolver


class AirflowConnectionResolver(ConnectionResolver):
    """Airflow first (Connections in the metadata DB, secrets backends, ``AIRFLOW_CONN_<ID>``), then the hub's
    own sources (the connections file, the built-in ``hub`` connection), exactly as in the ``hub`` CLI."""

    def get(self, conn_id: str) -> Connection:
        try:
            found = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            connection = super().get(conn_id)
            mask_secret(connection.secret)  # masked in the task log and the run's note, as Airflow's own are
            return connection
        return to_hub_connection(found)
