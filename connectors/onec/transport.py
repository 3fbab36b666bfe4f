"""HTTP to a 1C publication: one keep-alive session, Basic auth encoded as UTF-8, responses checked before
they are parsed, 1C's errors turned into :mod:`hub.errors` classes, and retries for idempotent requests.

Why each rule (reference §2.6, §2.7, §3):

* ``requests.auth.HTTPBasicAuth`` encodes ``str`` credentials as latin-1 and fails on Cyrillic logins;
  the header is built here from UTF-8 bytes instead.
* A publication that is misconfigured or behind a portal can answer **200 with an HTML page**: a body is
  parsed only if its content type says JSON (or XML/text where that is what was asked for).
* Network errors, 502/503/504, an HTML page with status 200 and a **plain 500** (no ``odata.error`` body:
  the web server's error page, a platform failure, a licence or session limit) are transient. They are
  retried only for idempotent requests (GET, PATCH with the same body, Post/Unpost, deletion marks); for
  a create the caller must first find out whether 1C applied it (:class:`UncertainWrite`).
* 412 answers ``If-Match`` with a stale ``DataVersion`` (where the server honours it): someone saved the
  object since we read it (:class:`~hub.errors.ConcurrentEdit`, the runner re-plans the record).
* HTTP 500 with ``odata.error.code = "-1"`` is 1C's business logic refusing the object: a record-level
  :class:`~hub.errors.BusinessError` carrying 1C's own message, never retried.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from hub.connections import Connection
from hub.connector import RetryObserver
from hub.errors import (
    AuthError,
    BusinessError,
    ConcurrentEdit,
    ConfigError,
    DataError,
    FatalError,
    HubError,
    RetriableError,
)
from hub.settings import RetryPolicy

T = TypeVar("T")
TRANSIENT_STATUS = {502, 503, 504}
#: odata.error codes that mean "this record's values are wrong" (reference §2.6)
RECORD_CODES = {"1", "4", "5", "7", "15", "16"}
#: codes that mean "the request is wrong": a mapping or connector problem, not a record's
REQUEST_CODES = {"0", "2", "3", "6", "8", "10", "11", "12", "13", "14", "17", "19", "21"}


class UncertainWrite(RetriableError):
    """A non-idempotent request failed in transit: 1C may or may not have applied it.

    ``timed_out``: no answer within the timeout, so 1C may still be working on it (not applied *yet*)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def basic_auth_header(login: str, password: str) -> str:
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def session_for(connection: Connection) -> requests.Session:
    """A session that logs in as the connection's 1C user (UTF-8 Basic auth) and checks TLS as configured.

    ``extra.verify``: true/false (a URI-form connection gives the text ``"false"``) or a CA bundle path."""
    if not connection.login:
        raise ConfigError(f"connection {connection.describe()}: a 1C user (login) is required")
    session = requests.Session()
    session.headers["Authorization"] = basic_auth_header(connection.login, connection.secret)
    verify = connection.extra.get("verify", True)
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = verify.lower() == "true"
    session.verify = verify if isinstance(verify, str) else bool(verify)  # text left: a CA bundle path
    return session


def retrying(policy: RetryPolicy, fn: Callable[[], T], on_retry: RetryObserver | None = None, during: str = "") -> T:
    """``fn`` retried on :class:`RetriableError` with exponential backoff (the hub's retry policy), each retry
    told to ``on_retry`` (the run logs and counts it); not on :class:`ConcurrentEdit`: the same request would
    meet the same newer object, the record needs a new plan."""
    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            cause = state.outcome.exception() if state.outcome else None
            on_retry(during, state.attempt_number, cause, state.next_action.sleep if state.next_action else 0.0)

    for attempt in Retrying(retry=retry_if_exception_type(RetriableError) & retry_if_not_exception_type(ConcurrentEdit),
                            reraise=True,
                            stop=stop_after_attempt(policy.attempts),
                            wait=wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait),
                            before_sleep=before_sleep):
        with attempt:
            return fn()
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class OneCError:
    """An ``odata.error`` body."""

    code: str
    message: str


