"""Marquiz quizzes, webhook integration (JSON).

``{"contacts": {"name", "phone", "email"}, "quiz": {"id", "name"}, "created": ISO time,
"answers": [{"q": question, "a": answer}], "raw": [...], "result": {...},
"extra": {"utm": {"source", "medium", "name", "content", "term"}, "href", "referrer", "ip", "cookies"}}``.
Marquiz calls the campaign ``utm.name``. The quiz answers become question/answer pairs; a comment the
visitor typed is often only the answer to a question "Комментарий" (``answers/[q=Комментарий]/a``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat, as_text


class Marquiz(SenderFormat):
    name = "marquiz"
    label = "Marquiz quizzes (webhook, JSON)"
    fields: ClassVar[dict[str, Paths]] = {
        "form_id": ("quiz/id",),
        "form_name": ("quiz/name",),
        "submitted_at": ("created",),
        "name": ("contacts/name",),
        "phone": ("contacts/phone",),
        "email": ("contacts/email",),
        "comment": ("contacts/comment", "contacts/text", "answers/[q=Комментарий]/a"),
        "page_url": ("extra/href",),
        "sender_ip": ("extra/ip",),
        "utm_source": ("extra/utm/source",),
        "utm_medium": ("extra/utm/medium",),
        "utm_campaign": ("extra/utm/name", "extra/utm/campaign"),
        "utm_content": ("extra/utm/content",),
        "utm_term": ("extra/utm/term",),
    }
    envelope: ClassVar[Paths] = ("contacts", "quiz", "extra", "created", "raw", "result", "answers")

    def answers(self, data: Data, raw: Data, skip: set[str], noise: Paths) -> Iterator[tuple[str, str]]:
        items = data.get("answers")
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict):
                question, answer = as_text(item.get("q")), as_text(item.get("a"))
                if question and answer:
                    yield question, answer
        result = data.get("result")
        title = as_text(result.get("title")) if isinstance(result, dict) else None
        if title:
            yield "Результат квиза", title
        yield from super().answers(data, raw, skip, noise)
