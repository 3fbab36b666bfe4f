"""The DAG factory: one Airflow DAG per mapping file, named after its exchange.

Each DAG is ``plan >> apply``: ``plan`` shows what the run would change and proves both systems answer before
anything is written; ``apply`` writes and records the run. Both return the run's summary
(:meth:`hub.runner.RunReport.summary`). When ``apply`` changed something it produces an event on the target's
asset (``hub://<connection>/<entity>``), so an exchange triggered by that asset runs after it; a run that
changed nothing wakes nobody (the event goes through the asset alias ``hub:<exchange>``, which lets the task
decide).

Parsing stays cheap: mapping files are read and compiled, nothing connects to a system or a database.
A broken mapping file (or one Airflow refuses as a DAG) never hides the other exchanges, and stays visible on the
exchange it breaks: its DAG id becomes a *broken* DAG (tagged ``broken``, the problems ``file:line: field.path:
problem`` as its description and doc, never scheduled, a task that fails with the first problem). Only what no
DAG can stand for (a second file naming an existing exchange, a file with no usable name) is left to
``dags/hub_mapping_errors.py`` as an import error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from airflow.sdk import (
    DAG,
    Asset,
    AssetAlias,
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    get_current_context,
    task,
)
from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule
from airflow.sdk.exceptions import AirflowTimetableInvalid

from airflow_hub import tasks
from airflow_hub.alerts import failure_callbacks
from airflow_hub.connection_types import SYSTEMS
from airflow_hub.notes import NOTE_KEY
from hub.connections import HUB_CONNECTION
from hub.errors import FatalError, MappingError, RetriableError
from hub.mapping.loader import LoadedMapping, load_directory, validate_file
from hub.mapping.model import EXCHANGE_NAME, Mapping, Source, Target
from hub.settings import HubSettings
from hub.wakeup import target_asset

log = logging.getLogger(__name__)

#: the first date runs are scheduled from; with catchup off only the next due run is created
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
#: schedules Airflow takes as they are (they are not cron expressions)
NON_CRON_PRESETS = ("@once", "@continuous")


@dataclass(frozen=True)
class RetrySettings:
    """How Airflow retries a failed task (the runner already retried transient errors inside the task)."""

    retries: int = 3
    delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=10)

    def default_args(self) -> dict[str, Any]:
        args = {"retries": self.retries, "retry_delay": self.delay, "retry_exponential_backoff": 2.0,
                "max_retry_delay": self.max_delay}
        notifiers = failure_callbacks()  # e.g. a chat webhook (HUB_ALERT_CONNECTION)
        return {**args, "on_failure_callback": notifiers} if notifiers else args


#: hub errors decide what a retry can do: nothing for configuration and credentials, everything for outages
RETRY_POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception=FatalError, action=RetryAction.FAIL,
              reason="configuration or credentials are wrong: retrying cannot help"),
    RetryRule(exception=RetriableError, action=RetryAction.RETRY, reason="the system is unavailable for now"),
])


def mappings_directory(default: Path) -> Path:
    """``HUB_MAPPINGS_DIR`` if set, else ``default`` (the ``mappings/`` next to ``dags/``)."""
    configured = os.environ.get("HUB_MAPPINGS_DIR")
    return Path(configured) if configured else default


def exchange_dags(directory: Path, settings: HubSettings | None = None,
                  retry: RetrySettings = RetrySettings()) -> dict[str, DAG]:
    """A DAG for every mapping file of ``directory``, keyed by DAG id: the exchange's DAG, or for a broken file
    a broken DAG under the same id (see :func:`broken_dag`)."""
    return _parsed(directory, settings, retry).dags


def mapping_problems(directory: Path, settings: HubSettings | None = None) -> list[MappingError]:
    """Every problem that keeps a mapping file of ``directory`` from becoming its exchange's DAG."""
    return _parsed(directory, settings, RetrySettings()).problems


class BrokenMappings(Exception):
    """Raised while Airflow imports dags/hub_mapping_errors.py: the UI shows it as that file's import error."""


