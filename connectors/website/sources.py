"""Which form sources the intake serves: every webhook source of every exchange that reads ``website``.

Built once at start-up from the loaded mappings and the connections; a missing secret or two exchanges
claiming the same source name stop the service with a clear message before it accepts anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from connectors.website.config import Auth, FormSource, WebsiteOptions
from connectors.website.connector import WebsiteConnector
from connectors.website.formats import FORMATS, SenderFormat
from hub.app import Hub
from hub.connector import parse_options
from hub.errors import ConfigError


@dataclass(frozen=True)
class ServedSource:
    name: str
    exchange: str
    stream: str  # the inbox stream its submissions go to (the exchange's source.stream)
    config: FormSource
    format: SenderFormat
    auth: Auth
    secret: SecretStr

    @property
    def path(self) -> str:
        return f"/forms/{self.name}"


def website_options(options: dict[str, Any], where: str = "source") -> WebsiteOptions:
    return parse_options(WebsiteOptions, options, where)


def served_sources(hub: Hub, exchanges: Iterable[str] | None = None) -> list[ServedSource]:
    wanted = set(exchanges) if exchanges else None
    served: dict[str, ServedSource] = {}
    for exchange, loaded in sorted(hub.mappings.items()):
        source = loaded.mapping.source
        if source.connector != WebsiteConnector.name or (wanted is not None and exchange not in wanted):
            continue
        options = website_options(source.options, f"{loaded.path}: source")
        for name, config in options.webhooks().items():
            if name in served:
                raise ConfigError(f"form source {name!r} is defined by both {served[name].exchange!r} and "
                                  f"{exchange!r}; source names are endpoint paths and must be unique")
            served[name] = _served(hub, exchange, source.stream, name, config)
    missing = (wanted or set()) - {s.exchange for s in served.values()}
    if missing:
        raise ConfigError(f"no website webhook sources in exchange(s) {', '.join(sorted(missing))}")
    if not served:
        raise ConfigError(f"no mapping in {hub.settings.mappings_dir} has a website source with webhooks")
    return list(served.values())


def _served(hub: Hub, exchange: str, stream: str, name: str, config: FormSource) -> ServedSource:
    connection = hub.resolver.get(config.connection)
    if not connection.secret:
        raise ConfigError(f"form source {name!r}: connection {config.connection!r} has no password; it must hold "
                          "the sender's token or HMAC secret")
    fmt = FORMATS[config.format]
    return ServedSource(name=name, exchange=exchange, stream=stream, config=config, format=fmt,
                        auth=config.auth or fmt.default_auth, secret=SecretStr(connection.secret))
