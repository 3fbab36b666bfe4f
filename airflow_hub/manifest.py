"""What ``airflow_hub`` brings to the hub (see :mod:`hub.manifest`): the ``hub airflow`` command and the waker that
wakes event-driven exchanges through Airflow's REST API. It provides no connector of its own."""

from hub.manifest import Command, Manifest

MANIFEST = Manifest(
    name="airflow",
    commands=(Command("top", "airflow", "airflow_hub.cli:airflow_command"),),
    waker="airflow_hub.wakeup:waker_from_env",
    connection_store="airflow_hub.resolver:airflow_connection",
    replayer="airflow_hub.replay:replay_in_airflow",
)
