"""Tilda: the site-wide form webhook (Site settings -> Forms -> Webhook), urlencoded or JSON.

Fields arrive under the names set in the form block (``Name``, ``Phone``, ``Email`` by default) plus
``tranid`` (the submission id, ``"<project>:<number>"``) and ``formid``. With "send cookies" on, a
``COOKIES`` field carries the visitor's cookies; the only thing kept from it is the ``TILDAUTM`` cookie
(``utm_source=...|||utm_medium=...``), Tilda's record of the landing page's UTM tags. Right after a
webhook is connected Tilda sends ``test=test`` and expects 200.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar
from urllib.parse import unquote

from connectors.website.config import Auth, TokenAuth
from connectors.website.formats.base import Data, Paths, SenderFormat, as_text


class Tilda(SenderFormat):
    name = "tilda"
    label = "Tilda (form webhook, urlencoded or JSON)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("tranid",),
        "form_id": ("formid",),
        "form_name": ("formname", "form_name"),
        "name": ("Name", "Имя", "fio", "ФИО"),
        "phone": ("Phone", "Телефон", "tel"),
        "email": ("Email", "E-mail", "Почта"),
        "comment": ("Comments", "Comment", "Textarea", "Message", "Комментарий", "Сообщение"),
        "page_url": ("referer", "page_url", "pageurl"),
    }
    noise: ClassVar[Paths] = ("tildaspec-*", "formservices*", "test")
    default_auth: ClassVar[Auth] = TokenAuth(header="X-API-Key", query="token", field="X-API-Key")

    def is_test_ping(self, data: Data) -> bool:
        return data.get("test") == "test" and not data.get("tranid")

    def complete(self, values: dict[str, str], data: Data, raw: Data) -> Iterable[str]:
        for tag, value in tilda_utm(as_text(data.get("COOKIES")) or "").items():
            values.setdefault(tag, value)
        return ()


def tilda_utm(cookies: str) -> dict[str, str]:
    """UTM tags from Tilda's ``TILDAUTM`` cookie: ``TILDAUTM=utm_source%3Dvk%7C%7C%7Cutm_medium%3Dcpc``."""
    for cookie in cookies.split(";"):
        name, _, value = cookie.strip().partition("=")
        if name != "TILDAUTM":
            continue
        tags = {}
        for item in unquote(value).split("|||"):
            tag, _, tag_value = item.partition("=")
            tag = tag.strip().lower()
            if tag in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term") and tag_value.strip():
                tags[tag] = tag_value.strip()
        return tags
    return {}
