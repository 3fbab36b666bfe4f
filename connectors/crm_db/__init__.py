"""CRM database connector (PostgreSQL, MariaDB/MySQL, Firebird, SQLite) over SQLAlchemy Core."""

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"CrmDbConnector": "connectors.crm_db.connector", "CrmDbSourceOptions": "connectors.crm_db.options"}

__all__ = ["CrmDbConnector", "CrmDbSourceOptions"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