def raise_if_broken(directory: Path) -> None:
    """An import error for the problems no broken DAG shows (e.g. two files naming the same exchange)."""
    problems = _parsed(directory, None, RetrySettings()).unshown
    if problems:
        files = sorted({problem.file or "<mapping>" for problem in problems})
        raise BrokenMappings(f"{len(files)} mapping file(s) have no DAG until fixed: {', '.join(files)}\n"
                             + "\n".join(str(problem) for problem in problems))


@dataclass
class _Parsed:
    dags: dict[str, DAG]
    problems: list[MappingError]  # all of them, by file and line
    unshown: list[MappingError]  # those of the files no broken DAG stands for


def _parsed(directory: Path, settings: HubSettings | None, retry: RetrySettings) -> _Parsed:
    """The DAGs of the mapping files of ``directory``, and the problems of the files that make none."""
    settings = settings or HubSettings.from_env()
    loaded, broken = load_directory(directory)
    dags: dict[str, DAG] = {}
    problems: list[MappingError] = []
    for error in broken:
        # all the problems of a broken file, not only the first (a duplicate exchange is not a file problem)
        in_file = validate_file(error.file) if error.file and Path(error.file).exists() else []
        problems.extend(in_file or [error])
    for name, item in loaded.items():
        try:
            refused = list(schedule_problems(item))
            if not refused:
                dags[name] = exchange_dag(item, directory, settings, retry)
        except Exception as exc:  # whatever Airflow refuses in one mapping must not hide the other DAGs
            refused = [MappingError(f"Airflow refuses it as a DAG: {str(exc) or type(exc).__name__}",
                                    file=str(item.path))]
        problems.extend(refused)
    problems.sort(key=lambda p: (p.file or "", p.line or 0))
    unshown: list[MappingError] = []
    for file, in_file in groupby(problems, key=lambda p: p.file):
        listed = list(in_file)
        dag_id = broken_dag_id(Path(file)) if file and not _is_duplicate(listed) else None
        if dag_id is None or dag_id in dags:
            unshown.extend(listed)
        else:
            dags[dag_id] = broken_dag(dag_id, Path(file), listed)
    return _Parsed(dags, problems, unshown)


def _is_duplicate(problems: list[MappingError]) -> bool:
    """A second file naming an exchange that exists: the exchange's DAG is the first file's."""
    return any(p.path == "exchange" and "is already defined in" in p.problem for p in problems)


def broken_dag_id(path: Path) -> str | None:
    """The exchange a broken file names, if it names a valid one; else its file name made into a DAG id."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    exchange = data.get("exchange") if isinstance(data, dict) else None
    if isinstance(exchange, str) and EXCHANGE_NAME.match(exchange):
        return exchange
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    return stem if EXCHANGE_NAME.match(stem) else None


def broken_dag(dag_id: str, path: Path, problems: list[MappingError]) -> DAG:
    """The exchange's DAG while its mapping file is broken: it stays in the list, tagged ``broken``, with the
    problems as its description and doc; it never runs by itself (no schedule, created paused), and a manual run
    fails with the first problem, one line."""
    first = _without_directory(problems[0], path)
    lines = "\n".join(f"- `{problem}`" for problem in problems)
    with DAG(
        dag_id=dag_id,
        description=f"BROKEN MAPPING: {first}"[:1000],
        doc_md=(f"**The mapping file `{path}` is broken**; this exchange does not run until it is fixed "
                f"(then this page shows the exchange again at the next parse):\n\n{lines}\n\n"
                f"`hub validate {path}` shows the same in a shell."),
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=True,
        tags=["hub", "broken"],
        auto_register=False,
    ) as dag:
        line = str(problems[0])

        @task(task_id="mapping_is_broken", retries=0, doc_md="Fails with the mapping's problem.")
        def mapping_is_broken() -> None:
            log.error("%s", line)
            get_current_context()["ti"].xcom_push(NOTE_KEY, line)  # the run's note (airflow_hub.notes)
            raise BrokenMappingFile(line)

        mapping_is_broken()
    return dag


class BrokenMappingFile(Exception):
    """The task of a broken exchange DAG fails with this: the file, line and field that are wrong."""

    def __init__(self, line: str):
        super().__init__(line)
        self.__suppress_context__ = True


def _without_directory(problem: MappingError, path: Path) -> str:
    """A problem as the DAG list shows it: the file's name, not its whole path (the doc has the path)."""
    return str(problem).replace(str(path), path.name, 1)


