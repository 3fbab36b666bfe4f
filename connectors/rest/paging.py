"""Where the next page is: by page number, offset, a cursor in the page, or the Link header. The state is
JSON-safe (it is part of the checkpoint): a number, a cursor text, or the next URL."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.rest.options import Paging


def dig(body: Any, path: str | None) -> Any:
    for part in (path.split(".") if path else []):
        body = body.get(part) if isinstance(body, dict) else None
    return body


class Pager:
    def __init__(self, paging: Paging, size: int):
        self.paging = paging
        self.size = paging.size or size

    def first(self) -> Any:
        return {"page": self.paging.first_page, "offset": 0}.get(self.paging.type)

    def request(self, path: str, params: dict[str, Any], state: Any) -> tuple[str, dict[str, Any] | None]:
        """The path and query parameters of the page at ``state``."""
        p, kind = self.paging, self.paging.type
        size_param = p.size_param or ("per_page" if kind == "page" else "limit")
        if kind == "page":
            return path, {**params, p.page_param: state, size_param: self.size}
        if kind == "offset":
            return path, {**params, p.offset_param: state, size_param: self.size}
        if kind == "cursor":
            return path, {**params, size_param: self.size, **({p.cursor_param: state} if state else {})}
        if kind == "link":  # the server's own URL for the next page carries every parameter
            return (str(state), None) if state else (path, {**params, size_param: self.size})
        return path, params

    def next(self, state: Any, response: httpx.Response, body: Any, count: int) -> Any:
        """The state of the page after this one; None when this was the last."""
        kind = self.paging.type
        if kind in ("page", "offset"):
            if count < self.size:
                return None
            return state + (1 if kind == "page" else self.size)
        if kind == "cursor":
            return dig(body, self.paging.next_cursor) or None
        if kind == "link":
            following = response.links.get("next", {}).get("url")
            return str(response.url.join(following)) if following else None
        return None
