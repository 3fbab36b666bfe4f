"""The installed connector packages: every :class:`~hub.manifest.Manifest` in the entry-point group
``hub.connectors``, and what the rest of the hub asks of them (a connector by name, a connection type, the CLI
commands, the demo parts, the Alembic branches, a waker).

An entry point may also name a bare :class:`~hub.connector.Connector` class (the shape before manifests): it
becomes a manifest with that one connector. A package that fails to import is left out with a warning, so one
broken plug-in does not stop the others; asking for its connector names the failure.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError
from hub.manifest import Command, CommandGroup, ConnectionType, Manifest, Tables, resolve

if TYPE_CHECKING:
    from hub.connector import Connector

GROUP = "hub.connectors"
log = logging.getLogger(__name__)
_broken: dict[str, str] = {}  # entry point -> why it failed to load
_registered: dict[str, Manifest] = {}  # registered in this process (tests), ahead of the installed ones


@functools.cache
def manifests() -> tuple[Manifest, ...]:
    """Every installed package's manifest, by name (loaded once per process; :func:`refresh` reloads)."""
    found: dict[str, Manifest] = {}
    for ep in entry_points(group=GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:  # one broken plug-in must not take the hub down
            _broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
            log.warning("connector package %s is left out: %s", ep.name, _broken[ep.name])
            continue
        manifest = loaded if isinstance(loaded, Manifest) else Manifest(name=ep.name, connectors={ep.name: loaded})
        found.setdefault(manifest.name, manifest)
    found.update(_registered)
    return tuple(found[name] for name in sorted(found))


def refresh() -> None:
    """Forget what was loaded (after installing a package into the running process, e.g. in tests)."""
    manifests.cache_clear()
    _broken.clear()


def register(manifest: Manifest) -> None:
    """Add a package in this process only, without installing it (the tests' own connectors)."""
    _registered[manifest.name] = manifest
    manifests.cache_clear()


def unregister(name: str) -> None:
    _registered.pop(name, None)
    manifests.cache_clear()


def manifest(name: str) -> Manifest:
    for candidate in manifests():
        if candidate.name == name:
            return candidate
    raise ConfigError(f"no connector package {name!r} is installed ({_installed_names()})")


def connector_names() -> list[str]:
    return sorted(name for m in manifests() for name in m.connectors)


def connector_class(name: str) -> type[Connector]:
    """The connector class a mapping's ``connector:`` names."""
    for candidate in manifests():
        if name in candidate.connectors:
            return resolve(candidate.connectors[name])  # type: ignore[no-any-return]
    broken = f"; left out because they failed to load: {'; '.join(_broken.values())}" if _broken else ""
    raise ConfigError(f"unknown connector {name!r} (installed: {', '.join(connector_names()) or 'none'}; a package "
                      f"provides connectors through a manifest in the entry-point group {GROUP!r}, "
                      f"see docs/connectors.md{broken})")


def connection_types() -> list[ConnectionType]:
    return [ct for m in manifests() for ct in m.connection_types]


def connection_type(conn_type: str) -> ConnectionType:
    for ct in connection_types():
        if ct.conn_type == conn_type:
            return ct
    raise ConfigError(f"unknown connection type {conn_type!r} (installed: "
                      f"{', '.join(ct.conn_type for ct in connection_types())})")


def system_of(connector: str) -> str | None:
    """What operators call the system a connector talks to ("crm", "1c"), if a connection type says so."""
    return next((ct.system for ct in connection_types() if ct.connector == connector), None)


def system_of_stream(stream: str) -> str | None:
    """The system whose ingress service fills an inbox stream ("pbx" for ``calls``), if a package says so."""
    return next((m.inbox_streams[stream] for m in manifests() if stream in m.inbox_streams), None)


def commands(group: CommandGroup) -> Iterator[tuple[Manifest, Command]]:
    for m in manifests():
        for command in m.commands:
            if command.group == group:
                yield m, command


def branches() -> list[Tables]:
    """The Alembic branches of the packages that keep tables in the hub database."""
    return [m.tables for m in manifests() if m.tables is not None]


def waker() -> Any:
    """The first waker a package offers for this environment (e.g. Airflow's when HUB_AIRFLOW_URL is set)."""
    for m in manifests():
        if m.waker is not None:
            found = resolve(m.waker)()
            if found is not None:
                return found
    return None


def stored_connection(conn_id: str) -> Any:
    """The connection ``conn_id`` from an orchestrator's own store (Airflow's), None when none has it."""
    for m in manifests():
        if m.connection_store is not None:
            found = resolve(m.connection_store)(conn_id)
            if found is not None:
                return found
    return None


def replayer() -> Any:
    """The orchestrator's way to replay dead letters as one of its runs, None when no package offers one."""
    return next((resolve(m.replayer) for m in manifests() if m.replayer is not None), None)


def _installed_names() -> str:
    return "installed: " + (", ".join(m.name for m in manifests()) or "none")
