"""Open connectors once per run, by (connector, connection id), and close them all at the end."""

from __future__ import annotations

from hub.connections import ConnectionResolver
from hub.connector import Connector, RetryObserver, connector_class
from hub.settings import HubSettings


class ConnectorPool:
    def __init__(self, resolver: ConnectionResolver, settings: HubSettings):
        self._resolver = resolver
        self._settings = settings
        self._open: dict[tuple[str, str], Connector] = {}
        self.on_retry: RetryObserver | None = None  # handed to every connector opened

    def get(self, connector: str, connection_id: str) -> Connector:
        key = (connector, connection_id)
        if key not in self._open:
            cls = connector_class(connector)
            opened = cls(self._resolver.get(connection_id), self._settings)
            opened.resolver = self._resolver
            opened.on_retry = self.on_retry
            self._open[key] = opened
        return self._open[key]

    def close(self) -> None:
        for connector in self._open.values():
            connector.close()
        self._open.clear()

    def __enter__(self) -> ConnectorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
