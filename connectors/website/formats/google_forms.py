"""Google Forms, through the Apps Script trigger in docs/website.md (JSON).

The script posts ``{"formId", "formTitle", "responseId", "timestamp", "respondentEmail",
"answers": {<question title>: <answer or list of answers>}}``. A spreadsheet-bound trigger may send
``namedValues`` instead (``{<question title>: [<answer>]}``, Google's own shape); both are accepted.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.website.formats.base import Data, Paths, SenderFormat


class GoogleForms(SenderFormat):
    name = "google_forms"
    label = "Google Forms (Apps Script on-submit trigger, JSON)"
    fields: ClassVar[dict[str, Paths]] = {
        "submission_id": ("responseId",),
        "form_id": ("formId",),
        "form_name": ("formTitle",),
        "submitted_at": ("timestamp", "Отметка времени", "Timestamp"),
        "name": ("Name", "Имя", "ФИО", "Ваше имя"),
        "phone": ("Phone", "Телефон", "Номер телефона"),
        "email": ("respondentEmail", "Email", "Адрес электронной почты", "Электронная почта"),
        "comment": ("Comment", "Message", "Комментарий", "Сообщение", "Вопрос"),
    }

    def unwrap(self, data: Data) -> Data:
        flat: Data = {key: value for key, value in data.items() if key not in ("answers", "namedValues")}
        for container in ("answers", "namedValues"):
            answers = data.get(container)
            for question, answer in answers.items() if isinstance(answers, dict) else ():
                single = isinstance(answer, list) and len(answer) == 1
                flat.setdefault(question, answer[0] if single else answer)
        return flat
