"""CRM database connector (PostgreSQL, MariaDB/MySQL, Firebird, SQLite) over SQLAlchemy Core."""

import importlib
from typing import Any

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"CrmDbConnector": "connectors.crm_db.connector", "CrmDbSourceOptions": "connectors.crm_db.options"}

__all__ = ["CrmDbConnector", "CrmDbSourceOptions"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
