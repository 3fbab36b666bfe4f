"""The dead-letters page and its JSON API, mounted into Airflow's API server by :mod:`airflow_hub.ui.plugin`.

``GET /hub/dead-letters/`` is the page (shown inside the Airflow UI as an external view); the page reads and
acts through the routes under ``/hub/dead-letters/api``: list (by exchange, class, age, status), one letter
with its payload, replay (a DAG run of the exchange with ``conf={"replay": [ids]}``, so it is in that exchange's
history and its note), discard with a reason. Every route needs an Airflow login (:mod:`airflow_hub.ui.access`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from airflow_hub.replay import replay_run_id, run_url
from airflow_hub.tasks import REPLAY_KEY
from airflow_hub.ui.access import UserDep, may, readable_exchanges, require
from hub.app import Hub
from hub.settings import HubSettings
from hub.state import codec
from hub.state.models import DeadLetter

PAGE = Path(__file__).with_name("dead_letters.html")
MAX_LIST = 500  # rows a list answers at most; narrow the filters for more

Status = Literal["open", "resolved", "discarded", "all"]


def hub() -> Hub:
    """The hub of this API server process (settings from its environment: ``HUB_DATABASE_URL``...)."""
    return _hub(HubSettings.from_env())


@lru_cache(maxsize=4)  # one per hub database: its store keeps a connection pool
def _hub(settings: HubSettings) -> Hub:
    return Hub(settings)


class LetterRow(BaseModel):
    id: int
    exchange: str
    source_key: str
    error_class: str
    message: str
    status: str
    attempts: int
    mapping_version: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    age_seconds: int
    discard_reason: str | None = None
    discarded_by: str | None = None
    can_replay: bool
    can_discard: bool


class LetterDetail(LetterRow):
    payload: Any
    run_id: int | None


class Group(BaseModel):
    exchange: str
    error_class: str
    count: int
    oldest: dt.datetime


class LetterList(BaseModel):
    letters: list[LetterRow]
    groups: list[Group]  # every open (exchange, class) the user may see, for the filters and the overview
    truncated: bool


class ReplayRequest(BaseModel):
    exchange: str
    ids: list[int] | Literal["all"] = Field(description='dead letter ids, or "all" open ones of the exchange')


class ReplayStarted(BaseModel):
    dag_id: str
    dag_run_id: str
    paused: bool  # a paused exchange's run waits until it is unpaused
    url: str  # the run in the Airflow UI, relative to its base URL


class DiscardRequest(BaseModel):
    ids: list[int] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=2000)


class Discarded(BaseModel):
    discarded: int


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the hub stores naive UTC


def _row(letter: DeadLetter, user: Any, with_payload: bool = False) -> dict[str, Any]:
    row = {name: getattr(letter, name) for name in (
        "id", "exchange", "source_key", "error_class", "message", "status", "attempts", "mapping_version",
        "first_seen", "last_seen", "discard_reason", "discarded_by")}
    row["age_seconds"] = max(0, int((now() - letter.first_seen).total_seconds()))
    is_open = letter.status == "open"
    row["can_replay"] = is_open and may(user, "replay", letter.exchange)
    row["can_discard"] = is_open and may(user, "discard", letter.exchange)
    if with_payload:
        row["payload"] = codec.loads(letter.payload)
        row["run_id"] = letter.run_id
    return row


router = APIRouter(prefix="/dead-letters")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(user: UserDep) -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})


@router.get("/api/letters", response_model=LetterList)
def list_letters(
    user: UserDep,
    exchange: str | None = None,
    error_class: Annotated[str | None, Query(alias="class")] = None,
    older_than: Annotated[int | None, Query(ge=0, description="first seen at least this many minutes ago")] = None,
    letter_status: Annotated[Status, Query(alias="status")] = "open",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200,
) -> dict[str, Any]:
    readable = readable_exchanges(user)
    store = hub().store
    seen_before = now() - dt.timedelta(minutes=older_than) if older_than else None
    letters = store.dead_letters(exchange, None if letter_status == "all" else letter_status, limit + 1,
                                 error_class=error_class or None, seen_before=seen_before, exchanges=readable,
                                 newest_first=True)
    groups = [Group(exchange=e, error_class=c, count=n, oldest=oldest)
              for e, c, n, oldest in store.dead_letter_groups("open") if e in readable]
    return {"letters": [_row(letter, user) for letter in letters[:limit]], "groups": groups,
            "truncated": len(letters) > limit}


@router.get("/api/letters/{letter_id}", response_model=LetterDetail)
def show_letter(letter_id: int, user: UserDep) -> dict[str, Any]:
    found = hub().store.dead_letters(status=None, ids=[letter_id], limit=1)
    if not found or found[0].exchange not in readable_exchanges(user):  # not yours to know it exists
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter #{letter_id}")
    return _row(found[0], user, with_payload=True)


@router.post("/api/replay", response_model=ReplayStarted, status_code=status.HTTP_201_CREATED)
def replay(request: ReplayRequest, user: UserDep) -> dict[str, Any]:
    require(user, "replay", [request.exchange])
    if request.ids != "all":
        open_ids = {letter.id for letter in hub().store.dead_letters(request.exchange, "open", len(request.ids),
                                                                     ids=request.ids)}
        if missing := sorted(set(request.ids) - open_ids):
            raise HTTPException(status.HTTP_409_CONFLICT, f"not open dead letters of {request.exchange}: "
                                                          f"{', '.join(f'#{i}' for i in missing)}")
    run = trigger_replay(request.exchange, request.ids, user.get_name())
    return {"dag_id": request.exchange, "dag_run_id": run.run_id, "paused": is_paused(request.exchange),
            "url": run_url(request.exchange, run.run_id)}


@router.post("/api/discard", response_model=Discarded)
def discard(request: DiscardRequest, user: UserDep) -> dict[str, int]:
    store = hub().store
    letters = store.dead_letters(status=None, ids=request.ids, limit=len(request.ids))
    if missing := sorted(set(request.ids) - {letter.id for letter in letters}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter {', '.join(f'#{i}' for i in missing)}")
    require(user, "discard", [letter.exchange for letter in letters])
    return {"discarded": store.discard_dead_letters(request.ids, request.reason, by=user.get_name())}


def trigger_replay(exchange: str, ids: list[int] | Literal["all"], user_name: str) -> Any:
    """A manual DAG run of the exchange whose tasks replay ``ids`` (its ``conf``), named ``replay__<time>``."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound
    from airflow.utils.types import DagRunTriggeredByType

    try:
        run = trigger_dag(exchange, triggered_by=DagRunTriggeredByType.UI, triggering_user_name=user_name,
                          run_id=replay_run_id(), conf={REPLAY_KEY: ids})
    except DagNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no DAG {exchange}: is its mapping file broken?") from None
    if run is None:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"Airflow created no run of {exchange}")
    return run


def is_paused(dag_id: str) -> bool:
    from airflow.models.dag import DagModel

    model = DagModel.get_current(dag_id)
    return bool(model is not None and model.is_paused)


def create_app() -> FastAPI:
    app = FastAPI(title="Integration hub", description="The hub's operator pages inside Airflow",
                  docs_url=None, redoc_url=None)
    app.include_router(router)
    from airflow_hub.ui import runs, search  # the search and runs pages share this app (and its hub)

    app.include_router(search.router)
    app.include_router(runs.router)
    return app
