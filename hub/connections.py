"""Connections: where a system is and how to log in, resolved by connection id.

The same ids work in Airflow (Connections, ``AIRFLOW_CONN_<ID>``) and in the ``hub`` CLI, which reads
``AIRFLOW_CONN_<ID>`` from the environment (URI or JSON, exactly as Airflow does) or a YAML file named by
``HUB_CONNECTIONS_FILE``. Passwords are ``SecretStr``: they never appear in a repr, a log or an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from hub.errors import ConfigError


class Connection(BaseModel):
    """A connection in Airflow's shape, so one definition serves both worlds."""

    model_config = ConfigDict(frozen=True)

    conn_id: str
    conn_type: str = ""
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: SecretStr | None = None
    schema_: str | None = Field(None, alias="schema")
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def secret(self) -> str:
        return self.password.get_secret_value() if self.password else ""

    def base_url(self, default_scheme: str = "http") -> str:
        """``scheme://host:port/schema`` without credentials (for HTTP-based systems)."""
        scheme = self.extra.get("scheme", default_scheme)
        port = f":{self.port}" if self.port else ""
        path = f"/{self.schema_.strip('/')}" if self.schema_ else ""
        return f"{scheme}://{self.host or 'localhost'}{port}{path}"

    def zone(self, default: str) -> ZoneInfo:
        """The system's time zone: ``extra.timezone``, else ``default`` (the hub's)."""
        name = str(self.extra.get("timezone") or default)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"connection {self.describe()}: unknown time zone {name!r}") from None

    def describe(self) -> str:
        """A safe, human description for logs and errors: never the password."""
        where = f"{self.host or ''}{':' + str(self.port) if self.port else ''}"
        return f"{self.conn_id} ({self.conn_type or 'untyped'}{' at ' + where if where else ''})"


def parse_airflow_value(conn_id: str, value: str) -> Connection:
    """Parse an ``AIRFLOW_CONN_*`` value: a JSON object or Airflow's URI format."""
    value = value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"connection {conn_id!r}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        return from_mapping(conn_id, data)
    parts = urlsplit(value)
    if not parts.scheme:
        raise ConfigError(f"connection {conn_id!r}: expected a URI like 'type://user:pass@host:port/schema'")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"connection {conn_id!r}: the port is not a number from 0 to 65535") from None
    extra: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in extra:
        extra = _extra_json(conn_id, extra["__extra__"])
    return Connection(
        conn_id=conn_id,
        conn_type=parts.scheme.replace("-", "_"),
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        login=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password else None,
        schema=unquote(parts.path.lstrip("/")) or None,
        extra=extra,
    )


def from_mapping(conn_id: str, data: Mapping[str, Any]) -> Connection:
    if not isinstance(data, Mapping):
        raise ConfigError(f"connection {conn_id!r}: expected a URI or the fields of a connection (conn_type, host...)")
    fields = dict(data)
    extra = fields.pop("extra", None) or {}
    if isinstance(extra, str):
        extra = _extra_json(conn_id, extra) if extra.strip() else {}
    try:
        return Connection(conn_id=conn_id, extra=extra, **fields)
    except ValidationError as exc:
        # where and what only: pydantic's own message quotes the input, which may be the password
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'connection'}: {e['msg']}"
                             for e in exc.errors(include_url=False, include_input=False))
        raise ConfigError(f"connection {conn_id!r}: {problems}") from None
    except TypeError as exc:  # a key that is not text, or conn_id given again: the message names no value
        raise ConfigError(f"connection {conn_id!r}: {exc}") from None


def _extra_json(conn_id: str, text: str) -> dict[str, Any]:
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"connection {conn_id!r}: extra is not valid JSON ({exc.msg} at column {exc.colno})") \
            from None
    if not isinstance(extra, dict):
        raise ConfigError(f"connection {conn_id!r}: extra must be a JSON object")
    return extra


