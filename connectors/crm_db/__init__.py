"""CRM database connector (PostgreSQL, MariaDB/MySQL, Firebird, SQLite) over SQLAlchemy Core."""

from connectors.crm_db import firebird_dialect  # noqa: F401  (registers the Firebird strategy)
from connectors.crm_db.connector import CrmDbConnector
from connectors.crm_db.options import CrmDbSourceOptions

CONNECTOR = CrmDbConnector

__all__ = ["CONNECTOR", "CrmDbConnector", "CrmDbSourceOptions"]
