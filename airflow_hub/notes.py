"""The DAG run's note: what the run did, or why it failed, in one line the operator reads in the UI.

Tasks cannot write notes (the Task SDK has no such call), so the line a hub task leaves under :data:`NOTE_KEY` is
copied onto the run by whoever stores it:

- on each try: when the API server stores that XCom (a SQLAlchemy event in the same transaction), so a run that
  is still retrying reads "try 2 of 4: connection refused by 127.0.0.1:18099" in the grid;
- when the DAG run finishes: a listener in the scheduler takes the latest line.

A note an operator wrote by hand is kept. The provider (:mod:`airflow_hub.provider`) registers the plugin; Airflow
loads providers' plugins when ``[core] lazy_discover_providers`` is false.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.engine import Connection

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
    session.expire(dag_run, ["dag_run_note"])  # the note of the last try may have been written beside the ORM
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


def _note_each_try(mapper: Any, connection: Connection, xcom: Any) -> None:
    """After an XCom row is inserted: a hub task's line becomes its run's note at once (unless written by hand)."""
    if xcom.key != NOTE_KEY or xcom.dag_run_id is None:
        return
    from airflow.models.dagrun import DagRunNote
    from airflow.models.xcom import XComModel

    notes = DagRunNote.__table__
    content, now = str(XComModel.deserialize_value(xcom))[:1000], datetime.now(UTC)
    existing = connection.execute(sa.select(notes.c.user_id).where(notes.c.dag_run_id == xcom.dag_run_id)).first()
    if existing is None:
        connection.execute(sa.insert(notes).values(dag_run_id=xcom.dag_run_id, content=content, user_id=None,
                                                   created_at=now, updated_at=now))
    elif existing.user_id is None:
        connection.execute(sa.update(notes).where(notes.c.dag_run_id == xcom.dag_run_id)
                           .values(content=content, updated_at=now))


def _listen_to_xcoms() -> None:
    from airflow.models.xcom import XComModel

    if not sa.event.contains(XComModel, "after_insert", _note_each_try):
        sa.event.listen(XComModel, "after_insert", _note_each_try)


_listen_to_xcoms()


class HubRunNotesPlugin(AirflowPlugin):
    name = "hub_run_notes"
    listeners: list[Any] = [sys.modules[__name__]]  # noqa: RUF012 - Airflow's plugin interface
