"""An online shop's JSON API that lists its "request a call" submissions, for poll mode.

``GET /api/form-submissions?after_id=<id>&limit=<n>`` with ``Authorization: Bearer <token>`` answers
``{"items": [...], "has_more": bool}``, oldest first: each item ``{"id", "created_at", "customer": {"name",
"phone", "email"}, "text", "page"}``. A real HTTP server on its own thread (port 0: any free port);
``fail_next`` makes the next requests answer 503, as a site under maintenance does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/api/form-submissions"


@dataclass
class ShopApi:
    token: str
    items: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    requests: int = 0

    def add(self, name: str, phone: str | None, email: str | None, text: str, created_at: str) -> dict[str, Any]:
        item = {"id": len(self.items) + 1, "created_at": created_at, "text": text, "page": "https://shop.example.ru/",
                "customer": {"name": name, "phone": phone, "email": email}}
        self.items.append(item)
        return item

    def page(self, after: int, limit: int) -> dict[str, Any]:
        chosen = [item for item in self.items if item["id"] > after][:limit]
        return {"items": chosen, "has_more": len([i for i in self.items if i["id"] > after]) > limit}


class ShopApiServer:
    def __init__(self, api: ShopApi, host: str = "127.0.0.1", port: int = 0):
        self.api = api
        self.httpd = ThreadingHTTPServer((host, port), _handler(api))
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="shop-api", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def __enter__(self) -> ShopApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(api: ShopApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.requests += 1
            parts = urlsplit(self.path)
            if parts.path != PATH:
                return self._send(404, {"error": "not found"})
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                return self._send(401, {"error": "unauthorized"})
            if api.fail_next > 0:
                api.fail_next -= 1
                return self._send(503, {"error": "maintenance"})
            query = parse_qs(parts.query)
            after = int(query.get("after_id", ["0"])[0])
            limit = min(int(query.get("limit", ["50"])[0]), 500)
            return self._send(200, api.page(after, limit))

        def _send(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            return None

    return Handler
