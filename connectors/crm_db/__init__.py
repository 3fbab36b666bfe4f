"""CRM database connector (PostgreSQL, MariaDB/MySQL, Firebird, SQLite) over SQLAlchemy Core."""

from connectors.crm_db.connector import CrmDbConnector
from connectors.crm_db.options import CrmDbSourceOptions

__all__ = ["CrmDbConnector", "CrmDbSourceOptions"]
