"""The 1C web-service connector (``onec_soap``): an operation of a 1C SOAP service as a source stream.

The stream is the operation name (Cyrillic is fine); the mapping's options give its arguments and where
the records are in the result — usually JSON text in ``return`` (reference §5.3). Pitfalls handled
(reference §5.4): the ``?wsdl`` request needs auth too (the session is ready before zeep loads it); Basic
auth is UTF-8; the WSDL advertises 1C's own idea of its address, so the SOAP 1.1 port is rebound to the
connection's URL; ``strict=False`` tolerates 1C's replies; the WSDL is cached on disk
(``<HUB_HOME>/cache/zeep.sqlite``) and the parsed client in the process.

Connection (conn_type ``hub_onec_soap``): host, port, schema = the publication (``buh``), login, password;
extras ``service`` (default web service name), ``scheme``, ``timezone`` (of naive ``xs:dateTime`` and
JSON dates), ``timeout`` (seconds, default 120), ``verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from pydantic import BaseModel
from zeep import Client, Settings
from zeep.cache import SqliteCache
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError, ValidationError, XMLSyntaxError
from zeep.helpers import serialize_object
from zeep.plugins import Plugin
from zeep.proxy import ServiceProxy
from zeep.transports import Transport

from connectors.onec.options import SoapSourceOptions
from connectors.onec.transport import TRANSIENT_STATUS, retrying, session_for
from connectors.onec.values import ZERO_GUID
from hub.connections import Connection
from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, FieldKind, ReadRequest, Record, SourceBatch
from hub.errors import AuthError, ConfigError, DataError, FatalError, HubError, RetriableError
from hub.settings import HubSettings

#: fault texts of conditions that pass by themselves (1C's lock conflicts and timeouts)
TRANSIENT_FAULTS = ("блокиров", "lock", "таймаут", "timeout", "deadlock")


class SoapConnector(Connector):
    name: ClassVar[str] = "onec_soap"
    capabilities: ClassVar[Capabilities] = Capabilities(incremental=frozenset({"cursor", "hash"}))
    source_options: ClassVar[type[BaseModel]] = SoapSourceOptions

    _clients: ClassVar[dict[tuple[str, str, str], Client]] = {}  # parsed WSDLs, per URL and user
    _clients_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, connection: Connection, settings: HubSettings):
        super().__init__(connection, settings)
        self.zone = connection.zone(settings.timezone)
        if not connection.login:
            raise ConfigError(f"connection {connection.describe()}: a 1C user (login) is required")
        self.where = connection.describe()
        self.timeout = float(connection.extra.get("timeout", 120))
        self.default_service = connection.extra.get("service")

    # -- the service

    def _address(self, service: str) -> str:
        return f"{self.connection.base_url()}/ws/{quote(service, safe='')}.1cws"

    def service(self, name: str | None) -> ServiceProxy:
        name = name or self.default_service
        if not name:
            raise ConfigError(f"{self.where}: name the web service (source.options.service or extra.service)")
        address = self._address(name)
        # per user and password: a connection with other credentials must not reuse an authenticated client
        key = (address, self.connection.login or "", hashlib.sha256(self.connection.secret.encode()).hexdigest())
        with self._clients_lock:
            client = self._clients.get(key)
        if client is None:
            client = retrying(self.settings.retry, lambda: self._load(address + "?wsdl"), self.retried,
                              f"load the WSDL of {name!r}")
            with self._clients_lock:
                self._clients[key] = client
        binding = next((b for b in client.wsdl.bindings.values() if type(b).__name__ == "Soap11Binding"), None)
        if binding is None:
            raise ConfigError(f"{self.where}: the WSDL of {name!r} has no SOAP 1.1 binding")
        service: ServiceProxy = client.create_service(binding.name, address)  # 1C's WSDL names 1C's own host
        return service

    def _load(self, wsdl: str) -> Client:
        session = session_for(self.connection)  # kept with the parsed client, for every call through it
        cache_dir = self.settings.home / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        transport = CheckedTransport(self.where, session=session,
                                     cache=SqliteCache(path=str(cache_dir / "zeep.sqlite"), timeout=3600),
                                     timeout=min(30.0, self.timeout), operation_timeout=self.timeout)
        try:
            return Client(wsdl, transport=transport, settings=Settings(strict=False, xml_huge_tree=True),
                          plugins=[Utf8SoapAction()])
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 401:
                raise AuthError(f"{self.where}: 1C refused user {self.connection.login!r} (HTTP 401)") from None
            if status in TRANSIENT_STATUS:
                raise RetriableError(f"{self.where}: loading the WSDL: HTTP {status}") from None
            raise ConfigError(f"{self.where}: cannot load the WSDL (HTTP {status}); is the service name right?") \
                from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(f"{self.where}: loading the WSDL failed in transit ({type(exc).__name__})") from None
        except (XMLSyntaxError, ZeepError) as exc:
            raise RetriableError(f"{self.where}: the WSDL is not valid XML (an HTML page?): {exc}") from None

    def call(self, service: str | None, operation: str, arguments: dict[str, Any]) -> Any:
        proxy = self.service(service)
        if operation not in dict(iter(proxy)):
            raise ConfigError(f"{self.where}: web service {service or self.default_service!r} has no operation "
                              f"{operation!r}")
        return retrying(self.settings.retry, lambda: self._call_once(proxy, operation, arguments), self.retried,
                        f"call {operation}")

    def _call_once(self, proxy: ServiceProxy, operation: str, arguments: dict[str, Any]) -> Any:
        try:
            return proxy[operation](**arguments)
        except Fault as fault:
            raise classify_fault(fault, f"{self.where}: {operation}") from None
        except TransportError as exc:
            if exc.status_code == 401:
                raise AuthError(f"{self.where}: 1C refused user {self.connection.login!r} (HTTP 401)") from None
            if exc.status_code in TRANSIENT_STATUS or exc.status_code == 200:  # 200 with HTML: a portal page
                raise RetriableError(f"{self.where}: {operation}: HTTP {exc.status_code}") from None
            raise FatalError(f"{self.where}: {operation}: HTTP {exc.status_code}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(f"{self.where}: {operation} failed in transit ({type(exc).__name__})") from None
        except XMLSyntaxError:
            raise RetriableError(f"{self.where}: {operation}: the answer is not a SOAP envelope") from None
        except (ValidationError, TypeError) as exc:
            raise ConfigError(f"{self.where}: {operation}: wrong arguments: {exc}") from None

    # -- the connector interface

    def check(self) -> str:
        proxy = self.service(None)
        return f"{self.where}: web service {self.default_service!r} answers, operations: {', '.join(dict(iter(proxy)))}"

    def describe(self, entity: str) -> EntityInfo | None:
        operations = dict(iter(self.service(None)))
        if entity not in operations:
            return None
        # records are JSON text: their fields are not in the WSDL, so any name is accepted ("*")
        return EntityInfo(entity, {"*": FieldInfo("*", "any")})

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        options = request.options if isinstance(request.options, SoapSourceOptions) else SoapSourceOptions()
        cursor = request.incremental.cursor if request.incremental.strategy == "cursor" else None
        saved = request.checkpoint if isinstance(request.checkpoint, dict) else {}
        arguments = self._arguments(options, saved.get("cursor"), request.incremental.lookback, cursor)
        records = self._records(self.call(options.service, request.stream, arguments), options)
        if cursor:
            records.sort(key=lambda r: (r.get(cursor) is None, r.get(cursor) or 0))
        start = 0 if cursor else int(saved.get("offset", 0))
        best = saved.get("cursor")
        if start >= len(records) or not records:
            yield SourceBatch([], {"cursor": best} if cursor else None)
            return
        for offset in range(start, len(records), request.batch_size):
            chunk = records[offset:offset + request.batch_size]
            end = offset + len(chunk)
            if cursor:
                values = [value for r in chunk if (value := r.get(cursor)) is not None]
                if values:
                    top = max(values)
                    best = _encode(top) if best is None or top > _decode(best) else best
                yield SourceBatch(chunk, {"cursor": best})
            else:
                yield SourceBatch(chunk, {"offset": end} if end < len(records) else None)

    # -- records

    def _arguments(self, options: SoapSourceOptions, saved: Any, lookback: int, cursor: str | None) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for name, value in options.arguments.items():
            if value == "$cursor":
                if cursor is None:
                    raise ConfigError("source.options.arguments: '$cursor' needs incremental strategy 'cursor'")
                arguments[name] = self._cursor_argument(saved, options.start, lookback)
            elif isinstance(value, str) and _looks_like_datetime(value):
                arguments[name] = dt.datetime.fromisoformat(value)
            else:
                arguments[name] = value
        return arguments

    def _cursor_argument(self, saved: Any, start: str | None, lookback: int) -> Any:
        if saved is None:
            if start is None:
                raise ConfigError("source.options.start: the first run needs a start value for '$cursor'")
            return dt.datetime.fromisoformat(start) if _looks_like_datetime(start) else start
        value = _decode(saved)
        if isinstance(value, dt.datetime):
            return (value - dt.timedelta(seconds=lookback)).astimezone(self.zone).replace(tzinfo=None)
        return value

    def _records(self, result: Any, options: SoapSourceOptions) -> list[Record]:
        if options.json_result:
            if not isinstance(result, str):
                raise DataError(f"{self.where}: expected JSON text in 'return', got {type(result).__name__}")
            try:
                data = json.loads(result, parse_float=Decimal)
            except ValueError as exc:
                raise FatalError(f"{self.where}: the operation's result is not JSON: {exc}") from None
        else:
            data = serialize_object(result, dict)
        for step in [s for s in options.records.split(".") if s]:
            if not isinstance(data, dict) or step not in data:
                raise ConfigError(f"{self.where}: source.options.records: the result has no {step!r}")
            data = data[step]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ConfigError(f"{self.where}: source.options.records must lead to a list of records")
        return [self._convert(r, options.fields) for r in data]

    def _convert(self, record: Record, kinds: dict[str, FieldKind]) -> Record:
        for name, kind in kinds.items():
            if name in record:
                try:
                    record[name] = convert(record[name], kind, self.zone)
                except (ValueError, TypeError, ArithmeticError):  # the parsers' messages quote the value
                    raise DataError(f"{self.where}: source.options.fields.{name}: a value from 1C is not a "
                                    f"{kind}") from None
        return record


class CheckedTransport(Transport):
    """zeep's transport, with the answer checked before zeep parses it (reference §2.6): a 502/503/504 from
    the web server or an HTML page (even with status 200) is transient, a 401 is an authentication error."""

    def __init__(self, where: str, **kwargs: Any):
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # zeep has no annotations
        self.where = where

    def post(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        response: requests.Response = super().post(address, message, headers)  # type: ignore[no-untyped-call]
        status, content_type = response.status_code, response.headers.get("Content-Type", "").lower()
        if status == 401:
            raise AuthError(f"{self.where}: 1C refused the user (HTTP 401)")
        if status in TRANSIENT_STATUS:
            raise RetriableError(f"{self.where}: HTTP {status} from the web server in front of 1C")
        if "text/html" in content_type:
            raise RetriableError(f"{self.where}: 1C answered with an HTML page (HTTP {status}) instead of SOAP")
        return response


class Utf8SoapAction(Plugin):
    """1C puts the (often Cyrillic) operation name into ``soapAction``; HTTP headers are latin-1 in
    ``http.client``, so the header is sent as raw UTF-8 bytes, as 1C's own and .NET clients send it."""

    def egress(self, envelope: Any, http_headers: dict[str, str], operation: Any, binding_options: Any) -> Any:
        action = http_headers.get("SOAPAction")
        if action and not action.isascii():
            http_headers["SOAPAction"] = action.encode("utf-8").decode("latin-1")
        content_type = http_headers.get("Content-Type", "")
        if 'action="' in content_type and not content_type.isascii():  # SOAP 1.2 carries it here
            http_headers["Content-Type"] = content_type.encode("utf-8").decode("latin-1")
        return envelope, http_headers


