"""The configuration's business logic: what runs when an object is written or a document is posted.

``before_write`` is the object module's ``ПередЗаписью`` (totals, creation date, a deletion mark unposting a
document); ``post`` is ``ОбработкаПроверкиЗаполнения`` + ``ОбработкаПроведения``, which fail with the
messages a user of 1C:Бухгалтерия sees. Tests can add failure rules (``fail_posting``) to play a closed
period or a handler that raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.onec.config import EMPTY_DATE, ZERO_GUID, ObjectType
from sandbox.onec.store import ObjectStore

Obj = dict[str, Any]
FailureRule = Callable[[str, Obj], str | None]  # (entity set, document) -> message, or None


class BusinessError(Exception):
    """A handler refused: 1C answers HTTP 500 with ``odata.error.code = "-1"`` and this text."""


@dataclass
class Business:
    store: ObjectStore
    posting_rules: list[FailureRule] = field(default_factory=list)
    now: Callable[[], dt.datetime] = dt.datetime.now
    #: what a live BP 3.0 publication was seen doing (issue 10): a deletion mark written over OData leaves a
    #: posted document posted, its movements still in the books. Off: the mark unposts it, as the 1C client does
    marking_keeps_posting: bool = False

    def fail_posting(self, rule: FailureRule) -> None:
        self.posting_rules.append(rule)

    # -- ПередЗаписью

    def before_write(self, t: ObjectType, obj: Obj, new: bool) -> None:
        if t.kind == "Document":
            if obj.get("Date") in (None, "", EMPTY_DATE):
                obj["Date"] = self.now().replace(microsecond=0).isoformat()
            if "Товары" in t.tables and "СуммаДокумента" in obj:
                obj["СуммаДокумента"] = round(sum(_number(r.get("Сумма")) for r in obj.get("Товары", [])), 2)
            if "КратностьВзаиморасчетов" in obj and not obj["КратностьВзаиморасчетов"]:
                obj["КратностьВзаиморасчетов"] = 1
            if "КурсВзаиморасчетов" in obj and not obj["КурсВзаиморасчетов"]:
                obj["КурсВзаиморасчетов"] = 1
            if obj.get("DeletionMark") and not self.marking_keeps_posting:
                obj["Posted"] = False  # marking a posted document for deletion cancels its posting
        elif new and "ДатаСоздания" in obj and obj["ДатаСоздания"] == EMPTY_DATE:
            obj["ДатаСоздания"] = self.now().replace(microsecond=0).isoformat()

    # -- ОбработкаПроверкиЗаполнения + ОбработкаПроведения

    def post(self, t: ObjectType, obj: Obj) -> None:
        problems = list(self._fill_check(t, obj))
        for rule in self.posting_rules:
            message = rule(t.set_name, obj)
            if message:
                problems.append(message)
        if problems:
            raise BusinessError(f"Не удалось провести \"{presentation(t, obj)}\"!\n" + "\n".join(problems))

    def _fill_check(self, t: ObjectType, obj: Obj) -> list[str]:
        if obj.get("DeletionMark"):
            return ["Документ помечен на удаление"]
        problems = []
        for attr in t.attrs:
            if attr.kind == "ref" and attr.name in REQUIRED.get(t.name, ()):
                ref = obj.get(f"{attr.name}_Key", ZERO_GUID)
                target = self.store.get(attr.target or "", ref) if ref != ZERO_GUID else None
                if target is None:
                    problems.append(f"Поле \"{LABELS.get(attr.name, attr.name)}\" не заполнено")
                elif target.get("DeletionMark"):
                    problems.append(f"{LABELS.get(attr.name, attr.name)} \"{target.get('Description')}\" "
                                    "помечен на удаление")
        contract = self.store.get("Catalog_ДоговорыКонтрагентов", obj.get("ДоговорКонтрагента_Key", ZERO_GUID))
        if contract is not None and contract.get("Owner_Key") != obj.get("Контрагент_Key"):
            problems.append("Выбранный договор не относится к контрагенту")
        if "Товары" in t.tables and t.name == "РеализацияТоваровУслуг":
            rows = obj.get("Товары") or []
            if not rows:
                problems.append("Не заполнена табличная часть \"Товары\"")
            for row in rows:
                line = row.get("LineNumber")
                if self.store.get("Catalog_Номенклатура", row.get("Номенклатура_Key", ZERO_GUID)) is None:
                    problems.append(f"Не заполнена колонка \"Номенклатура\" в строке {line} списка \"Товары\"")
                if _number(row.get("Количество")) <= 0:
                    problems.append(f"Не заполнена колонка \"Количество\" в строке {line} списка \"Товары\"")
        if "СуммаДокумента" in obj and t.name != "РеализацияТоваровУслуг" and _number(obj.get("СуммаДокумента")) <= 0:
            problems.append("Не заполнено поле \"Сумма\"")
        return problems


REQUIRED = {
    "РеализацияТоваровУслуг": ("Организация", "Склад", "Контрагент", "ДоговорКонтрагента", "ВалютаДокумента"),
    "ПоступлениеНаРасчетныйСчет": ("Организация", "Контрагент"),
    "ПриходныйКассовыйОрдер": ("Организация",),
    "СчетНаОплатуПокупателю": ("Организация", "Контрагент"),
}
LABELS = {"ДоговорКонтрагента": "Договор", "ВалютаДокумента": "Валюта"}


def presentation(t: ObjectType, obj: Obj) -> str:
    if t.kind == "Document":
        try:
            when = dt.datetime.fromisoformat(obj.get("Date", ""))
            date_text = f"{when:%d.%m.%Y} {when.hour}:{when:%M:%S}"
        except ValueError:
            date_text = obj.get("Date", "")
        return f"{t.presentation or t.name} {obj.get('Number', '')} от {date_text}"
    return str(obj.get("Description", ""))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