def to_airflow_uri(conn: Connection) -> str:
    """The inverse of :func:`parse_airflow_value` (used to hand connections to Airflow processes)."""
    auth = ""
    if conn.login or conn.password:
        auth = quote(conn.login or "", safe="") + (":" + quote(conn.secret, safe="") if conn.password else "") + "@"
    port = f":{conn.port}" if conn.port else ""
    schema = "/" + quote(conn.schema_ or "", safe="")
    query = "?__extra__=" + quote(json.dumps(conn.extra), safe="") if conn.extra else ""
    return f"{conn.conn_type.replace('_', '-')}://{auth}{conn.host or ''}{port}{schema}{query}"


#: the connection id of the hub's own database (the inbox); defined implicitly unless overridden
HUB_CONNECTION = "hub"


def airflow_configured(env: Mapping[str, str]) -> bool:
    """Whether Airflow is set up where this runs: its metadata database is configured, or ``AIRFLOW_HOME`` (default
    ``~/airflow``) has an ``airflow.cfg``. Then connections are found as Airflow finds them."""
    if env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        return True
    home = Path(env.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return (home / "airflow.cfg").is_file()


class ConnectionResolver:
    """Resolves connection ids: environment first (``AIRFLOW_CONN_<ID>``), then, where Airflow is configured
    (:func:`airflow_configured`; ``airflow=None`` asks it), Airflow's secrets backends and metadata database, then
    the connections file, then the built-in ``hub``."""

    def __init__(self, file: Path | None = None, env: Mapping[str, str] | None = None, airflow: bool | None = None):
        self._env = os.environ if env is None else env
        self._file = file
        self._file_cache: dict[str, Any] | None = None
        self._airflow = airflow_configured(self._env) if airflow is None else airflow

    def get(self, conn_id: str) -> Connection:
        env_value = self._env.get(f"AIRFLOW_CONN_{conn_id.upper()}")
        if env_value:
            return parse_airflow_value(conn_id, env_value)
        if self._airflow and conn_id != HUB_CONNECTION:
            found = _from_airflow(conn_id)
            if found is not None:
                return found
        entry = self._file_entries().get(conn_id)
        if entry is None and conn_id == HUB_CONNECTION:
            return Connection(conn_id=HUB_CONNECTION, conn_type="hub_state")  # the hub's own database
        if entry is None:
            airflow = "add it in Airflow's Connections, " if self._airflow else ""
            raise ConfigError(
                f"connection {conn_id!r} is not defined: {airflow}set AIRFLOW_CONN_{conn_id.upper()} "
                f"or add it to {self._file or 'the file named by HUB_CONNECTIONS_FILE'}"
            )
        if isinstance(entry, str):
            return parse_airflow_value(conn_id, entry)
        return from_mapping(conn_id, entry)

    def _file_entries(self) -> dict[str, Any]:
        if self._file_cache is None:
            self._file_cache = {}
            if self._file and self._file.exists():
                try:
                    loaded = yaml.safe_load(self._file.read_text(encoding="utf-8")) or {}
                except UnicodeDecodeError as exc:
                    raise ConfigError(f"{self._file}: not UTF-8 text (byte {exc.start})") from None
                except OSError as exc:
                    raise ConfigError(f"{self._file}: cannot be read ({exc.strerror})") from None
                except yaml.YAMLError as exc:
                    # the line only: PyYAML's message quotes the offending line, which may hold a password
                    mark = getattr(exc, "problem_mark", None)
                    where = f" at line {mark.line + 1}" if mark is not None else ""
                    raise ConfigError(f"{self._file}: invalid YAML{where}") from None
                if not isinstance(loaded, dict):
                    raise ConfigError(f"{self._file}: expected a mapping of connection id -> connection")
                self._file_cache = loaded
        return self._file_cache


def _from_airflow(conn_id: str) -> Connection | None:
    from hub.registry import stored_connection  # here: the registry loads the installed packages' manifests

    try:
        found: Connection | None = stored_connection(conn_id)
    except ImportError:  # Airflow is configured, but not installed beside this hub
        return None
    return found
