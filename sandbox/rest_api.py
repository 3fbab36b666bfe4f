"""A plain JSON-over-HTTP API, as marketplaces, delivery services and cloud PBXs offer: the counterpart of the
declarative ``rest`` connector in the demo and the tests (real sockets, an ephemeral port).

One collection of products (``/api/products``), served with one auth style and one paging style chosen per
instance, so a test proves each is really used:

- auth: ``bearer`` (a fixed token), ``basic``, ``api_key_header`` (``X-API-Key``), ``api_key_query``
  (``?api_key=``), ``oauth2`` (client credentials at ``POST /oauth/token``; tokens expire after ``token_ttl``
  requests, then the API answers 401 and a client must fetch a new one);
- paging: ``page`` (``page``/``per_page``), ``offset`` (``offset``/``limit``), ``cursor`` (``cursor``/``limit``,
  the next one in ``meta.next_cursor``), ``link`` (RFC 8288 ``Link: <...>; rel="next"``);
- ``?updated_since=`` returns what changed after a time (items in (updated_at, id) order);
- ``GET ?sku=`` finds by article, ``POST`` creates (422 for a record without a name), ``PATCH /{id}`` updates;
- faults queued in ``faults``: ``"500"`` (an HTML error page), ``"429"`` (with ``Retry-After``), ``"timeout"``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

AuthStyle = Literal["none", "bearer", "basic", "api_key_header", "api_key_query", "oauth2"]
PagingStyle = Literal["page", "offset", "cursor", "link"]
TOKEN = "s3cr3t-token"  # bearer token, API key, basic password and OAuth2 client secret of the sandbox
CLIENT_ID = "hub"
BASE_TIME = dt.datetime(2025, 3, 1)


@dataclass
class RestApi:
    auth: AuthStyle = "bearer"
    paging: PagingStyle = "cursor"
    token_ttl: int = 1_000_000  # requests an OAuth2 token is good for
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # "METHOD path?query" of every API request
    tokens_issued: int = 0
    clock: int = 0  # updated_at of the next change: a counter, so tests never depend on the wall clock
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, int] = field(default_factory=dict)  # oauth2 token -> requests left
    _server: ThreadingHTTPServer | None = None

    # -- data

    def add(self, sku: str, name: str, price: str) -> dict[str, Any]:
        with self.lock:
            return self._save(None, {"sku": sku, "name": name, "price": price})

    def _save(self, item_id: int | None, values: dict[str, Any]) -> dict[str, Any]:
        self.clock += 1
        item_id = item_id or (max(self.items, default=0) + 1)
        moment = BASE_TIME + dt.timedelta(seconds=self.clock)
        item = {**self.items.get(item_id, {}), **values, "id": item_id,
                "updated_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.items[item_id] = item
        return item

    # -- lifecycle

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on 127.0.0.1 (a free port); yields the base URL."""
        api = self

        class Handler(_Handler):
            pass

        Handler.api = api
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def connection(self, base_url: str) -> dict[str, Any]:
        """An Airflow connection (JSON form) for a client of this API."""
        host, port = base_url.removeprefix("http://").split(":")
        login = CLIENT_ID if self.auth in ("basic", "oauth2") else None
        return {"conn_type": "hub_rest", "host": host, "port": int(port), "login": login,
                "password": TOKEN if self.auth != "none" else None}


class _Handler(BaseHTTPRequestHandler):
    api: RestApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/oauth/token" and method == "POST":
            return self._token()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        api = self.api
        with api.lock:
            api.requests.append(f"{method} {self.path}")
            fault = api.faults.pop(0) if api.faults else None
        if fault == "timeout":
            time.sleep(1.5)
            return self._send(200, {"data": []})
        if fault == "500":
            return self._send(500, "<html><body><h1>500 Internal Server Error</h1>nginx</body></html>",
                              content_type="text/html")
        if fault == "429":
            return self._send(429, {"error": "too many requests"}, headers={"Retry-After": "1"})
        if not self._authorized(query):
            return self._send(401, {"error": "unauthorized"})
        with api.lock:
            if url.path == "/api/products" and method == "GET":
                return self._list(query)
            if url.path == "/api/products" and method == "POST":
                return self._create(body)
            if url.path.startswith("/api/products/") and method == "PATCH":
                return self._update(int(url.path.rsplit("/", 1)[1]), body)
        return self._send(404, {"error": "not found"})

    # -- auth

    def _token(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        basic = self._basic()
        client = basic or (form.get("client_id"), form.get("client_secret"))
        if form.get("grant_type") != "client_credentials" or client != (CLIENT_ID, TOKEN):
            return self._send(401, {"error": "invalid_client"})
        with self.api.lock:
            self.api.tokens_issued += 1
            token = f"tok-{self.api.tokens_issued}"
            self.api._tokens[token] = self.api.token_ttl
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _authorized(self, query: dict[str, str]) -> bool:
        api, header = self.api, self.headers.get("Authorization", "")
        if api.auth == "none":
            return True
        if api.auth == "bearer":
            return header == f"Bearer {TOKEN}"
        if api.auth == "basic":
            return self._basic() == (CLIENT_ID, TOKEN)
        if api.auth == "api_key_header":
            return self.headers.get("X-API-Key") == TOKEN
        if api.auth == "api_key_query":
            return query.get("api_key") == TOKEN
        token = header.removeprefix("Bearer ")
        with api.lock:
            left = api._tokens.get(token, 0)
            if left <= 0:
                return False
            api._tokens[token] = left - 1
        return True

    # -- the collection

    def _list(self, query: dict[str, str]) -> None:
        api = self.api
        items = sorted(api.items.values(), key=lambda i: (i["updated_at"], i["id"]))
        if "updated_since" in query:
            items = [i for i in items if i["updated_at"] > query["updated_since"]]
        if "sku" in query:
            items = [i for i in items if i["sku"] == query["sku"]]
        if api.paging == "page":
            size, page = int(query.get("per_page", 20)), int(query.get("page", 1))
            chunk = items[(page - 1) * size: page * size]
            return self._send(200, {"data": chunk, "meta": {"page": page, "total_pages": -(-len(items) // size)}})
        if api.paging == "offset":
            limit, offset = int(query.get("limit", 20)), int(query.get("offset", 0))
            return self._send(200, {"data": items[offset: offset + limit], "meta": {"total": len(items)}})
        limit = int(query.get("limit", 20))
        start = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
        chunk = items[start: start + limit]
        more = start + limit < len(items)
        if api.paging == "cursor":
            token = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None
            return self._send(200, {"data": chunk, "meta": {"next_cursor": token}})
        headers = {}
        if more:
            following = {**query, "cursor": base64.urlsafe_b64encode(str(start + limit).encode()).decode()}
            headers["Link"] = f'<http://{self.headers["Host"]}/api/products?{urlencode(following)}>; rel="next"'
        self._send(200, chunk, headers=headers)

    def _create(self, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("name"):
            return self._send(422, {"error": "validation failed", "details": {"name": "is required"}})
        self._send(201, self.api._save(None, body))

    def _update(self, item_id: int, body: Any) -> None:
        if item_id not in self.api.items:
            return self._send(404, {"error": "not found"})
        self._send(200, self.api._save(item_id, body or {}))

    def _send(self, status: int, body: Any, *, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
