"""Telling people when an exchange's task fails: a chat webhook as an Airflow notifier.

A task that fails for good (a configuration error, an outage that outlasted the retries, or more rejected records
than the mapping's ``alerts`` allow) calls its ``on_failure_callback``. With ``HUB_ALERT_CONNECTION`` set when the
DAGs are parsed, that is a :class:`ChatWebhookNotifier` posting the run's one-line note to the URL of that Airflow
connection: ``{"text": ...}``, which Slack, Mattermost, Rocket.Chat and most chat tools accept as an incoming
webhook. Any other Airflow notifier (e.g. the SMTP provider's ``SmtpNotifier``) plugs in the same way.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
from airflow.sdk import BaseHook, BaseNotifier

from airflow_hub.notes import NOTE_KEY

log = logging.getLogger(__name__)

#: the Airflow connection (type http: host with scheme, path in schema or host) of the chat's incoming webhook
ALERT_CONNECTION_ENV = "HUB_ALERT_CONNECTION"


class ChatWebhookNotifier(BaseNotifier):
    """Posts ``{"text": "<exchange>: <what failed> - <log url>"}`` to the webhook URL of an Airflow connection."""

    def __init__(self, conn_id: str, timeout: float = 10.0):
        super().__init__()
        self.conn_id = conn_id
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        text = alert_text(context)
        try:
            response = httpx.post(webhook_url(self.conn_id), json={"text": text}, timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:  # an alert that cannot be sent must not hide why the task failed
            log.warning("the alert to connection %r was not sent: %s", self.conn_id, type(exc).__name__)


def alert_text(context: Any) -> str:
    """The failed try's note (what the hub did and why it failed), with the link to the task's log."""
    ti = context["ti"]
    note = ti.xcom_pull(task_ids=ti.task_id, key=NOTE_KEY) if hasattr(ti, "xcom_pull") else None
    text = str(note) if note else f"{ti.dag_id}: {ti.task_id} failed"
    url = getattr(ti, "log_url", None)
    return f"{text} - {url}" if url else text


def webhook_url(conn_id: str) -> str:
    """The connection as a URL: ``AIRFLOW_CONN_HUB_ALERTS='https://chat.example.ru/hooks/abc'`` (type https, the
    path in its schema), or any connection with ``{"url": ...}`` in its extra."""
    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    if extra.get("url"):
        return str(extra["url"])
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
    host = conn.host or ""
    if "://" in host:
        scheme, _, host = host.partition("://")
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}/{(conn.schema or '').lstrip('/')}"


def failure_callbacks() -> list[BaseNotifier]:
    """The notifiers every exchange task calls when it fails for good (none unless configured)."""
    conn_id = os.environ.get(ALERT_CONNECTION_ENV)
    return [ChatWebhookNotifier(conn_id)] if conn_id else []
