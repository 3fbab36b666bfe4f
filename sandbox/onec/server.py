"""The simulator on real HTTP: a threading server with keep-alive, Basic auth decoded as UTF-8 (Cyrillic
logins work), the OData and SOAP publications, and the fault switch applied to every request.

    with OneCSimulator(data=Path("var/onec.db")).start(port=0) as sim:
        sim.url            # http://127.0.0.1:<port>/buh  (the publication root)
        sim.faults = Faults.chaos(0.2)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.onec.business import Business
from sandbox.onec.config import BP30, Configuration
from sandbox.onec.faults import Faults
from sandbox.onec.odata import ODataService, Request, Response
from sandbox.onec.soap import SERVICE, SoapService
from sandbox.onec.store import ObjectStore

PUBLICATION = "buh"
DEFAULT_USERS = {"Интеграция": "Пароль-1С"}
#: what Apache answers when the 1C web extension fails (a platform error, no free licence or session)
ERROR_PAGE = ("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\"><html><head><title>500 Internal Server Error"
              "</title></head><body><h1>Internal Server Error</h1>"
              "<p>Не обнаружено свободной лицензии</p></body></html>")
HTML_PAGE = ("<html><head><title>Ошибка</title></head><body><h1>Сервис временно недоступен</h1>"
             "<p>Публикация информационной базы не найдена или не запущена.</p></body></html>")


class OneCSimulator:
    def __init__(self, data: Path | None = None, users: dict[str, str] | None = None,
                 publication: str = PUBLICATION, faults: Faults | None = None, config: Configuration = BP30):
        self.store = ObjectStore(data, config)
        self.business = Business(self.store)
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.publication = publication
        self.faults = faults or Faults.none()
        self._atom_service_document = False
        self.requests = 0  # every HTTP request received (tests count round trips with it)
        self.writes = 0  # requests that changed data in 1C
        self.log: deque[tuple[str, str]] = deque(maxlen=10_000)  # (method, decoded path?query) of recent requests
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.odata: ODataService | None = None
        self.soap = SoapService(self.store)

    @property
    def atom_service_document(self) -> bool:
        """Answer the service document in Atom only, whatever the client asked for (some publications do)."""
        return self._atom_service_document

    @atom_service_document.setter
    def atom_service_document(self, atom: bool) -> None:
        self._atom_service_document = atom
        if self.odata is not None:
            self.odata.atom_service_document = atom

    # -- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> OneCSimulator:
        handler = type("Handler", (_Handler,), {"simulator": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.odata = ODataService(self.store, self.business, f"{self.url}/odata/standard.odata/")
        self.odata.atom_service_document = self._atom_service_document
        # a short poll: stop() waits up to one interval for the loop to notice (the default 0.5 s, per test)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="onec-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.store.close()

    def __enter__(self) -> OneCSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        assert self._server is not None, "start() the simulator first"
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the simulator first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.publication}"

    def connection(self, kind: str = "odata", login: str | None = None, password: str | None = None) -> dict[str, Any]:
        """An Airflow-shaped connection (JSON form) for this simulator."""
        login = login or next(iter(self.users))
        return {"conn_type": f"hub_onec_{kind}", "host": self.host, "port": self.port, "schema": self.publication,
                "login": login, "password": self.users.get(login, "") if password is None else password,
                "extra": {"timezone": "Europe/Moscow"} if kind == "odata" else {"service": SERVICE}}

    # -- one request

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            login, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.users.get(login) == password


class _Handler(BaseHTTPRequestHandler):
    simulator: OneCSimulator
    protocol_version = "HTTP/1.1"  # keep-alive, as a web server in front of 1C does
    server_version = "Apache/2.4"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + the client's delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_MERGE = do_GET

    def _dispatch(self) -> None:
        sim = self.simulator
        sim.requests += 1
        sim.log.append((self.command, unquote(self.path)))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = sim.faults.before()
        if fault == "slow":
            time.sleep(sim.faults.delay)
        elif fault == "drop":
            return self._drop()
        elif fault == "500":
            return self._send(500, ERROR_PAGE.encode(), "text/html;charset=utf-8")
        elif fault in ("502", "503"):
            return self._send(int(fault), HTML_PAGE.encode(), "text/html;charset=utf-8")
        elif fault == "html200":
            return self._send(200, HTML_PAGE.encode(), "text/html;charset=utf-8")
        elif fault == "504":  # the proxy stops waiting and answers; 1C goes on and applies the request later
            self._send(504, HTML_PAGE.encode(), "text/html;charset=utf-8", {"Connection": "close"})
            self.wfile = io.BytesIO()  # what 1C answers in the end reaches nobody
            time.sleep(sim.faults.delay)
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        prefix = f"/{sim.publication}/"
        if not path.startswith(prefix):
            return self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")
        if not sim.authorized(self.headers.get("Authorization")):
            return self._send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="1C:Enterprise"'})
        rest = path[len(prefix):]
        if rest.startswith("odata/standard.odata"):
            assert sim.odata is not None
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = sim.odata.handle(Request(self.command, rest[len("odata/standard.odata"):], query, headers, body))
            sim.writes += response.wrote
            if response.wrote and sim.faults.lose_response():
                return self._drop()  # 1C applied the write; the client never hears about it
            return self._reply(response)
        if rest.startswith("ws/"):
            return self._soap(rest[3:], parts.query, body)
        return self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")

    def _soap(self, name: str, query: str, body: bytes) -> None:
        service = name.removesuffix(".1cws")
        if service != SERVICE:
            return self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")
        if self.command == "GET" and query.lower() == "wsdl":
            return self._send(200, self.simulator.soap.wsdl(), "text/xml;charset=utf-8")
        if self.command != "POST":
            return self._send(405, b"", "text/plain")
        status, reply, content_type = self.simulator.soap.handle(body, self.headers.get("Content-Type", ""))
        self._send(status, reply, content_type)

    def _reply(self, response: Response) -> None:
        self._send(response.status, response.body, response.content_type, response.headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status in (200, 201):
            self.send_header("DataServiceVersion", "3.0")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _drop(self) -> None:
        """Close the connection without a response (what a client sees when a proxy or 1C dies mid-request)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
