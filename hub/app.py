"""The hub as one object: settings, state store, connections and mappings, wired once.

The CLI, the Airflow DAGs, the ingress services and the tests all go through :class:`Hub`, so an exchange
does the same thing whichever way it is started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from hub.connections import ConnectionResolver
from hub.connector import Connector, connector_class
from hub.errors import ConfigError, FatalError, MappingError, RetriableError
from hub.mapping.checks import Finding, offline_findings, online_findings
from hub.mapping.loader import LoadedMapping, check_file, load_directory, load_mapping
from hub.runner import Runner, RunReport
from hub.runner.pool import ConnectorPool
from hub.search.trace import Trace, find
from hub.settings import HubSettings
from hub.state.engine import database_url
from hub.state.store import StateStore


class Hub:
    def __init__(self, settings: HubSettings | None = None, resolver: ConnectionResolver | None = None):
        self.settings = settings or HubSettings.from_env()
        self.resolver = resolver or ConnectionResolver(self.settings.connections_file)

    @cached_property
    def store(self) -> StateStore:
        """The state store (created and migrated on first use); an unreachable or unusable hub database is
        one line naming it (without the password) and why, not a driver's traceback."""
        url = self.settings.state_url
        try:
            return StateStore(url)
        except OperationalError as exc:
            raise RetriableError(f"the hub database {_shown(url)} is not reachable: {first_line(exc)}") from None
        except DBAPIError as exc:
            raise FatalError(f"the hub database {_shown(url)} cannot be used: {first_line(exc)}") from None

    @cached_property
    def _loaded(self) -> tuple[dict[str, LoadedMapping], list[MappingError]]:
        return load_directory(self.settings.mappings_dir)

    @property
    def mappings(self) -> dict[str, LoadedMapping]:
        return self._loaded[0]

    @property
    def broken_mappings(self) -> list[MappingError]:
        return self._loaded[1]

    def mapping(self, exchange: str) -> LoadedMapping:
        found = self.mappings.get(exchange)
        if found is not None:
            return found
        path = Path(exchange)
        if path.suffix in (".yaml", ".yml") and path.exists():
            return load_mapping(path)
        for error in self.broken_mappings:
            if error.file and Path(error.file).stem == exchange:
                raise error
        known = ", ".join(sorted(self.mappings)) or "none"
        raise ConfigError(f"no exchange {exchange!r} in {self.settings.mappings_dir} (known: {known})")

    def runner(self, exchange: str, progress: Callable[[RunReport], None] | None = None) -> Runner:
        return Runner(self.mapping(exchange).compiled, self.settings, self.store, self.resolver, progress)

    def plan(self, exchange: str, triggered_by: str | None = None) -> RunReport:
        return self.runner(exchange).plan(triggered_by)

    def run(self, exchange: str, triggered_by: str | None = None) -> RunReport:
        return self.runner(exchange).apply(triggered_by)

    def find(self, value: str, entity: str | None = None) -> Trace:
        """What a business value or key names, and the chain across exchanges it belongs to (``hub trace``,
        the operators' page): a phone as typed, an e-mail, an ИНН, a document number, a tranid, a call id, or
        a key. Several candidates and no ``entity`` to pick one: ``Trace.ambiguous``, no chain."""
        mappings = {name: loaded.mapping for name, loaded in self.mappings.items()}
        return find(self.store, mappings, value, entity=entity, region=self.settings.default_region,
                    airflow_url=self.settings.airflow_url)

    def validate(self, paths: Iterable[Path], online: bool = True) -> list[Finding]:
        """Every problem in the given mapping files: syntax, model, expressions, and (online) the systems."""
        findings: list[Finding] = []
        with ConnectorPool(self.resolver, self.settings) as pool:
            for path in paths:
                loaded, problems = check_file(path)
                if loaded is None:
                    findings.extend(Finding(p) for p in problems)
                    continue
                offline = list(offline_findings(loaded))
                findings.extend(offline)
                if online and not offline:
                    findings.extend(online_findings(loaded, pool.get))
        return findings

    def connector(self, connector: str, connection_id: str) -> Connector:
        return connector_class(connector)(self.resolver.get(connection_id), self.settings)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shown(url: str) -> str:
    return database_url(url).render_as_string(hide_password=True)


def first_line(exc: DBAPIError) -> str:
    """The driver's own message, first line: SQLAlchemy's adds the SQL and its parameters (data)."""
    lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    return lines[0] if lines else type(exc.orig or exc).__name__
