"""Elementor Pro forms, "Webhook" action (urlencoded, as WordPress's wp_remote_post sends an array).

Simple mode: one field per form field under its *label* (``Name``, ``Email``, ``Message``), the form's
metadata under its labels (``Date``, ``Time``, ``Page URL``, ``User Agent``, ``Remote IP``) and
``form_id``/``form_name``. "Advanced data" mode nests everything, PHP style:
``form[id]``, ``form[name]``, ``fields[<id>][id|type|title|value|raw_value]``, ``meta[<key>][title|value]``;
fields are then known by their id (``name``, ``email``, ``message`` in Elementor's default form), shown by
their title, and a field typed ``tel`` or ``email`` is the phone or e-mail whatever it is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat, as_text


class Elementor(SenderFormat):
    name = "elementor"
    label = "Elementor Pro forms (webhook action, simple or advanced data)"
    fields: ClassVar[dict[str, Paths]] = {
        "form_id": ("form_id",),
        "form_name": ("form_name",),
        "name": ("Name", "Имя", "ФИО"),
        "phone": ("Phone", "Телефон", "tel"),
        "email": ("Email", "E-mail", "Почта"),
        "comment": ("Message", "Сообщение", "Комментарий"),
        "page_url": ("Page URL", "page_url"),
        "sender_ip": ("Remote IP", "remote_ip"),
        "user_agent": ("User Agent", "user_agent"),
    }
    noise: ClassVar[Paths] = ("Powered by", "credit", "Date", "Time")

    def unwrap(self, data: Data) -> Data:
        fields, meta, form = data.get("fields"), data.get("meta"), data.get("form")
        if not isinstance(fields, dict):
            return data  # simple mode: already label -> value
        flat: Data = {key: field.get("value") for key, field in fields.items() if isinstance(field, dict)}
        for key, item in (meta.items() if isinstance(meta, dict) else ()):
            if isinstance(item, dict):
                flat[as_text(item.get("title")) or key] = item.get("value")
        if isinstance(form, dict):
            flat["form_id"], flat["form_name"] = form.get("id"), form.get("name")
        return flat

    def complete(self, values: dict[str, str], data: Data, raw: Data) -> Iterable[str]:
        date, time = as_text(data.get("Date")), as_text(data.get("Time"))
        if date:
            values.setdefault("submitted_at", f"{date} {time}" if time else date)
        used = []
        for key, field in _advanced_fields(raw).items():  # the field type says what it is
            target = {"tel": "phone", "email": "email"}.get(str(field.get("type")))
            text = as_text(field.get("value"))
            if target and text and target not in values:
                values[target] = text
                used.append(key)
        return used

    def answers(self, data: Data, raw: Data, skip: set[str], noise: Paths) -> Iterator[tuple[str, str]]:
        titles = {key: as_text(field.get("title")) for key, field in _advanced_fields(raw).items()}
        for question, answer in super().answers(data, raw, skip, noise):
            yield titles.get(question) or question, answer


def _advanced_fields(raw: Data) -> dict[str, dict[str, Any]]:
    fields = raw.get("fields")
    return {k: v for k, v in fields.items() if isinstance(v, dict)} if isinstance(fields, dict) else {}
