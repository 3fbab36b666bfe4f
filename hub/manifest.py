"""What a connector package brings to the hub, declared once: its :class:`Manifest`.

A package exports one manifest through the entry-point group ``hub.connectors`` (the in-tree packages too, see
pyproject.toml); :mod:`hub.registry` finds them. Everything the rest of the hub needs to know about a package
comes from here: the connectors by name, the connection types (and the Airflow form of each), the CLI commands,
the demo part, the tables it owns (an Alembic branch of its own) and its waker. Nothing else names a package.

Code is referred to as ``"module:attribute"`` text (:data:`Ref`) and imported on first use: reading every
installed manifest at start-up (``hub --help``) must not import every connector and its drivers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hub.connections import Connection
    from hub.connector import Connector
    from hub.settings import HubSettings

#: ``"package.module:attribute"`` (dotted attributes allowed), imported when first used
Ref = str
CommandGroup = Literal["serve", "listen", "top"]
FormFieldType = Literal["string", "integer", "boolean"]


def resolve(ref: Ref | Any) -> Any:
    """The object a :data:`Ref` names (anything that is not text is returned as it is)."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attribute = ref.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        found = getattr(found, part)
    return found


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` importing each exported name from its module on first use: loading
    the package (for its manifest, at every start) must not import its drivers."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


@dataclass(frozen=True)
class FormField:
    """A key of the connection's ``extra`` that gets its own input in the Airflow connection form."""

    label: str
    type: FormFieldType = "string"
    description: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionType:
    """A kind of connection (Airflow's ``conn_type``; ``-`` for ``_`` in ``AIRFLOW_CONN_*`` URIs)."""

    conn_type: str
    #: the connector that tests and uses connections of this type (a connection may name another in
    #: ``extra.connector``)
    connector: str
    system: str  # what operators call the system (DAG tags: "crm -> 1c")
    label: str  # the name in the Airflow UI's list of connection types
    default_conn_id: str
    example: str  # an AIRFLOW_CONN_* value for the docs (no real secret)
    extra_fields: Mapping[str, FormField] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()  # standard form fields the type does not use
    relabel: Mapping[str, str] = field(default_factory=dict)
    placeholders: Mapping[str, str] = field(default_factory=dict)
    #: ``(Connection, HubSettings) -> str``: a one-line status, raising on failure; default: the connector's
    #: ``check()``
    test: Ref | None = None

    def test_connection(self, connection: Connection, settings: HubSettings) -> str:
        """Prove the connection works (the Airflow UI's "Test" button and ``hub check`` do the same)."""
        if self.test is not None:
            return str(resolve(self.test)(connection, settings))
        from hub.registry import connector_class  # here: manifests import nothing at load time

        name = str(connection.extra.get("connector") or self.connector)
        with connector_class(name)(connection, settings) as connector:
            return connector.check()


@dataclass(frozen=True)
class Command:
    """A CLI command: ``hub serve NAME`` (an ingress service), ``hub listen NAME`` (a listener), or ``hub NAME``."""

    group: CommandGroup
    name: str
    function: Ref  # a Typer command function


@dataclass(frozen=True)
class Tables:
    """The tables a package keeps in the hub database, as an Alembic branch of its own (``hub db upgrade``
    applies every installed package's branch next to the core's history)."""

    branch: str  # the branch label of the package's first revision
    versions: Path  # the package's own Alembic version directory
    metadata: Ref | None = None  # the package's SQLAlchemy MetaData (to check the migrations build exactly it)


@dataclass(frozen=True)
class Manifest:
    name: str  # the package, as operators and errors name it
    #: connector name (``connector:`` in mappings) -> the class, or a Ref to it
    connectors: Mapping[str, Ref | type[Connector]] = field(default_factory=dict)
    connection_types: tuple[ConnectionType, ...] = ()
    commands: tuple[Command, ...] = ()
    #: the package's part of ``hub demo`` (an object with ``name``, ``order``, ``start(env)``, ``produce(env)``,
    #: see :class:`hub.demo.DemoPart`); a part that cannot be imported (no simulators installed) is skipped
    demo: Ref | None = None
    tables: Tables | None = None
    #: ``() -> Waker | None``: the package's way to wake event-driven exchanges, None when not configured here
    waker: Ref | Callable[[], Any] | None = None
    #: ``(conn_id) -> Connection | None``: the orchestrator's own store of connections (Airflow's secrets backends
    #: and metadata database), asked for an id the environment does not define where that orchestrator is set up
    connection_store: Ref | None = None
    #: ``(exchange, ids | "all", env) -> str``: dead letters replayed as a run in the orchestrator, so the replay is
    #: in the exchange's history there; returns a link to that run
    replayer: Ref | None = None
    #: inbox streams the package's ingress services fill -> the system they come from, as operators call it
    #: (DAG tags: "pbx -> crm" for an exchange reading the inbox stream ``calls``)
    inbox_streams: Mapping[str, str] = field(default_factory=dict)
