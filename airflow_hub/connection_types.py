"""The hub's Airflow connection types, declared as data.

One entry per system the hub talks to: the Airflow ``conn_type`` (also the ``AIRFLOW_CONN_*`` URI scheme, with
``-`` for ``_``), the hub connector that speaks to it, and what the connection form in the Airflow UI shows.
:mod:`airflow_hub.provider` publishes this list to Airflow; :mod:`airflow_hub.hooks` makes one hook class per
entry; docs/airflow.md shows the examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ConnType = Literal["hub_crm_db", "hub_onec_odata", "hub_onec_soap", "hub_asterisk_ami", "hub_website"]


@dataclass(frozen=True)
class ExtraField:
    """A key of the connection's ``extra`` JSON that gets its own input in the UI."""

    label: str
    type: Literal["string", "integer", "boolean"] = "string"
    description: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()

    def provider_info(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"]}
        if self.default is not None:
            schema["default"] = self.default
        if self.choices:
            schema["enum"] = [*self.choices, None]
        info: dict[str, Any] = {"label": self.label, "schema": schema}
        if self.description:
            info["description"] = self.description
        return info


@dataclass(frozen=True)
class ConnectionType:
    conn_type: ConnType
    #: the hub connector (``hub.connector.connector_class``) that tests and uses connections of this type;
    #: a connection may name another one in ``extra.connector``
    connector: str
    system: str  # what operators call the system (DAG tags: "crm -> 1c")
    hook_class: str
    hook_name: str
    example: str  # an AIRFLOW_CONN_* value for the docs (no real secret)
    extra_fields: dict[str, ExtraField] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    relabel: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)

    def provider_info(self) -> dict[str, Any]:
        """The ``connection-types`` entry of the provider info (Airflow's provider.yaml shape)."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "conn-fields": {name: extra.provider_info() for name, extra in self.extra_fields.items()},
            "ui-field-behaviour": {
                "hidden-fields": list(self.hidden),
                "relabeling": dict(self.relabel),
                "placeholders": dict(self.placeholders),
            },
        }


def _onec_extras(**more: ExtraField) -> dict[str, ExtraField]:
    return {
        "scheme": ExtraField("Scheme", default="http", choices=("http", "https")),
        "verify": ExtraField("Check TLS certificates", "boolean", default=True),
        "timezone": ExtraField("Time zone of the 1C server", description="default: the hub's HUB_TIMEZONE"),
        "timeout": ExtraField("Timeout, seconds", "integer", default=120),
        **more,
    }


CONNECTION_TYPES: tuple[ConnectionType, ...] = (
    ConnectionType(
        conn_type="hub_crm_db",
        connector="crm_db",
        system="crm",
        hook_class="airflow_hub.hooks.CrmDbHook",
        hook_name="Hub: CRM database",
        example="hub-crm-db://crm_user:secret@crm-db.internal:5432/crm?dialect=postgresql",
        extra_fields={
            "dialect": ExtraField("Database kind", choices=("postgresql", "mysql", "mariadb", "sqlite")),
            "db_schema": ExtraField("Schema holding the tables",
                                    description="PostgreSQL schema (MySQL: database); default: the login's own"),
            "timezone": ExtraField("Time zone of naive datetimes", description="default: the hub's HUB_TIMEZONE"),
            "connect_timeout": ExtraField("Connect timeout, seconds", "integer", default=10),
            "url": ExtraField("Full SQLAlchemy URL", description="instead of the fields above (e.g. sqlite:///crm.db)"),
        },
        relabel={"schema": "Database"},
        placeholders={"host": "crm-db.internal", "port": "5432", "schema": "crm"},
    ),
    ConnectionType(
        conn_type="hub_onec_odata",
        connector="onec_odata",
        system="1c",
        hook_class="airflow_hub.hooks.OnecODataHook",
        hook_name="Hub: 1C OData",
        example="hub-onec-odata://exchange:secret@1c.internal:80/buh?scheme=http",
        extra_fields=_onec_extras(odata_path=ExtraField("OData path", default="odata/standard.odata")),
        relabel={"schema": "Publication", "login": "1C user"},
        placeholders={"host": "1c.internal", "port": "80", "schema": "buh"},
    ),
    ConnectionType(
        conn_type="hub_onec_soap",
        connector="onec_soap",
        system="1c",
        hook_class="airflow_hub.hooks.OnecSoapHook",
        hook_name="Hub: 1C SOAP web service",
        example="hub-onec-soap://exchange:secret@1c.internal:80/buh?scheme=http&service=Exchange",
        extra_fields=_onec_extras(service=ExtraField("Web service name")),
        relabel={"schema": "Publication", "login": "1C user"},
        placeholders={"host": "1c.internal", "port": "80", "schema": "buh"},
    ),
    ConnectionType(
        conn_type="hub_asterisk_ami",
        connector="telephony_ami",
        system="pbx",
        hook_class="airflow_hub.hooks.AsteriskAmiHook",
        hook_name="Hub: Asterisk AMI",
        example='hub-asterisk-ami://hub:secret@pbx.internal:5038/?__extra__={"cdr_timezone": "Europe/Moscow"}',
        extra_fields={
            "cdr_timezone": ExtraField("Time zone of the CDR", description="cdr.conf usegmtime=no: the PBX's zone"),
            "cdr_csv": ExtraField("cdr_csv Master.csv path", description="for recovering calls missed in a gap"),
            "region": ExtraField("Default phone region", default="RU"),
        },
        hidden=("schema",),
        relabel={"login": "AMI user", "password": "AMI secret"},
        placeholders={"host": "pbx.internal", "port": "5038"},
    ),
    ConnectionType(
        conn_type="hub_website",
        connector="website",
        system="website",
        hook_class="airflow_hub.hooks.WebsiteHook",
        hook_name="Hub: website form source",
        example="hub-website://:token-from-the-webhook-url@www.example.ru:443/api?scheme=https",
        relabel={"password": "Token or HMAC secret"},
        placeholders={"host": "shop-api.example.ru (poll sources only)"},
    ),
)

BY_TYPE: dict[str, ConnectionType] = {ct.conn_type: ct for ct in CONNECTION_TYPES}
#: connector name -> the system it talks to
SYSTEMS: dict[str, str] = {ct.connector: ct.system for ct in CONNECTION_TYPES}