def schedule_problems(loaded: LoadedMapping) -> Iterable[MappingError]:
    expression = loaded.mapping.schedule
    if not expression:
        return
    where = {"file": str(loaded.path), "line": loaded.line_of("schedule"), "path": "schedule"}
    if expression in NON_CRON_PRESETS:
        if loaded.mapping.triggers:
            yield MappingError(f"{expression!r} cannot be combined with triggers; use a cron expression", **where)
    else:
        try:
            CronTriggerTimetable(expression, timezone="UTC").validate()  # presets such as @hourly included
        except AirflowTimetableInvalid:
            yield MappingError(f"{expression!r} is not a cron expression or a preset such as @hourly", **where)


def exchange_dag(loaded: LoadedMapping, directory: Path, settings: HubSettings,
                 retry: RetrySettings = RetrySettings()) -> DAG:
    mapping = loaded.mapping
    produces = hub_asset(target_asset(mapping.target.connection, mapping.target.entity))
    announces = AssetAlias(f"hub:{mapping.exchange}")
    with DAG(
        dag_id=mapping.exchange,
        # the list shows the display name; the description only on hover
        dag_display_name=f"{mapping.exchange}: {first_line(mapping)}"[:200],
        description=list_description(mapping),
        doc_md=dag_doc(loaded, produces.name, settings),
        schedule=schedule(mapping, settings.timezone),
        # an exchange that follows another one's writes has no start date in the past: unpaused, it waits for
        # its upstream's asset (or the next tick of its cron) instead of running at once beside its upstream
        start_date=None if follows_exchanges(mapping) else START_DATE,
        catchup=False,
        max_active_runs=1,  # runs of one exchange never overlap: each resumes from the other's checkpoint
        tags=sorted(tags(mapping)),
        default_args=retry.default_args(),
        # Airflow finds the DAGs in dags/hub_exchanges.py's globals; dags/hub_mapping_errors.py builds them too,
        # only to see what Airflow refuses, and must not define them a second time
        auto_register=False,
    ) as dag:
        step_args = {"exchange": mapping.exchange, "mappings_dir": str(directory)}

        @task(task_id="plan", retry_policy=RETRY_POLICY, multiple_outputs=False,
              doc_md="What a run would change; writes nothing.")
        def plan() -> dict[str, Any]:
            return tasks.run_step(mode="plan", **step_args)

        @task(task_id="apply", retry_policy=RETRY_POLICY, multiple_outputs=False, outlets=[announces],
              doc_md=f"Writes the changes, checkpoints after every batch, records the run; when it changed "
                     f"something, produces an event on `{produces.name}`.")
        def apply() -> dict[str, Any]:
            return tasks.run_step(mode="apply", announce=(announces, produces), **step_args)

        plan() >> apply()
    return dag


def schedule(mapping: Mapping, timezone: str) -> Any:
    """The mapping's ``schedule`` (cron, in the hub's time zone) and/or its ``triggers`` (asset URIs)."""
    assets = [hub_asset(uri) for uri in mapping.triggers]
    if mapping.schedule in NON_CRON_PRESETS and not assets:
        return mapping.schedule
    # without a start date, run_immediately decides the first run: 0 = the next tick, never the one just passed
    # (False would still run a tick less than 5 minutes old)
    first = {"run_immediately": timedelta(0)} if follows_exchanges(mapping) else {}
    timetable = CronTriggerTimetable(mapping.schedule, timezone=timezone, **first) if mapping.schedule else None
    if timetable and assets:
        return AssetOrTimeSchedule(timetable=timetable, assets=AssetAny(*assets))
    return timetable or AssetAny(*assets)


