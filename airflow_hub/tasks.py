"""What the ``plan`` and ``apply`` tasks of an exchange DAG do: run the hub, and tell the operator about it.

The task returns the run's summary (its XCom ``return_value``), logs one line per sampled change (field names,
never values) and leaves a one-line note under :data:`NOTE_KEY`, which :mod:`airflow_hub.notes` copies onto the
DAG run. An ``apply`` that changed something produces an event on the target's asset. A failed step leaves the
reason as that line and re-raises the hub error, so the task's retry policy sees its class
(:data:`airflow_hub.factory.RETRY_POLICY`). Airflow masks the connections' secrets in the task log, but not in
XComs: the note goes through the same masker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from airflow.sdk import Asset, AssetAlias, get_current_context
from airflow.sdk.log import redact

from airflow_hub.notes import NOTE_KEY
from airflow_hub.resolver import AirflowConnectionResolver
from hub import metrics
from hub.app import Hub
from hub.causes import network_cause
from hub.errors import ConfigError, FatalError
from hub.runner import RunReport
from hub.runner.report import Outcome
from hub.settings import HubSettings
from hub.state.store import COUNTERS, Counts

log = logging.getLogger(__name__)

Step = Literal["plan", "apply"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)


def run_step(exchange: str, mode: Step, mappings_dir: str,
             announce: tuple[AssetAlias, Asset] | None = None) -> dict[str, Any]:
    context = get_current_context()
    ti, dag_run = context["ti"], context["dag_run"]
    # names this attempt in the hub's run log (the column holds 128 characters)
    triggered_by = f"airflow {ti.task_id}#{ti.try_number} {dag_run.run_id}"[:128]
    settings = HubSettings.from_env(mappings_dir=Path(mappings_dir))
    hub = Hub(settings, AirflowConnectionResolver(settings.connections_file))
    try:
        try:
            replay = replay_ids(dag_run.conf)
            if replay is not None:  # a run the dead-letters page (or `hub dead-letters replay`) triggered
                ids = None if replay == "all" else replay
                report = hub.runner(exchange).replay(ids, triggered_by, apply=mode == "apply")
            else:
                report = hub.plan(exchange, triggered_by) if mode == "plan" else hub.run(exchange, triggered_by)
        except Exception as exc:
            line = failure_line(hub, exchange, mode, triggered_by, exc)
            if not isinstance(exc, FatalError):  # retried: say which try this was (the note changes on each)
                line = line.replace(f"{exchange}: {mode} failed - ",
                                    f"{exchange}: {mode} try {ti.try_number} of {ti.max_tries + 1}: ", 1)
            log.error("%s", line)
            log.debug("%s: the traceback", exchange, exc_info=exc)  # for developers; the line says it all
            ti.xcom_push(NOTE_KEY, redact(line))  # the note follows each try (airflow_hub.notes)
            raise _without_history(exc) from None
    finally:
        hub.close()
    for level, line in sample_lines(report):
        log.log(level, "%s", line)
    note = replay_prefix(replay) + report.one_line()
    # a run that rejected records is not a plain success: its summary is a warning in the log too
    log.log(logging.WARNING if report.counts.rejected else logging.INFO, "%s", note)
    ti.xcom_push(NOTE_KEY, redact(note))
    if mode == "apply":
        observe(hub_settings=settings, exchange=exchange, report=report)
    counts = report.counts
    if announce is not None and counts.created + counts.updated + counts.deleted:
        alias, produces = announce  # the exchanges triggered by the target run next, told what changed
        context["outlet_events"][alias].add(produces, extra={"exchange": exchange, **counts.as_dict()})
    return report.summary()


#: the DAG run's ``conf`` key of a replay run: a list of dead letter ids, or "all" (every open one)
REPLAY_KEY = "replay"


def replay_ids(conf: Mapping[str, Any] | None) -> list[int] | Literal["all"] | None:
    """The dead letters a run's ``conf`` asks to replay (``{"replay": [3, 7]}`` or ``{"replay": "all"}``); None
    for an ordinary run. Anything else is a configuration error, said in one line."""
    if not conf or REPLAY_KEY not in conf:
        return None
    wanted = conf[REPLAY_KEY]
    if wanted == "all":
        return "all"
    if isinstance(wanted, list) and wanted and all(isinstance(i, int) and not isinstance(i, bool) for i in wanted):
        return wanted
    raise ConfigError(f'conf.{REPLAY_KEY}: expected a list of dead letter ids or "all", got {json.dumps(wanted)[:80]}')


def replay_prefix(replay: list[int] | Literal["all"] | None) -> str:
    """What a replay run's note starts with, so the runs list tells it from an ordinary run."""
    if replay is None:
        return ""
    if replay == "all":
        return "replay of all open dead letters: "
    return f"replay of dead letter{'s' if len(replay) > 1 else ''} {', '.join(f'#{i}' for i in replay)}: "


