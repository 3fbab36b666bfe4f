"""What the crm_db package brings to the hub (see :mod:`hub.manifest`)."""

from hub.manifest import ConnectionType, FormField, Manifest

MANIFEST = Manifest(
    name="crm_db",
    connectors={"crm_db": "connectors.crm_db.connector:CrmDbConnector"},
    connection_types=(
        ConnectionType(
            conn_type="hub_crm_db",
            connector="crm_db",
            system="crm",
            label="Hub: CRM database",
            default_conn_id="crm",
            example="hub-crm-db://crm_user:secret@crm-db.internal:5432/crm?dialect=postgresql",
            extra_fields={
                "dialect": FormField("Database kind", choices=("postgresql", "mysql", "mariadb", "sqlite")),
                "db_schema": FormField("Schema holding the tables",
                                       description="PostgreSQL schema (MySQL: database); default: the login's own"),
                "timezone": FormField("Time zone of naive datetimes", description="default: the hub's HUB_TIMEZONE"),
                "connect_timeout": FormField("Connect timeout, seconds", "integer", default=10),
                "url": FormField("Full SQLAlchemy URL",
                                 description="instead of the fields above (e.g. sqlite:///crm.db)"),
            },
            relabel={"schema": "Database"},
            placeholders={"host": "crm-db.internal", "port": "5432", "schema": "crm"},
        ),
    ),
    demo="sandbox.demo_crm:PART",
)
