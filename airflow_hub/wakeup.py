"""Wake an event-driven exchange through Airflow's REST API: an asset event on ``hub://inbox/<stream>``.

:meth:`AirflowRestWaker.wake` only queues the URI and returns: a background thread logs in, finds the asset's
id and creates the event. Wakes for the same URI that pile up while the thread is busy become one event (the
exchange reads every inbox event anyway). Any failure is logged and dropped: the event is already committed to
the inbox, and the exchange's schedule picks it up (see :mod:`hub.wakeup`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Mapping

from airflow_hub.api import AirflowApi
from hub.errors import ConfigError

log = logging.getLogger(__name__)

ENV_URL, ENV_USER, ENV_PASSWORD = "HUB_AIRFLOW_URL", "HUB_AIRFLOW_USER", "HUB_AIRFLOW_PASSWORD"
_STOP = object()  # queued by close(): the thread ends after what was queued before it


def waker_from_env() -> AirflowRestWaker | None:
    """The waker of this package's manifest: Airflow's when ``HUB_AIRFLOW_URL`` is set, else None."""
    return AirflowRestWaker.from_env() if os.environ.get(ENV_URL) else None


class AirflowRestWaker:
    def __init__(self, api: AirflowApi, max_pending: int = 10_000):
        self._api = api
        self._pending: queue.Queue[str | object] = queue.Queue(max_pending)
        self._asset_ids: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="hub-airflow-waker", daemon=True)
        self._thread.start()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AirflowRestWaker:
        env = os.environ if env is None else env
        missing = [name for name in (ENV_URL, ENV_USER, ENV_PASSWORD) if not env.get(name)]
        if missing:
            raise ConfigError(f"waking exchanges through Airflow needs {', '.join(missing)} "
                              f"(the API server's URL and a user allowed to create asset events)")
        return cls(AirflowApi(env[ENV_URL], env[ENV_USER], env[ENV_PASSWORD], timeout=5.0))

    def wake(self, asset_uri: str) -> None:
        """Queue an asset event for ``asset_uri``; returns at once and never raises."""
        try:
            self._pending.put_nowait(asset_uri)
        except queue.Full:
            log.warning("wake-up queue full; %s will be picked up by its schedule", asset_uri)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop."""
        with contextlib.suppress(queue.Full):
            self._pending.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._api.close()

    # -- the background thread

    def _run(self) -> None:
        while True:
            batch = [self._pending.get()]
            while not self._pending.empty():
                batch.append(self._pending.get_nowait())
            for uri in dict.fromkeys(item for item in batch if isinstance(item, str)):  # each URI once, in order
                self._send(uri)
            if any(item is _STOP for item in batch):
                return

    def _send(self, uri: str) -> None:
        try:
            asset_id = self._asset_ids.get(uri) or self._api.asset_id(uri)
            if asset_id is None:
                log.warning("no Airflow asset %s (no DAG is triggered by it yet); its schedule will run it", uri)
                return
            self._asset_ids[uri] = asset_id
            self._api.create_asset_event(asset_id, {"woken_by": "hub.wakeup"})
        except Exception as exc:  # a hint, never the delivery: log it and go on
            log.warning("could not wake %s through Airflow (%s: %s); its schedule will run it",
                        uri, type(exc).__name__, exc)