def observe(hub_settings: HubSettings, exchange: str, report: RunReport) -> None:
    """The run's metrics (Airflow's StatsD/OpenTelemetry set-up): records by outcome, open dead letters, and for
    an inbox exchange the age of the oldest event it has not read. Never fails the task."""
    try:
        for outcome in OUTCOMES:
            metrics.records(exchange, outcome, getattr(report.counts, outcome))
        with Hub(hub_settings) as hub:
            metrics.dead_letters_open(exchange, hub.store.dead_letter_count(exchange))
            source = hub.mapping(exchange).mapping.source
            if source.connector == "inbox":
                unread = hub.store.inbox_read(source.stream, int(hub.store.checkpoint(exchange) or 0), 1)
                metrics.inbox_lag(source.stream, exchange, unread[0][3] if unread else None)
    except Exception as exc:  # a metric is not worth a failed run
        log.warning("%s: metrics not recorded: %s", exchange, type(exc).__name__)


def _without_history(exc: BaseException) -> BaseException:
    """``exc`` without the frames and the chain it came through: Airflow logs what a task raises with its
    traceback, and the one line above already says what happened (the whole trace is at DEBUG)."""
    exc.__traceback__, exc.__cause__, exc.__context__ = None, None, None
    return exc


def failure_line(hub: Hub, exchange: str, mode: Step, triggered_by: str, exc: BaseException) -> str:
    """Why the step failed, in one line, with what the run did before (from the hub's run log); a network
    failure starts with its cause ("connection refused by 127.0.0.1:18099")."""
    cause = network_cause(exc)
    line = _recorded_failure_line(hub, exchange, mode, triggered_by, exc)
    prefix = f"{exchange}: {mode} failed - "
    return line.replace(prefix, f"{prefix}{cause}; ", 1) if cause else line


def _recorded_failure_line(hub: Hub, exchange: str, mode: Step, triggered_by: str, exc: BaseException) -> str:
    try:
        recorded = next((run for run in hub.store.runs(exchange, 20) if run.triggered_by == triggered_by), None)
    except Exception:  # the hub database itself may be what failed
        recorded = None
    if recorded is None or recorded.status != "failed":  # the run never started, or could not record its end
        text = " ".join(str(exc).split()) or type(exc).__name__
        return f"{exchange}: {mode} failed - {text}"
    counts = Counts(**{name: getattr(recorded, name) for name in COUNTERS})
    report = RunReport(exchange, recorded.mode, recorded.id, recorded.mapping_version, status=recorded.status,
                       counts=counts, message=recorded.message)
    return report.one_line()


def sample_lines(report: RunReport) -> list[tuple[int, str]]:
    """The sampled records of a run, for the task log, with their log level (rejections and lost values are
    warnings): keys and changed field names, never values."""
    lines = []
    for outcome, samples in report.samples.items():
        for sample in samples:
            text = f"{outcome}: {sample.source_key}" + (f" -> {sample.target_key}" if sample.target_key else "")
            if sample.changes:
                text += f" (fields: {', '.join(change.field for change in sample.changes)})"
            if sample.reason:
                text += f": {sample.reason}"
            lines.append((logging.WARNING if outcome == "rejected" else logging.INFO, text))
    lines += [(logging.WARNING, f"warning: {w.source_key}: field {w.field}: {w.problem}") for w in report.warnings]
    return lines
