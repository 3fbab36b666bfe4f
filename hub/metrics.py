"""The hub's metrics, named once, sent two ways.

- **Prometheus**: every process keeps them in ``prometheus_client``'s default registry; the ingress services
  (``hub serve intake``, ``hub listen ami --metrics-port``) serve it at ``/metrics``.
- **Airflow's metrics** (StatsD or OpenTelemetry, Airflow's ``[metrics]`` configuration): inside an Airflow
  task they go through Airflow's own Stats, which the task runner has set up; an ingress service sends them
  the same way when ``AIRFLOW__METRICS__STATSD_ON`` or ``AIRFLOW__METRICS__OTEL_ON`` is true in its environment.
  StatsD has no labels, so the labels are also in the name: ``hub.records.<exchange>.<outcome>``.

- ``hub_records_total{exchange,outcome}`` / ``hub.records.<exchange>.<outcome>``: records per outcome;
- ``hub_dead_letters_open{exchange}`` / ``hub.dead_letters_open.<exchange>``: open dead letters, after each run;
- ``hub_inbox_lag_seconds{stream,exchange}`` / ``hub.inbox_lag_seconds.<exchange>``: age of the oldest event the
  exchange has not read yet (0: none);
- ``hub_listener_connected{pbx}`` / ``hub.listener_connected.<pbx>``: 1 while the AMI listener is connected;
- ``hub_intake_requests_total{source,status}`` / ``hub.intake_requests.<source>.<status>``: intake answers.

No values of records ever go into metrics: exchange, stream, form source and PBX names are configuration.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from typing import Any

from prometheus_client import Counter, Gauge

from hub.logs import get_logger

log = get_logger("hub.metrics")

RECORDS = Counter("hub_records", "Records per exchange by outcome (created, updated, rejected, ...)",
                  ["exchange", "outcome"])
DEAD_LETTERS_OPEN = Gauge("hub_dead_letters_open", "Open dead letters of an exchange, after its latest run",
                          ["exchange"])
INBOX_LAG = Gauge("hub_inbox_lag_seconds", "Age of the oldest inbox event an exchange has not read yet",
                  ["stream", "exchange"])
LISTENER_CONNECTED = Gauge("hub_listener_connected", "1 while the AMI listener is connected to the PBX", ["pbx"])
INTAKE_REQUESTS = Counter("hub_intake_requests", "Intake answers by form source and HTTP status",
                          ["source", "status"])

_AIRFLOW_METRICS_ON = ("AIRFLOW__METRICS__STATSD_ON", "AIRFLOW__METRICS__OTEL_ON")
_airflow_stats: Any = None  # the Stats module once set up (None: not yet looked for; False: not used)


def records(exchange: str, outcome: str, count: int) -> None:
    if count:
        RECORDS.labels(exchange, outcome).inc(count)
        _airflow("incr", f"hub.records.{exchange}.{outcome}", count, tags={"exchange": exchange, "outcome": outcome})


def dead_letters_open(exchange: str, count: int) -> None:
    DEAD_LETTERS_OPEN.labels(exchange).set(count)
    _airflow("gauge", f"hub.dead_letters_open.{exchange}", count, tags={"exchange": exchange})


def inbox_lag(stream: str, exchange: str, oldest_unread: dt.datetime | None) -> None:
    """``oldest_unread``: when the oldest event the exchange has not read yet was received (UTC), or None."""
    seconds = 0.0
    if oldest_unread is not None:
        received = oldest_unread if oldest_unread.tzinfo else oldest_unread.replace(tzinfo=dt.UTC)
        seconds = max(0.0, (dt.datetime.now(dt.UTC) - received).total_seconds())
    INBOX_LAG.labels(stream, exchange).set(seconds)
    _airflow("gauge", f"hub.inbox_lag_seconds.{exchange}", seconds, tags={"stream": stream, "exchange": exchange})


def listener_connected(pbx: str, connected: bool) -> None:
    LISTENER_CONNECTED.labels(pbx).set(1 if connected else 0)
    _airflow("gauge", f"hub.listener_connected.{_name(pbx)}", 1 if connected else 0, tags={"pbx": pbx})


def intake_request(source: str, status: int) -> None:
    INTAKE_REQUESTS.labels(source, str(status)).inc()
    _airflow("incr", f"hub.intake_requests.{_name(source)}.{status}", 1, tags={"source": source,
                                                                              "status": str(status)})


def _name(part: str) -> str:
    """A label as a piece of a StatsD name (letters, digits, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", part) or "_"


def _airflow(kind: str, name: str, value: float, tags: dict[str, str]) -> None:
    stats = _stats()
    if not stats:
        return
    try:
        getattr(stats, kind)(name, value, tags=tags)
    except Exception as exc:  # metrics never break what they measure
        log.warning("metric not sent", metric=name, error=type(exc).__name__)


def _stats() -> Any:
    """Airflow's Stats inside Airflow (the task runner set it up); in a hub process only when Airflow's metrics
    are switched on in its environment (then set up here, from Airflow's configuration)."""
    global _airflow_stats
    if _airflow_stats is None:
        inside_airflow = "airflow.sdk.execution_time.task_runner" in sys.modules
        switched_on = any(os.environ.get(key, "").lower() in ("true", "1") for key in _AIRFLOW_METRICS_ON)
        _airflow_stats = _set_up_airflow_stats(configure=not inside_airflow) if inside_airflow or switched_on \
            else False
    return _airflow_stats


def _set_up_airflow_stats(configure: bool) -> Any:
    try:
        from airflow.sdk.observability import stats

        if configure:  # what Airflow's own processes do at start
            from airflow.sdk.configuration import conf
            from airflow.sdk.observability.metrics import stats_utils

            stats.initialize(factory=stats_utils.get_stats_factory(),
                             export_legacy_names=conf.getboolean("metrics", "legacy_names_on"))
        return stats
    except Exception as exc:
        log.warning("Airflow's metrics are not available; Prometheus only", error=f"{type(exc).__name__}: {exc}")
        return False
