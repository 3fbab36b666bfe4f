"""A plain HTML form (or any sender without a format of its own): fields under the names the form uses.

Posted urlencoded or multipart by a server-side relay, or JSON. A hidden ``submission_id`` (a UUID made in
the page when the form is shown) makes retries and double clicks exact duplicates.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.website.formats.base import Paths, SenderFormat


class PlainForm(SenderFormat):
    name = "plain"
    label = "Plain HTML form or JSON (field names configurable)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("submission_id", "request_id"),
        "form_id": ("form_id", "form"),
        "form_name": ("form_name",),
        "submitted_at": ("submitted_at", "created_at"),
        "name": ("name", "fio", "full_name", "Имя"),
        "phone": ("phone", "tel", "telephone", "Телефон"),
        "email": ("email", "e-mail", "mail"),
        "comment": ("message", "comment", "text", "question"),
        "page_url": ("page_url", "page", "url", "referrer", "referer"),
    }
