"""Waking an event-driven exchange right after an event is committed to the inbox.

Ingress services call :func:`waker_from_env` once and ``wake(asset_uri)`` after each durable commit.
The wake-up is a hint, never the delivery: the event is already safe in the inbox, and each event-driven
exchange also has a schedule that picks it up if a wake-up is lost. A failing wake-up is logged and
swallowed; it must never turn an acknowledged event into an error.

Asset URIs: ``hub://inbox/<stream>`` for inbox streams, ``hub://<connection>/<entity>`` for what an
exchange writes (see :func:`inbox_asset`, :func:`target_asset`).
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote


class Waker(Protocol):
    def wake(self, asset_uri: str) -> None:
        """Ask for a run of the exchanges triggered by ``asset_uri``; returns at once, never raises."""
        ...

    def close(self) -> None:
        """Send what is still queued (briefly), then release resources; for a clean shutdown."""
        ...


class NullWaker:
    """No orchestrator to wake (the CLI, the demo, tests): the scheduled runs pick events up."""

    def wake(self, asset_uri: str) -> None:
        return None

    def close(self) -> None:
        return None


def inbox_asset(stream: str) -> str:
    return f"hub://inbox/{quote(stream, safe='')}"


def target_asset(connection: str, entity: str) -> str:
    return f"hub://{quote(connection, safe='')}/{quote(entity, safe='')}"


def waker_from_env() -> Waker:
    """The waker an installed package offers for this environment (``airflow_hub``'s when ``HUB_AIRFLOW_URL`` is
    set), else a no-op."""
    from hub.registry import waker  # here: the registry loads the installed packages' manifests

    found: Waker | None = waker()
    return found or NullWaker()
