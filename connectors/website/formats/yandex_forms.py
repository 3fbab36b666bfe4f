"""Yandex Forms, "HTTP request" integration: a JSON-RPC POST or a JSON body the form owner writes.

JSON-RPC: ``{"jsonrpc": "2.0", "method": "<method>", "params": {<name>: <value>}, "id": "<id>"}`` where the
owner names the params and fills them with answer variables. A body may also carry the "all answers"
variable: ``{"answer": {"id": ..., "data": {<slug>: {"value": ..., "question": {"label": {"ru": ...}}}}}}``.
Both become plain fields: params by name, answers by question label (or slug when unlabelled).
"""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat, as_text


class YandexForms(SenderFormat):
    name = "yandex_forms"
    label = "Yandex Forms (HTTP request: JSON-RPC or JSON)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("answer_id", "jsonrpc_id"),
        "form_id": ("survey_id", "form_id"),
        "form_name": ("survey_name", "form_name"),
        "name": ("name", "Имя", "fio", "ФИО"),
        "phone": ("phone", "Телефон"),
        "email": ("email", "Email", "Почта"),
        "comment": ("comment", "message", "Комментарий", "Сообщение"),
        "page_url": ("page_url", "referer"),
    }
    envelope: ClassVar[Paths] = ("jsonrpc", "method")

    def unwrap(self, data: Data) -> Data:
        flat: Data = dict(data)
        params = data.get("params")
        if data.get("jsonrpc") and isinstance(params, dict):
            flat = {**params, "jsonrpc_id": data.get("id")}
        answer = flat.pop("answer", None)
        if isinstance(answer, dict):
            flat.setdefault("answer_id", answer.get("id"))
            answers = answer.get("data")
            for slug, item in answers.items() if isinstance(answers, dict) else ():
                flat.setdefault(_label(item) or slug, item.get("value") if isinstance(item, dict) else item)
        return flat


def _label(item: Any) -> str | None:
    question = item.get("question") if isinstance(item, dict) else None
    label = question.get("label") if isinstance(question, dict) else None
    if isinstance(label, dict):
        return as_text(label.get("ru")) or as_text(next(iter(label.values()), None))
    return as_text(label)
