"""Who may do what on the hub's pages: Airflow's own authentication and authorization, per exchange.

Airflow does not protect a plugin's FastAPI app: every route here takes :data:`UserDep` (the same JWT, from the
UI's cookie or a ``Bearer`` header, that Airflow's REST API takes; none is a 401) and asks Airflow's auth manager
about the exchange's DAG. Reading dead letters needs read access to the DAG (a Viewer has it); replaying needs
the right to trigger its runs, discarding the right to change them (in the simple auth manager: User, Op, Admin).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, status

UserDep = Annotated[BaseUser, Depends(get_user)]

#: what an action on an exchange's dead letters does to its DAG, in Airflow's terms
Action = Literal["read", "replay", "discard"]
_METHODS: dict[Action, Literal["GET", "POST", "PUT"]] = {"read": "GET", "replay": "POST", "discard": "PUT"}


def may(user: BaseUser, action: Action, exchange: str) -> bool:
    return get_auth_manager().is_authorized_dag(method=_METHODS[action], access_entity=DagAccessEntity.RUN,
                                                details=DagDetails(id=exchange), user=user)


def require(user: BaseUser, action: Action, exchanges: Iterable[str]) -> None:
    """403 naming the first exchange the user may not ``action``."""
    for exchange in sorted(set(exchanges)):
        if not may(user, action, exchange):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.get_name()} may not {action} the dead letters of {exchange}")


def readable_exchanges(user: BaseUser) -> set[str]:
    """The exchanges (DAG ids) whose dead letters the user may see."""
    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
