"""The hub as an Airflow provider: its connection types, the run-notes plugin and the operator pages.

Airflow finds this through the ``apache_airflow_provider`` entry point (pyproject.toml), as it finds any provider
package; the ``connection-types`` entries are Airflow's provider.yaml shape, built from the connection types of
every installed connector package's manifest (:mod:`hub.registry`), out-of-tree ones included.
"""

from __future__ import annotations

from typing import Any

from airflow_hub.connection_types import provider_info
from hub import registry

PACKAGE_NAME = "integration-hub"  # must equal the distribution name (Airflow checks)


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Integration hub",
        "description": "Connections of the installed connector packages (CRM database, 1C, Asterisk AMI, website "
                       "forms...), the notes on exchange DAG runs and the dead-letters page.",
        "connection-types": [provider_info(ct) for ct in registry.connection_types()],
        "plugins": [{"name": "hub_run_notes", "plugin-class": "airflow_hub.notes.HubRunNotesPlugin"},
                    {"name": "hub_operations", "plugin-class": "airflow_hub.ui.plugin.HubOperationsPlugin"}],
    }