class HttpClient:
    """A session to one 1C server. ``where`` names it in messages (never the password)."""

    def __init__(self, connection: Connection, retry: RetryPolicy, timeout: float = 120.0,
                 on_retry: RetryObserver | None = None):
        self.session = session_for(connection)
        self.on_retry = on_retry
        self.where = connection.describe()
        self.login = connection.login
        self.retry = retry
        self.timeout = (min(10.0, timeout), timeout)
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))
        self.session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))

    def close(self) -> None:
        self.session.close()

    # -- requests

    def get_json(self, url: str, params: dict[str, str] | None = None, what: str = "") -> Any:
        response = self.call("GET", url, params=params, idempotent=True, what=what)
        return self.json(response, what)

    def get_text(self, url: str, params: dict[str, str] | None = None, what: str = "") -> str:
        response = self.call("GET", url, params=params, idempotent=True, what=what, expect="text")
        return response.content.decode("utf-8")

    def call(self, method: str, url: str, *, params: dict[str, str] | None = None, body: Any = None,
             idempotent: bool, what: str = "", headers: dict[str, str] | None = None,
             expect: str = "json") -> requests.Response:
        """One request, retried while transient if ``idempotent``; raises hub errors."""
        def once() -> requests.Response:
            return self._once(method, url, params, body, idempotent, what, headers or {}, expect)

        if not idempotent:
            return once()
        return retrying(self.retry, once, self.on_retry, what or f"{method} {url}")

    def _once(self, method: str, url: str, params: dict[str, str] | None, body: Any, idempotent: bool,
              what: str, headers: dict[str, str], expect: str) -> requests.Response:
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, default=_json_default).encode("utf-8")
            headers = {"Content-Type": "application/json;charset=utf-8", **headers}
        try:
            response = self.session.request(method, url, params=params, data=data, headers=headers,
                                            timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            message = f"{self.where}: {what or method} failed in transit ({type(exc).__name__})"
            if idempotent:
                raise RetriableError(message) from None
            raise UncertainWrite(message, timed_out=isinstance(exc, requests.ReadTimeout)) from None
        self.check(response, what or method, idempotent, expect)
        return response

    # -- response checks

    def check(self, response: requests.Response, what: str, idempotent: bool, expect: str = "json") -> None:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "").lower()
        transient = RetriableError if idempotent else UncertainWrite
        if status in TRANSIENT_STATUS:
            message = f"{self.where}: {what}: HTTP {status} from the web server in front of 1C"
            if idempotent:
                raise RetriableError(message)
            # 504: the proxy stopped waiting, not 1C working; 1C may still be writing, as after a read timeout
            raise UncertainWrite(message, timed_out=status == 504)
        if status == 412:
            raise ConcurrentEdit(f"{self.where}: {what}: the object was saved by someone else since it was read "
                                 "(HTTP 412 to If-Match)")
        error = parse_error(response) if status >= 500 else None
        if status >= 500 and error is None:  # the web server's page, a platform failure, a licence/session limit
            raise transient(f"{self.where}: {what}: HTTP {status} without an OData error body (1C or the web "
                            "server in front of it failed)")
        if "text/html" in content_type:
            if status == 401:
                raise self._auth_error()
            if status < 300:
                raise transient(f"{self.where}: {what}: 1C answered with an HTML page instead of OData "
                                f"(HTTP {status}); check the publication URL and that OData is published")
            raise FatalError(f"{self.where}: {what}: HTTP {status} with an HTML page (is the publication path "
                             f"{response.url.split('?')[0]!r} right?)")
        if status == 401:
            raise self._auth_error()
        if status >= 400:
            raise error_for(status, error or parse_error(response), self.where, what)
        if status == 204 or not response.content:
            return
        if expect == "json" and "json" not in content_type:
            raise transient(f"{self.where}: {what}: expected JSON, got {content_type or 'no content type'} "
                            "(did the request lose $format=json?)")

    def json(self, response: requests.Response, what: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise RetriableError(f"{self.where}: {what}: the response is not valid JSON") from None

    def _auth_error(self) -> AuthError:
        return AuthError(f"{self.where}: 1C refused user {self.login!r} (HTTP 401): check the login and password "
                         "of the connection and that the user may use the OData interface")


def parse_error(response: requests.Response) -> OneCError | None:
    """The ``odata.error`` in a JSON or XML body, if there is one."""
    text = response.content.decode("utf-8", "replace")
    try:
        error = json.loads(text).get("odata.error")
        if isinstance(error, dict):
            message = error.get("message")
            value = message.get("value") if isinstance(message, dict) else message
            return OneCError(str(error.get("code", "")), str(value or ""))
    except (ValueError, AttributeError):
        pass
    if "<m:error" in text or "<error" in text:
        try:
            root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return None
        parts = {etree.QName(el).localname: (el.text or "") for el in root.iter() if isinstance(el.tag, str)}
        return OneCError(parts.get("code", ""), parts.get("message", ""))
    return None


def error_for(status: int, error: OneCError | None, where: str, what: str) -> HubError:
    """The hub error for an HTTP error status and 1C's ``odata.error`` (table-driven, reference §2.6)."""
    if error is None:
        if status >= 500:  # a plain 500: the web server's page, a platform failure, a licence/session limit
            return RetriableError(f"{where}: {what}: HTTP {status} without an OData error body")
        return ConfigError(f"{where}: {what}: HTTP {status}")
    text = f"1C error {error.code}: {error.message}"
    if error.code == "-1":
        return BusinessError(f"{what}: {text}")
    if error.code == "20" or status == 403:
        return AuthError(f"{where}: {what}: access denied ({text}); the 1C user lacks rights")
    if error.code in RECORD_CODES:
        return DataError(f"{what}: {text}")
    if error.code == "9":
        return NotFound(f"{what}: {text}")
    if error.code in REQUEST_CODES or status < 500:
        return ConfigError(f"{where}: {what}: {text}")
    return FatalError(f"{where}: {what}: HTTP {status}, {text}")


class NotFound(DataError):
    """Code 9: the object does not exist (deleted in 1C)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot send a {type(value).__name__} to 1C")