def convert(value: Any, kind: FieldKind, zone: ZoneInfo) -> Any:
    """A JSON value from a 1C web service in the declared hub type."""
    if value is None or value == "":
        return None
    if kind == "uuid":
        return None if value == ZERO_GUID else str(value).lower()
    if kind == "datetime":
        parsed = dt.datetime.fromisoformat(str(value))
        return None if parsed.year == 1 else parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    if kind == "date":
        parsed = dt.datetime.fromisoformat(str(value))
        return None if parsed.year == 1 else parsed.date()
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "да", "истина")
    if kind == "string":
        return str(value)
    return value


def classify_fault(fault: Fault, what: str) -> HubError:
    """A SOAP Fault as a hub error: a client fault is our mistake, a lock conflict passes, the rest stops."""
    message = " ".join(str(fault.message or "").split())
    code = str(fault.code or "")
    if code.endswith(("Client", "Sender")):
        return ConfigError(f"{what}: 1C rejected the call: {message}")
    if any(word in message.lower() for word in TRANSIENT_FAULTS):
        return RetriableError(f"{what}: {message}")
    return FatalError(f"{what}: the 1C web service failed: {message}")


def _looks_like_datetime(text: str) -> bool:
    return len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _decode(value: Any) -> Any:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and _looks_like_datetime(value) else value
