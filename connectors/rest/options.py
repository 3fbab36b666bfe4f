"""What a mapping declares about an API (``source.options`` / ``target.options``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AuthType = Literal["none", "bearer", "basic", "api_key", "oauth2"]
PagingType = Literal["none", "page", "offset", "cursor", "link"]
Method = Literal["POST", "PUT", "PATCH"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Auth(_Strict):
    type: AuthType = Field("none", description="the secret is the connection's password (login: user/client id)")
    header: str | None = Field(None, description="api_key: the header carrying it (default X-API-Key)")
    query: str | None = Field(None, description="api_key: the query parameter carrying it instead of a header")
    token_url: str = Field("/oauth/token", description="oauth2: where client credentials get a token")
    scope: str | None = None


class Paging(_Strict):
    type: PagingType = "none"
    size: int | None = Field(None, ge=1, le=10_000, description="records per page (default: the batch size)")
    page_param: str = "page"
    first_page: int = 1
    size_param: str | None = Field(None, description="default: per_page (page), limit (offset, cursor)")
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_cursor: str = Field("meta.next_cursor", description="cursor: the dotted path to the next cursor in a page")


class _Api(_Strict):
    base_url: str | None = Field(None, description="default: the connection's scheme://host:port/schema")
    auth: Auth = Auth()
    timeout: float = Field(30.0, gt=0, description="seconds to wait for an answer")
    max_retry_after: float = Field(120.0, ge=0, description="the longest Retry-After (429) waited for")


class RestSourceOptions(_Api):
    records: str | None = Field(None, description="the dotted path to the list in a page (default: the page is it)")
    params: dict[str, str] = Field(default_factory=dict, description="query parameters sent with every page")
    paging: Paging = Paging()
    since_param: str | None = Field(
        None, description="incremental cursor: the query parameter given the highest cursor value read so far")


class Call(_Strict):
    method: Method
    path: str | None = Field(None, description="a template: {id} is the target's id, {field} a record value")


class RestTargetOptions(_Api):
    create: Call = Call(method="POST")
    update: Call = Call(method="PATCH", path="{entity}/{id}")
    lookup_records: str | None = Field(None, description="the dotted path to the list a lookup (GET ?field=value) "
                                       "answers with (default: the answer is it)")
