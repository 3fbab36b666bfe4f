"""Poll mode: read new submissions from a site's JSON API by cursor (``requests``).

``GET <connection base URL>/<path>?<cursor_param>=<last cursor>&<limit_param>=<page size>``; the response
is the list of submissions, or an object holding it (``items: data/items``), oldest first. The cursor is
the last item's ``cursor_field``; a page shorter than the page size is the last one. Credentials come
from the connection: a password alone is a bearer token, login and password are HTTP basic auth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from connectors.website.config import PollSpec
from hub.connections import Connection
from hub.errors import AuthError, FatalError, RetriableError

Page = tuple[list[dict[str, Any]], Any]  # items, the cursor after them


class SiteApi:
    def __init__(self, connection: Connection, spec: PollSpec):
        self.connection = connection
        self.spec = spec
        self.url = connection.base_url().rstrip("/") + "/" + spec.path.lstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if connection.login and connection.password:
            self.session.auth = (connection.login, connection.secret)
        elif connection.password:
            self.session.headers["Authorization"] = f"Bearer {connection.secret}"

    def close(self) -> None:
        self.session.close()

    def pages(self, cursor: Any) -> Iterator[Page]:
        spec = self.spec
        while True:
            params: dict[str, Any] = {}
            if cursor is not None:
                params[spec.cursor_param] = cursor
            if spec.limit_param:
                params[spec.limit_param] = spec.page_size
            items = self._items(self._get(params))
            if not items:
                return
            last = items[-1].get(spec.cursor_field)
            if last is None:
                raise FatalError(f"{self.where}: an item has no {spec.cursor_field!r} (the cursor field)")
            if last == cursor:  # the same page again: asking on would never end
                raise FatalError(f"{self.where}: the API answered the page after {cursor!r} with that item again; "
                                 f"does it take the cursor as the query parameter {spec.cursor_param!r}?")
            yield items, last
            if len(items) < spec.page_size:
                return
            cursor = last

    @property
    def where(self) -> str:
        return f"{self.connection.describe()} {self.spec.path}"

    def _get(self, params: dict[str, Any]) -> Any:
        try:
            response = self.session.get(self.url, params=params, timeout=self.spec.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(f"{self.where}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise FatalError(f"{self.where}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise AuthError(f"{self.where}: the site refused the credentials (HTTP {response.status_code})")
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableError(f"{self.where}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise FatalError(f"{self.where}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise RetriableError(f"{self.where}: the response is not JSON") from None

    def _items(self, data: Any) -> list[dict[str, Any]]:
        for step in filter(None, self.spec.items.split("/")):
            data = data.get(step) if isinstance(data, dict) else None
        if not isinstance(data, list):
            raise FatalError(f"{self.where}: no list at {self.spec.items or 'the top level'!r} in the response")
        return [item for item in data if isinstance(item, dict)]
