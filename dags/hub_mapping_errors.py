"""Mapping problems no broken exchange DAG can show (e.g. two files naming one exchange), as one Airflow import
error; no DAG is defined here.

Each problem is one line ``file:line: field.path: problem``; every valid mapping still gets its DAG from
dags/hub_exchanges.py. ``hub validate`` shows the same problems in a shell.
"""

from pathlib import Path

from airflow_hub.factory import mappings_directory, raise_if_broken

raise_if_broken(mappings_directory(Path(__file__).resolve().parent.parent / "mappings"))
