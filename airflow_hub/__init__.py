"""Airflow integration of the hub: hooks, connection types, the DAG factory helpers and `hub airflow`."""
