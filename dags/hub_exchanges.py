"""Airflow DAGs of the integration hub: one per mapping file, made by airflow_hub.factory.

The mappings come from ``HUB_MAPPINGS_DIR``, else the ``mappings/`` directory next to this one. A broken
mapping file gets no DAG here; dags/hub_mapping_errors.py reports it as an import error.
"""

from pathlib import Path

from airflow_hub.factory import exchange_dags, mappings_directory

globals().update(exchange_dags(mappings_directory(Path(__file__).resolve().parent.parent / "mappings")))
