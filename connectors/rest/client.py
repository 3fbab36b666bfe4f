"""HTTP to one API: auth applied to every request, answers turned into hub errors, retries with the hub's
policy, 429 waited out as long as Retry-After says (up to a cap).

Classes: timeouts, connection errors, 5xx and 429 are transient (:class:`~hub.errors.RetriableError`); 401/403
is :class:`~hub.errors.AuthError` (after one new OAuth2 token); another 4xx is the request's fault - for a
write, the record's (:class:`~hub.errors.BusinessError`, with the API's message), for a read the mapping's
(:class:`~hub.errors.FatalError`). Messages name the method, the path and the status, never a secret or an
HTML page.
"""

from __future__ import annotations

import base64
import email.utils
import time
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connectors.rest.options import Auth
from hub.connections import Connection
from hub.errors import AuthError, BusinessError, ConfigError, FatalError, RetriableError
from hub.logs import get_logger
from hub.settings import RetryPolicy

log = get_logger("hub.rest")


class RateLimited(RetriableError):
    def __init__(self, message: str, wait: float):
        super().__init__(message)
        self.wait = wait


class ApiClient:
    def __init__(self, connection: Connection, base_url: str | None, auth: Auth, timeout: float,
                 retry: RetryPolicy, max_retry_after: float):
        self.where = connection.describe()
        self.connection = connection
        self.auth = auth
        self.retry = retry
        self.max_retry_after = max_retry_after
        self.http = httpx.Client(base_url=base_url or connection.base_url(), timeout=timeout)
        self.token: str | None = None
        if auth.type != "none" and not connection.secret:
            raise ConfigError(f"connection {self.where}: auth {auth.type} needs the secret as the password")
        if auth.type in ("basic", "oauth2") and not connection.login:
            raise ConfigError(f"connection {self.where}: auth {auth.type} needs the login (user or client id)")

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                write: bool = False) -> httpx.Response:
        """One request with retries (a write is retried only where the API cannot have applied it: 429)."""
        retrying = Retrying(retry=retry_if_exception_type(RetriableError), reraise=True,
                            stop=stop_after_attempt(self.retry.attempts), wait=self._wait, before_sleep=self._note)
        for attempt in retrying:
            with attempt:
                return self._once(method, path, params, body, write)
        raise AssertionError("unreachable")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited):
            return error.wait
        return float(wait_exponential(multiplier=self.retry.initial_wait, max=self.retry.max_wait)(state))

    def _note(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("retrying after a transient failure", api=self.where, attempt=state.attempt_number,
                    cause=f"{type(error).__name__}: {error}")

    def _once(self, method: str, path: str, params: dict[str, Any] | None, body: Any, write: bool) -> httpx.Response:
        what = f"{method} {path.split('?')[0]}"
        refreshed = False
        while True:
            try:
                response = self.http.request(method, path, params=self._params(params), json=body,
                                             headers=self._headers())
            except httpx.TimeoutException:
                raise RetriableError(f"{self.where}: {what}: no answer within {self.http.timeout.read}s") from None
            except httpx.TransportError as exc:
                raise RetriableError(f"{self.where}: {what}: failed in transit ({type(exc).__name__})") from None
            if response.status_code == 401 and self.auth.type == "oauth2" and not refreshed:
                self.token, refreshed = None, True  # expired or revoked: one new token, then it is the credentials
                continue
            self._check(response, what, write)
            return response

    def _check(self, response: httpx.Response, what: str, write: bool) -> None:
        status = response.status_code
        if status == 429:
            wait = min(retry_after(response.headers.get("Retry-After")), self.max_retry_after)
            raise RateLimited(f"{self.where}: {what}: HTTP 429 (rate limited, waiting {wait:g}s)", wait)
        if status >= 500:
            raise RetriableError(f"{self.where}: {what}: HTTP {status}{_page_kind(response)}")
        if status in (401, 403):
            raise AuthError(f"{self.where}: {what}: HTTP {status}: the API refused the credentials")
        if status >= 400:
            message = f"{self.where}: {what}: HTTP {status}{_page_kind(response)}{_api_message(response)}"
            raise BusinessError(message) if write else FatalError(message)
        if "html" in response.headers.get("Content-Type", "").lower():
            raise RetriableError(f"{self.where}: {what}: HTTP {status} with an HTML page instead of JSON")

    # -- auth

    def _headers(self) -> dict[str, str]:
        kind, secret = self.auth.type, self.connection.secret
        if kind == "bearer":
            return {"Authorization": f"Bearer {secret}"}
        if kind == "basic":
            pair = f"{self.connection.login or ''}:{secret}".encode()  # UTF-8: Cyrillic logins work
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        if kind == "api_key" and not self.auth.query:
            return {self.auth.header or "X-API-Key": secret}
        if kind == "oauth2":
            return {"Authorization": f"Bearer {self._token()}"}
        return {}

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.auth.type == "api_key" and self.auth.query:
            return {**(params or {}), self.auth.query: self.connection.secret}
        return params

    def _token(self) -> str:
        if self.token is None:
            form = {"grant_type": "client_credentials", "client_id": self.connection.login or "",
                    "client_secret": self.connection.secret, **({"scope": self.auth.scope} if self.auth.scope else {})}
            try:
                response = self.http.post(self.auth.token_url, data=form)
            except httpx.TransportError as exc:
                raise RetriableError(f"{self.where}: getting a token failed in transit ({type(exc).__name__})") \
                    from None
            if response.status_code >= 500:
                raise RetriableError(f"{self.where}: getting a token: HTTP {response.status_code}")
            if response.status_code != 200 or "access_token" not in _json(response):
                raise AuthError(f"{self.where}: getting a token: HTTP {response.status_code}: the client "
                                "credentials were refused")
            self.token = str(_json(response)["access_token"])
        return self.token


def retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date); 1 when absent or unreadable."""
    if not value:
        return 1.0
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, moment.timestamp() - time.time())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _page_kind(response: httpx.Response) -> str:
    return " (an HTML page)" if "html" in response.headers.get("Content-Type", "").lower() else ""


def _api_message(response: httpx.Response) -> str:
    body = _json(response)
    if not body:
        return ""
    text = " ".join(str(body).split())
    return f": {text[:300]}"
