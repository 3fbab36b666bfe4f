"""Airflow DAGs of the integration hub: one per mapping file, made by airflow_hub.factory.

The mappings come from ``HUB_MAPPINGS_DIR``, else the ``mappings/`` directory next to this one. A broken
mapping file gets a broken DAG under its exchange's id (the problem on its page, a task that fails with it);
dags/hub_mapping_errors.py reports only what no DAG can show.
"""

from pathlib import Path

from airflow_hub.factory import exchange_dags, mappings_directory

globals().update(exchange_dags(mappings_directory(Path(__file__).resolve().parent.parent / "mappings")))
