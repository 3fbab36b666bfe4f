"""Everything the telephony package needs to know about one PBX, read once from its connection.

A connection of type ``hub_asterisk_ami``: ``host``/``port`` of the AMI, ``login``/``password`` of the
manager user, and the rest in ``extra`` (all optional)::

    AIRFLOW_CONN_PBX='{"conn_type": "hub_asterisk_ami", "host": "10.0.0.5", "port": 5038, "login": "hub",
                       "password": "...", "extra": {"cdr_csv": "/var/log/asterisk/cdr-csv/Master.csv"}}'

The secret lives only in :attr:`PbxConfig.secret` (a ``SecretStr``): never in a log or an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hub.connections import Connection
from hub.errors import ConfigError
from hub.settings import HubSettings

DEFAULT_PORT = 5038


class PbxConfig(BaseModel):
    """One PBX: where its AMI is, how to read its calls, and where its own call records are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the connection id: names this PBX in the hub's state")
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    username: str = Field(min_length=1)
    secret: SecretStr

    # -- the AMI session
    connect_timeout: float = Field(5.0, gt=0, description="seconds to wait for TCP connect and for the login answer")
    ping_interval: float = Field(5.0, gt=0, description="seconds between keep-alive pings")
    ping_timeout: float = Field(5.0, gt=0, description="a ping not answered within this many seconds: link is dead")
    reconnect_initial: float = Field(0.5, gt=0, description="first reconnect delay (doubles up to reconnect_max)")
    reconnect_max: float = Field(30.0, gt=0)

    # -- assembling calls
    cdr_timezone: str = Field(description="time zone of the naive times in the PBX's CDR (cdr.conf usegmtime=no)")
    region: str = Field("RU", min_length=2, description="default region (ISO code) for numbers without a country code")
    extension_pattern: str = Field(r"^\d{2,6}$", description="what an internal extension looks like")
    cdr_wait: float = Field(10.0, ge=0, description="seconds after a call's last hangup to wait for its Cdr events")
    orphan_wait: float = Field(30.0, ge=0, description="seconds a Cdr with no known channel is kept")
    correlation_variable: str = Field("HUB_REQUEST", description="channel variable carrying a click-to-call request id")
    originate_prefix: str = Field("hub-c2c", description="ActionID prefix of the hub's own Originate actions")

    # -- keeping state and recovering gaps
    snapshot_interval: float = Field(1.0, gt=0, description="seconds between saves of in-flight call state")
    reconcile_interval: float = Field(600.0, gt=0, description="seconds between checks of in-flight calls "
                                      "against the PBX's live channels (finds calls whose hangup was lost)")
    cdr_csv: Path | None = Field(None, description="the cdr_csv Master.csv file, for gap recovery")
    cdr_connection: str | None = Field(None, description="connection id of a CDR database (alternative to cdr_csv)")
    cdr_table: str = Field("cdr", description="the CDR table in that database")
    recovery_settle: float = Field(5.0, ge=0, description="seconds after a reconnect before the CDR is read")
    recovery_slack: float = Field(60.0, ge=0, description="seconds added on both sides of a gap (clock skew)")
    legs_retention_days: float = Field(3.0, gt=0, description="how long ids of committed calls are remembered")

    # -- one listener at a time (lease.py): a standby takes over within lease_ttl + lease_renew_interval
    lease_ttl: float = Field(15.0, gt=0, description="seconds the listener lease lasts unless renewed")
    lease_renew_interval: float = Field(5.0, gt=0, description="seconds between renewals by the holder, and "
                                        "between attempts to take the lease by a standby")

    @model_validator(mode="after")
    def _renewed_in_time(self) -> PbxConfig:
        if self.lease_renew_interval * 2 > self.lease_ttl:
            raise ValueError(f"lease_renew_interval ({self.lease_renew_interval:g}) must be at most half of "
                             f"lease_ttl ({self.lease_ttl:g}): a holder must renew at least twice per lease")
        return self

    @field_validator("cdr_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("extension_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cdr_timezone)

    @property
    def where(self) -> str:
        """A safe description for logs and errors (never the secret)."""
        return f"PBX {self.name!r} at {self.host}:{self.port}"


def pbx_config(connection: Connection, settings: HubSettings, **overrides: Any) -> PbxConfig:
    """Build the config from a connection; a wrong value is a ConfigError naming the extra field."""
    values: dict[str, Any] = {"cdr_timezone": settings.timezone, "region": settings.default_region}
    values.update(connection.extra)
    values.update(
        name=connection.conn_id, host=connection.host or "127.0.0.1", port=connection.port or DEFAULT_PORT,
        username=connection.login or "", secret=connection.password or SecretStr(""), **overrides)
    try:
        return PbxConfig.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in problem["loc"]) or "extra"
        if field in ("username", "secret"):
            field = "login" if field == "username" else "password"
        raise ConfigError(f"connection {connection.describe()}: {field}: {problem['msg']}") from None
