"""A small client of Airflow's REST API v2: what the hub's wake-ups, ``hub airflow`` and the tests need.

It logs in with ``POST /auth/token`` (a JWT), logs in again once when the token has expired (401), and raises
:class:`AirflowApiError` with the method, path and status, never the credentials.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import SecretStr

#: DAG run states after which a run does not change any more
FINISHED = ("success", "failed")


class AirflowApiError(RuntimeError):
    pass


class AirflowApi:
    def __init__(self, url: str, username: str, password: str | SecretStr, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._username = username
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)
        self._client = httpx.Client(base_url=self.url, timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport

    def _login(self) -> str:
        response = self._client.post("/auth/token", json={"username": self._username,
                                                          "password": self._password.get_secret_value()})
        if response.status_code not in (200, 201):
            raise AirflowApiError(f"POST /auth/token as {self._username!r}: HTTP {response.status_code}")
        self._token = str(response.json()["access_token"])
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON of a successful response (``None`` when empty)."""
        response: httpx.Response | None = None
        for attempt in range(2):
            token = self._token if self._token and attempt == 0 else self._login()
            response = self._client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if response.status_code != 401:
                break
        assert response is not None
        if response.status_code >= 400:
            detail = response.text[:300].replace("\n", " ")
            raise AirflowApiError(f"{method} {path}: HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None

    # -- what the hub uses

    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health`` (no login needed); raises while the server is not answering."""
        response = self._client.get("/api/v2/monitor/health")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def asset_id(self, uri: str) -> int | None:
        """The id of the asset with exactly this URI (it exists once a parsed DAG refers to it)."""
        found = self.request("GET", "/api/v2/assets", params={"uri_pattern": uri, "limit": 100})
        return next((asset["id"] for asset in found["assets"] if asset["uri"] == uri), None)

    def create_asset_event(self, asset_id: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """An asset event, as if a task had produced the asset: DAGs scheduled on it get a run."""
        return self.request("POST", "/api/v2/assets/events",  # type: ignore[no-any-return]
                            json={"asset_id": asset_id, "extra": extra or {}})

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Start a DAG run now (named ``run_id``, else as Airflow names manual runs); returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")  # type: ignore[no-any-return]

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns",  # type: ignore[no-any-return]
                            params={"order_by": "-run_after", "limit": 100})["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float, poll: float = 0.5) -> dict[str, Any]:
        """The run once it has finished (success or failed); raises after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(poll)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                             params={"deserialize": True})
        return entry["value"]
