"""``hub demo``: every exchange once, on embedded defaults, with the simulators running in-process.

Each installed connector package may name a :class:`DemoPart` in its manifest: it prepares its system (a seeded
CRM database, a 1C simulator, a PBX simulator, website senders), publishes the connections the mappings use, and
produces the events of the scenario. The demo then runs the exchanges in dependency order (an exchange that is
triggered by another's target runs after it) and prints what each one did. The scenario is deterministic: a
second ``hub demo`` finds nothing new to write.

What the demo cannot run it skips, saying why, and goes on: a part that cannot be imported (no simulators in
this environment), an exchange whose connector is not installed or whose connection no part defines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from hub import registry
from hub.app import Hub
from hub.connections import ConnectionResolver
from hub.errors import ConfigError
from hub.manifest import resolve
from hub.mapping.loader import LoadedMapping
from hub.runner import RunReport
from hub.settings import HubSettings
from hub.wakeup import target_asset as _target_asset

DEMO_HOME = Path("var/demo")
CONNECTIONS_FILE = "connections.yaml"  # in the demo's home: see HubSettings.from_env


def demo_port(default: int) -> int:
    """A simulator's port: ``default`` moved by ``HUB_DEMO_PORT_OFFSET`` (so that two demos, e.g. two test
    runs, can run side by side on one machine)."""
    return default + int(os.environ.get("HUB_DEMO_PORT_OFFSET") or 0)


@dataclass(frozen=True)
class Skipped:
    what: str  # an exchange, or a package's demo part
    reason: str


@dataclass
class DemoEnv:
    home: Path
    settings: HubSettings
    connections: dict[str, str] = field(default_factory=dict)  # connection id -> Airflow URI/JSON value
    notes: list[str] = field(default_factory=list)  # lines printed after the summary
    skipped: list[Skipped] = field(default_factory=list)  # what the demo could not run, and why

    def export(self) -> None:
        for conn_id, value in self.connections.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = value

    def write_connections(self) -> Path:
        """The demo's connections in ``<home>/connections.yaml``, which the ``hub`` CLI reads with
        ``HUB_HOME=<home>`` after the demo, as it reads any connections file (demo credentials only)."""
        path = self.home / CONNECTIONS_FILE
        path.write_text(yaml.safe_dump(dict(sorted(self.connections.items())), allow_unicode=True), encoding="utf-8")
        path.chmod(0o600)
        return path

    def hub(self) -> Hub:
        return Hub(self.settings, ConnectionResolver(self.settings.connections_file))


class DemoPart(Protocol):
    name: str
    order: int  # parts start in this order (the CRM first: others may read it)

    def start(self, env: DemoEnv) -> contextlib.AbstractContextManager[None]:
        """Prepare the system and start its simulator; set ``env.connections``; stop on exit."""
        ...

    def produce(self, env: DemoEnv) -> None:
        """Send the scenario's events (form submissions, calls) into the running hub."""
        ...


def discover_parts(env: DemoEnv) -> list[DemoPart]:
    """The demo parts of the installed packages, in start order; a part that cannot be imported is skipped."""
    parts: list[DemoPart] = []
    for manifest in registry.manifests():
        if manifest.demo is None:
            continue
        try:
            parts.append(resolve(manifest.demo))
        except ImportError as exc:
            env.skipped.append(Skipped(f"demo part of {manifest.name}", f"cannot be imported ({exc})"))
    return sorted(parts, key=lambda p: p.order)


def demo_settings(home: Path = DEMO_HOME) -> HubSettings:
    return HubSettings.from_env(home=home, database_url=f"sqlite:///{home / 'hub.db'}")


def exchange_order(mappings: dict[str, LoadedMapping]) -> list[str]:
    """Upstream exchanges first: X runs after Y when X is triggered by the asset Y writes."""
    writes = {m.mapping.exchange: target_asset(m) for m in mappings.values()}
    remaining = sorted(mappings)
    ordered: list[str] = []
    while remaining:
        for name in remaining:
            needs = {other for other, asset in writes.items() if asset in mappings[name].mapping.triggers
                     and other != name}
            if needs <= set(ordered):
                ordered.append(name)
                remaining.remove(name)
                break
        else:  # a cycle: keep file order for the rest
            ordered.extend(remaining)
            break
    return ordered


def target_asset(loaded: LoadedMapping) -> str:
    target = loaded.mapping.target
    return _target_asset(target.connection, target.entity)


@contextlib.contextmanager
def running(env: DemoEnv) -> Iterator[list[DemoPart]]:
    started: list[DemoPart] = []
    with contextlib.ExitStack() as stack:
        for part in discover_parts(env):
            try:
                stack.enter_context(part.start(env))
            except (ConfigError, OSError) as exc:  # e.g. its port is taken: the exchanges it serves are skipped
                env.skipped.append(Skipped(f"demo part {part.name}", str(exc)))
                continue
            started.append(part)
        env.export()
        env.write_connections()
        yield started


def run_demo(home: Path = DEMO_HOME) -> tuple[list[RunReport], DemoEnv]:
    env = DemoEnv(home=home, settings=demo_settings(home))
    home.mkdir(parents=True, exist_ok=True)
    reports: list[RunReport] = []
    with running(env) as parts:
        for part in parts:
            part.produce(env)
        hub = env.hub()
        try:
            env.skipped.extend(Skipped(Path(error.file).stem if error.file else "?", f"invalid mapping: {error}")
                               for error in hub.broken_mappings)
            for exchange in exchange_order(hub.mappings):
                reason = why_not_runnable(hub, hub.mappings[exchange])
                if reason:
                    env.skipped.append(Skipped(exchange, reason))
                    continue
                try:
                    reports.append(hub.run(exchange, triggered_by="demo"))
                except ConfigError as exc:  # e.g. a connection of another system's type: this one, not the demo
                    env.skipped.append(Skipped(exchange, str(exc)))
        finally:
            hub.close()
    return reports, env


def why_not_runnable(hub: Hub, loaded: LoadedMapping) -> str | None:
    """Why the demo cannot run this exchange (its connector is not installed, its connection is not defined),
    or None."""
    for endpoint in (loaded.mapping.source, loaded.mapping.target):
        try:
            registry.connector_class(endpoint.connector)
            hub.resolver.get(endpoint.connection)
        except ConfigError as exc:
            return str(exc).split(" (", 1)[0] if "unknown connector" in str(exc) else str(exc)
    return None
