"""The hub's pages inside the Airflow UI: a FastAPI app behind Airflow's own login and permissions."""