def hub_asset(uri: str) -> Asset:
    """An asset of the hub: the URI stays percent-encoded (Airflow's rule), the name is what people read
    (``hub://onec/Catalog_Контрагенты``). Producers and consumers both build it here, so they name the same one."""
    return Asset(name=unquote(uri), uri=uri)


def follows_exchanges(mapping: Mapping) -> bool:
    """Whether the exchange is triggered by what other exchanges write (not only by the ingress' inbox)."""
    return any(not uri.startswith(INBOX_ASSETS) for uri in mapping.triggers)


def first_line(mapping: Mapping) -> str:
    return (mapping.description.strip().splitlines() or [""])[0]


def list_description(mapping: Mapping) -> str:
    """The description's first line, and when the exchange runs: its assets, its cron, or both (the cron then
    is the fallback that picks up what a lost wake-up left)."""
    triggers = ", ".join(unquote(uri) for uri in mapping.triggers)
    if mapping.triggers and mapping.schedule:
        runs = f"runs on {triggers}; cron fallback {mapping.schedule}"
    elif mapping.triggers:
        runs = f"runs on {triggers}"
    else:
        runs = f"runs on cron {mapping.schedule}"
    return f"{first_line(mapping)} ({runs})"


#: who writes the inbox streams the shipped ingress services fill, as operators call them
INBOX_STREAM_SYSTEMS: dict[str, str] = {"calls": "pbx", "originate_results": "pbx", "website": "website"}
INBOX_ASSETS = "hub://inbox/"


def system(endpoint: Source | Target) -> str:
    """What operators call the system of an endpoint: "crm", "1c", "pbx", "website"; for what ingress services
    left in the hub's own database, the system that sent it (else the stream); else the connection id."""
    if endpoint.connection == HUB_CONNECTION:
        stream = endpoint.stream if isinstance(endpoint, Source) else endpoint.entity
        return INBOX_STREAM_SYSTEMS.get(stream, stream)
    return SYSTEMS.get(endpoint.connector, endpoint.connection)


def tags(mapping: Mapping) -> set[str]:
    source, target = system(mapping.source), system(mapping.target)
    kind = {"event-driven"} if mapping.triggers else {"scheduled"}
    if mapping.triggers and mapping.schedule:
        kind.add("cron fallback")
    return {"hub", source, target, f"{source} -> {target}", *kind}


def dag_doc(loaded: LoadedMapping, produces: str, settings: HubSettings) -> str:
    mapping = loaded.mapping
    source, target = mapping.source, mapping.target
    runs = []
    if mapping.schedule:
        runs.append(f"schedule `{mapping.schedule}` ({settings.timezone})")
    runs.extend(f"asset `{unquote(uri)}`" for uri in mapping.triggers)
    match = f"matched by {', '.join(target.match)}; " if target.match else ""
    rows = [
        ("source", f"`{source.connector}` connection `{source.connection}`, stream `{source.stream}` "
                   f"(key {', '.join(source.key)}; incremental: {source.incremental.strategy})"),
        ("target", f"`{target.connector}` connection `{target.connection}`, entity `{target.entity}` "
                   f"({match}mode {target.mode})"),
        ("fields that cross", ", ".join(f"`{name}`" for name in mapping.fields)),
        ("runs on", "; ".join(runs)),
        ("produces", f"asset `{produces}` when a run changed something (exchanges triggered by it run next)"),
        ("mapping", f"`{loaded.path.name}` version `{loaded.compiled.version}`"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return (f"{mapping.description.strip()}\n\n| | |\n|---|---|\n{table}\n\n"
            "Each task returns the run's summary (read, created, updated, unchanged, filtered, rejected, dead "
            "letters added); the DAG run's note repeats it in one line, or says why the run failed. From a shell: "
            f"`hub plan {mapping.exchange}`, `hub run {mapping.exchange}`, "
            f"`hub dead-letters list --exchange {mapping.exchange}`.")
