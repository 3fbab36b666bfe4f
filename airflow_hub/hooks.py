"""Airflow hooks for the systems the hub talks to: one per connection type, all thin over hub connectors.

A hook reads an Airflow Connection (the metadata DB, a secrets backend or ``AIRFLOW_CONN_<ID>``), turns it into
the hub's :class:`~hub.connections.Connection`, and hands it to whatever connector
``hub.connector.connector_class`` resolves for the type. ``test_connection()`` is the connector's ``check()``,
so the "Test" button in the Airflow UI proves the same thing as ``hub check``.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

import sqlalchemy as sa
from airflow.sdk import BaseHook
from airflow.sdk import Connection as AirflowConnection
from pydantic import SecretStr

from airflow_hub.connection_types import BY_TYPE, ConnectionType
from hub.causes import network_cause
from hub.connections import Connection
from hub.connector import Connector, connector_class
from hub.errors import HubError
from hub.settings import HubSettings


def to_hub_connection(conn: AirflowConnection) -> Connection:
    """The hub's view of an Airflow Connection (the password stays a ``SecretStr``)."""
    return Connection(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type or "",
        host=conn.host or None,
        port=conn.port,
        login=conn.login or None,
        password=SecretStr(conn.password) if conn.password else None,
        schema=conn.schema or None,
        extra=conn.extra_dejson,
    )


def redacted(text: str, connection: Connection) -> str:
    """``text`` without the connection's password (for messages from code the hub does not control)."""
    return text.replace(connection.secret, "***") if connection.secret else text


#: the id the API server gives the form it tests (``airflow.utils.strings.get_random_string()``), exported as
#: ``AIRFLOW_CONN_<ID>`` for the duration of the test
_TRANSIENT_ID = re.compile(r"[A-Za-z0-9]{8}")


def is_transient_id(conn_id: str) -> bool:
    return bool(_TRANSIENT_ID.fullmatch(conn_id)) and f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ


def tested_connection_name(connection: Connection) -> str:
    """The stored connection the tested form is (same type, host, port, login and schema), when exactly one is;
    else "the tested connection"."""
    from airflow.models import Connection as StoredConnection
    from airflow.utils.session import create_session

    try:
        with create_session() as session:
            ids = session.scalars(sa.select(StoredConnection.conn_id).where(
                StoredConnection.conn_type == connection.conn_type, StoredConnection.host == connection.host,
                StoredConnection.port == connection.port, StoredConnection.login == connection.login,
                StoredConnection.schema == connection.schema_)).all()
    except Exception:  # no metadata database here (a task, a test): the form stays unnamed
        ids = []
    return f"connection {ids[0]!r}" if len(ids) == 1 else "the tested connection"


class HubConnectorHook(BaseHook):
    """Base of the hub's hooks; subclasses only name their :class:`ConnectionType`."""

    connection_type: ClassVar[ConnectionType]
    conn_name_attr: ClassVar[str] = "hub_conn_id"
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.conn_type = cls.connection_type.conn_type
        cls.hook_name = cls.connection_type.hook_name

    def __init__(self, hub_conn_id: str | None = None, settings: HubSettings | None = None):
        super().__init__()
        self.hub_conn_id = hub_conn_id or self.default_conn_name
        self._settings = settings

    def get_hub_connection(self) -> Connection:
        return to_hub_connection(self.get_connection(self.hub_conn_id))

    def connector_name(self, connection: Connection) -> str:
        return str(connection.extra.get("connector") or self.connection_type.connector)

    def get_conn(self) -> Connector:
        """A connector for this connection (not connected yet: connectors connect on first use)."""
        return self._connector(self.get_hub_connection())

    def test_connection(self) -> tuple[bool, str]:
        """``(ok, message)`` for the Airflow UI: the connector's ``check()``, and for a failure its network cause.

        The UI's Test button hands the form over under a random id; messages name the connection the form is
        (see :func:`tested_connection_name`) instead of that id."""
        try:
            connection = self.get_hub_connection()
        except Exception as exc:  # the UI shows the message; Airflow's own messages carry no secret
            return False, str(exc)
        if is_transient_id(connection.conn_id):
            connection = connection.model_copy(update={"conn_id": tested_connection_name(connection)})
        try:
            with self._connector(connection) as connector:
                return True, connector.check()
        except HubError as exc:  # connectors build these messages without secrets
            cause = network_cause(exc)
            return False, f"{cause}: {exc}" if cause else str(exc)
        except Exception as exc:  # anything else: name it, and make sure the password is not in it
            return False, redacted(f"{type(exc).__name__}: {exc}", connection)

    def _connector(self, connection: Connection) -> Connector:
        settings = self._settings or HubSettings.from_env()
        return connector_class(self.connector_name(connection))(connection, settings)


class CrmDbHook(HubConnectorHook):
    connection_type = BY_TYPE["hub_crm_db"]
    default_conn_name = "crm"


class OnecODataHook(HubConnectorHook):
    connection_type = BY_TYPE["hub_onec_odata"]
    default_conn_name = "onec"


class OnecSoapHook(HubConnectorHook):
    connection_type = BY_TYPE["hub_onec_soap"]
    default_conn_name = "onec_soap"


class AsteriskAmiHook(HubConnectorHook):
    connection_type = BY_TYPE["hub_asterisk_ami"]
    default_conn_name = "pbx"


class WebsiteHook(HubConnectorHook):
    connection_type = BY_TYPE["hub_website"]
    default_conn_name = "website"


HOOKS: tuple[type[HubConnectorHook], ...] = (CrmDbHook, OnecODataHook, OnecSoapHook, AsteriskAmiHook, WebsiteHook)
