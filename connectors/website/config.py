"""What a mapping says about its website form sources (``source.options`` of a ``website`` source).

One exchange lists every form source of a site; each becomes an intake endpoint (``POST /forms/<name>``)
or, in poll mode, an API the connector reads by cursor. The model is strict: a typo is an error that
``hub validate`` reports with the file, the line and the field path. Secrets are never here: each source
names a ``hub_website`` connection whose password is its token or HMAC secret (or, in poll mode, the
site API's credentials).

Example::

    options:
      sources:
        tilda:
          format: tilda
          connection: website_tilda        # password = the token in the webhook URL (?token=...)
        shop_api:
          format: plain
          mode: poll
          connection: website_shop_api     # host/port/schema = the API, password = its bearer token
          poll: {path: /api/form-submissions, items: items, cursor_field: id}
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SenderFormatName = Literal[
    "tilda", "cf7", "elementor", "gravity_forms", "wpforms", "bitrix", "yandex_forms", "marquiz",
    "google_forms", "plain",
]
Mode = Literal["webhook", "poll"]
#: the fields of a normalized submission that a source may map from sender fields
NormalizedField = Literal[
    "submission_id", "submitted_at", "name", "phone", "email", "comment", "form_id", "form_name", "page_url",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "sender_ip", "user_agent",
]
NORMALIZED_FIELDS: tuple[NormalizedField, ...] = NormalizedField.__args__  # type: ignore[attr-defined]

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")  # keys stay within 64 characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenAuth(_Strict):
    """A shared secret sent with every request, compared in constant time."""

    method: Literal["token"] = "token"
    header: str | None = Field("X-Hub-Token", description="request header holding the token "
                               "('Authorization: Bearer <token>' is accepted as well)")
    query: str | None = Field("token", description="query parameter holding the token (senders that can only "
                              "be given a URL, such as Tilda)")
    field: str | None = Field(None, description="body field holding the token (Tilda's 'API key in the body'); "
                              "it is removed before anything is stored")

    @model_validator(mode="after")
    def _somewhere(self) -> TokenAuth:
        if not (self.header or self.query or self.field):
            raise ValueError("a token must be accepted from a header, a query parameter or a body field")
        return self


class HmacAuth(_Strict):
    """An HMAC of the raw body (or, ``timestamped``, of ``<t>.<body>``) keyed with the source's secret."""

    method: Literal["hmac"]
    header: str = Field("X-Signature", description="request header holding the signature")
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("", description="text before the signature, e.g. 'sha256='")
    scheme: Literal["body", "timestamped"] = Field(
        "body", description="body: the signature covers the raw body; timestamped: the header is "
        "'t=<unix time>,v=<signature>' over '<t>.<raw body>' (WPForms Webhooks, Stripe), and old times are refused")
    tolerance: int = Field(300, ge=1, le=86_400, description="timestamped: seconds a signature stays valid")


Auth = Annotated[TokenAuth | HmacAuth, Field(discriminator="method")]


class Limits(_Strict):
    """What one request may carry; anything over a limit gets a 4xx saying which limit."""

    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_depth: int = Field(16, ge=2, le=64, description="nesting of objects/arrays (JSON) or [brackets] (forms)")
    max_fields: int = Field(500, ge=1, le=100_000, description="values in one submission")
    max_field_chars: int = Field(20_000, ge=16, le=10_000_000, description="characters in one value")
    max_in_flight: int = Field(100, ge=1, le=100_000, description="requests to this source being read, parsed or "
                               "committed at once; more are answered 503 with Retry-After (slow senders cannot "
                               "hold every connection)")


class RateLimit(_Strict):
    """Requests per client address (a token bucket): a flood from one address gets 429, others are served."""

    per_minute: int = Field(600, ge=1)
    burst: int = Field(60, ge=1)


class PollSpec(_Strict):
    """Reading submissions from a site's JSON API (poll mode): ``GET <base>/<path>?<cursor_param>=<last>``."""

    path: str = Field(description="path under the connection's base URL, e.g. /api/form-submissions")
    items: str = Field("items", description="where the list is in the response: a key path with '/' "
                       "('data/items'), or '' when the response is the list itself")
    cursor_field: str = Field("id", description="item field that grows with every new submission")
    cursor_param: str = Field("after", description="query parameter that takes the last cursor value")
    limit_param: str | None = Field("limit", description="query parameter for the page size (null: none)")
    page_size: int = Field(100, ge=1, le=10_000)
    timeout: float = Field(10.0, gt=0, le=300)


class FormSource(_Strict):
    format: SenderFormatName = Field(description="the sender: which payload shape and defaults to expect")
    mode: Mode = "webhook"
    connection: str = Field(description="hub_website connection: its password is the token / HMAC secret "
                            "(webhook) or the API credential (poll)")
    description: str | None = None
    auth: Auth | None = Field(None, description="how requests prove they come from this sender "
                              "(default: the format's usual way, e.g. ?token= for Tilda)")
    fields: dict[NormalizedField, list[str]] = Field(
        default_factory=dict,
        description="which sender fields mean what, tried in order; a field is a key, a path with '/' "
        "('contacts/phone'), or a pattern with * ('form_email_*'). Replaces the format's default for that field")
    drop: list[str] = Field(default_factory=list, description="more sender fields never stored (patterns with *)")
    keep_answers: bool = Field(True, description="store the sender's other fields (quiz answers, custom fields) "
                               "as question/answer pairs; false: only the normalized fields")
    dedup_window: int = Field(600, ge=1, le=30 * 86_400, description="seconds within which the same content "
                              "from a sender without submission ids counts as a duplicate")
    limits: Limits = Limits()
    rate_limit: RateLimit = RateLimit()
    poll: PollSpec | None = None

    _lists = field_validator("fields", mode="before")(
        lambda v: {k: [x] if isinstance(x, str) else x for k, x in v.items()} if isinstance(v, dict) else v)

    @model_validator(mode="after")
    def _coherent(self) -> FormSource:
        if self.mode == "poll" and self.poll is None:
            raise ValueError("mode 'poll' needs 'poll: {path: ...}'")
        if self.mode == "webhook" and self.poll is not None:
            raise ValueError("'poll' is only for mode 'poll'")
        if self.mode == "poll" and self.auth is not None:
            raise ValueError("'auth' is for webhooks; a polled API's credentials are in the connection")
        return self


class WebsiteOptions(_Strict):
    """``source.options`` of an exchange whose source is the ``website`` connector."""

    sources: dict[str, FormSource] = Field(min_length=1, description="form sources by name; the name is the "
                                           "endpoint path (/forms/<name>) and part of every submission key")

    @field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, FormSource]) -> dict[str, FormSource]:
        for name in value:
            if not SOURCE_NAME.match(name):
                raise ValueError(f"source name {name!r} must be lower-case letters, digits, '_' or '-' "
                                 "(it becomes a URL path), starting with a letter, at most 24 characters")
        return value

    def webhooks(self) -> dict[str, FormSource]:
        return {name: source for name, source in self.sources.items() if source.mode == "webhook"}

    def polls(self) -> dict[str, FormSource]:
        return {name: source for name, source in self.sources.items() if source.mode == "poll"}
