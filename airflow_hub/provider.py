"""The hub as an Airflow provider: its connection types, the run-notes plugin and the operator pages.

Airflow finds this through the ``apache_airflow_provider`` entry point (pyproject.toml), as it finds any provider
package; the ``connection-types`` entries are Airflow's provider.yaml shape, built from
:data:`airflow_hub.connection_types.CONNECTION_TYPES`.
"""

from __future__ import annotations

from typing import Any

from airflow_hub.connection_types import CONNECTION_TYPES

PACKAGE_NAME = "integration-hub"  # must equal the distribution name (Airflow checks)


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Integration hub",
        "description": "Connections to the CRM database, 1C (OData, SOAP), Asterisk AMI and website forms, "
                       "the notes on exchange DAG runs and the dead-letters page.",
        "connection-types": [ct.provider_info() for ct in CONNECTION_TYPES],
        "plugins": [{"name": "hub_run_notes", "plugin-class": "airflow_hub.notes.HubRunNotesPlugin"},
                    {"name": "hub_operations", "plugin-class": "airflow_hub.ui.plugin.HubOperationsPlugin"}],
    }
