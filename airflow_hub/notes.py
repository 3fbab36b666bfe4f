"""The DAG run's note: what the run did, or why it failed, in one line the operator reads in the UI.

Tasks cannot write notes (the Task SDK has no such call), so a listener in the scheduler does it: when a DAG run
finishes, the latest line a hub task left under :data:`NOTE_KEY` becomes the run's note, in the scheduler's own
transaction. A note an operator wrote by hand is kept. The provider (:mod:`airflow_hub.provider`) registers the
listener; Airflow loads providers' plugins when ``[core] lazy_discover_providers`` is false.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

#: the XCom key under which a hub task leaves its one-line outcome
NOTE_KEY = "hub_note"


@hookimpl
def on_dag_run_success(dag_run: DagRun, msg: str) -> None:
    _note_outcome(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: DagRun, msg: str) -> None:
    _note_outcome(dag_run)


def _note_outcome(dag_run: DagRun) -> None:
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:  # dag.test() hands over a detached run; its loop commits the thread's scoped session
        session = settings.Session()
        dag_run = session.get(DagRun, dag_run.id)
        if dag_run is None:
            return
    if dag_run.dag_run_note is not None and dag_run.dag_run_note.user_id is not None:
        return  # written by hand
    latest = session.execute(
        select(XComModel.value)
        .where(XComModel.dag_run_id == dag_run.id, XComModel.key == NOTE_KEY)
        .order_by(XComModel.timestamp.desc())
        .limit(1)
    ).first()
    if latest is not None:
        dag_run.note = str(XComModel.deserialize_value(latest))


class HubRunNotesPlugin(AirflowPlugin):
    name = "hub_run_notes"
    listeners: list[Any] = [sys.modules[__name__]]  # noqa: RUF012 - Airflow's plugin interface
