"""Seeded, realistic 1C data (valid ИНН check digits, BP-style codes and numbers) and the "accountant"
helpers that type documents into the simulated 1C, the way a person would in the 1C client.

Everything is deterministic for a seed. Writes go straight to the store (not over HTTP): they are what
happens inside 1C, not what a client does.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.inn import make_inn, make_kpp
from sandbox.onec.business import Business
from sandbox.onec.config import UNDEFINED_TYPE, ZERO_GUID
from sandbox.onec.odata import apply_properties, empty_object
from sandbox.onec.store import ObjectStore

Obj = dict[str, Any]
ORGANIZATION_INN = "7714123451"  # valid check digit; mappings name the organization by it (settings.organization_inn)
WAREHOUSE = "Основной склад"
CURRENCY_CODE = "643"
UNIT_CODE = "796"
SALE = "Document_РеализацияТоваровУслуг"

ROOTS = ("Ромашка", "Вектор", "Гранит", "Север", "Балтика", "Волга", "Меридиан", "Кристалл", "Энергия", "Стимул",
         "Альфа", "Лидер", "Монолит", "Заря", "Сфера", "Капитал", "Орбита", "Пульсар", "Радуга", "Феникс")
TAILS = ("", "-Трейд", " Логистик", "-Строй", " Сервис", "-Инвест", " Снаб", " Групп")
SURNAMES = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Лебедев", "Козлов", "Новиков")
NAMES = ("Иван Иванович", "Пётр Сергеевич", "Анна Викторовна", "Олег Петрович", "Мария Андреевна")
GOODS = (("BLT-M8-100", "Болт М8х100, оцинк."), ("NUT-M8", "Гайка М8"), ("PIPE-32", "Труба ПНД 32 мм, м"),
         ("GLV-NTR-9", "Перчатки нитриловые, р. 9"), ("TAPE-48", "Скотч упаковочный 48 мм"),
         ("BOX-60-40", "Коробка картонная 60x40x40"), ("PAP-A4-500", "Бумага офисная А4, 500 л."))


@dataclass(frozen=True)
class Reference:
    """The refs of the reference data every document needs (None: the configuration has no such object)."""

    organization: str | None
    currency: str | None
    unit: str
    warehouse: str | None
    phone_kind: str | None
    email_kind: str | None


def _ref(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=1))


def make(store: ObjectStore, set_name: str, rng: random.Random, business: Business | None = None,
         **values: Any) -> Obj:
    """A new object as 1C would store it (code/number assigned, handlers run), not yet saved."""
    t = store.config.by_set[set_name]
    obj = empty_object(t)
    ref = values.pop("Ref_Key", None)
    if ref is None:  # deterministic for a seed, but never an object that exists already
        ref = _ref(rng)
        while store.get(set_name, ref) is not None:
            ref = _ref(rng)
    obj["Ref_Key"] = ref
    posted = values.pop("Posted", False)
    predefined = values.pop("PredefinedDataName", "")
    apply_properties(t, obj, values)
    if predefined:
        obj["Predefined"], obj["PredefinedDataName"] = True, predefined
    if t.kind == "Document" and not obj["Number"]:
        obj["Number"] = store.next_code(t)
    if t.kind == "Catalog" and not obj["Code"]:
        obj["Code"] = store.next_code(t)
    (business or Business(store)).before_write(t, obj, new=True)
    if t.kind == "Document":
        obj["Posted"] = posted
    return obj


def seed_reference(store: ObjectStore, seed: int = 7) -> Reference:
    """Organization, currency, unit, warehouse and contact-information kinds (idempotent); only those the
    configuration has."""
    existing = next(store.find("Catalog_КлассификаторЕдиницИзмерения", Code=UNIT_CODE), None)
    if existing is not None:
        return reference(store)
    rng = random.Random(seed)

    def put(set_name: str, **values: Any) -> None:
        if set_name in store.config.by_set:
            store.put(set_name, make(store, set_name, rng, **values))

    put("Catalog_Организации", Description="Торговый дом Север",
        НаименованиеПолное="Общество с ограниченной ответственностью «Торговый дом Север»",
        ИНН=ORGANIZATION_INN, КПП="771401001", ЮридическоеФизическоеЛицо="ЮридическоеЛицо", Префикс="ТД")
    put("Catalog_Валюты", Code=CURRENCY_CODE, Description="руб.", НаименованиеПолное="Российский рубль")
    for code, name, full in ((UNIT_CODE, "шт", "Штука"), ("006", "м", "Метр"), ("166", "кг", "Килограмм")):
        put("Catalog_КлассификаторЕдиницИзмерения", Code=code, Description=name, НаименованиеПолное=full)
    put("Catalog_Склады", Description=WAREHOUSE, ТипСклада="ОптовыйСклад")
    for predefined, title, kind in (("ТелефонКонтрагента", "Телефон", "Телефон"),
                                    ("EmailКонтрагента", "Email", "АдресЭлектроннойПочты"),
                                    ("ЮрАдресКонтрагента", "Юридический адрес", "Адрес")):
        put("Catalog_ВидыКонтактнойИнформации", Description=title, Тип=kind, PredefinedDataName=predefined)
    return reference(store)


def reference(store: ObjectStore) -> Reference:
    def one(set_name: str, **equal: Any) -> str | None:
        if set_name not in store.config.by_set:
            return None
        return str(next(store.find(set_name, **equal))["Ref_Key"])

    return Reference(
        organization=one("Catalog_Организации", ИНН=ORGANIZATION_INN),
        currency=one("Catalog_Валюты", Code=CURRENCY_CODE),
        unit=str(one("Catalog_КлассификаторЕдиницИзмерения", Code=UNIT_CODE)),
        warehouse=one("Catalog_Склады", Description=WAREHOUSE),
        phone_kind=one("Catalog_ВидыКонтактнойИнформации", PredefinedDataName="ТелефонКонтрагента"),
        email_kind=one("Catalog_ВидыКонтактнойИнформации", PredefinedDataName="EmailКонтрагента"),
    )


def counterparty_values(rng: random.Random, ref: Reference, individual: bool = False) -> Obj:
    inn = make_inn(rng, individual=individual)
    phone = f"+7 ({rng.choice(('495', '812', '916', '343'))}) {rng.randint(100, 999)}-{rng.randint(10, 99)}-" \
            f"{rng.randint(10, 99)}"
    if individual:
        person = f"{rng.choice(SURNAMES)} {rng.choice(NAMES)}"
        name, full, kpp, kind = f"ИП {person}", f"Индивидуальный предприниматель {person}", "", "ФизическоеЛицо"
    else:
        title = rng.choice(ROOTS) + rng.choice(TAILS)
        name, full, kpp, kind = f"{title} ООО", f"Общество с ограниченной ответственностью «{title}»", \
            make_kpp(inn, rng), "ЮридическоеЛицо"
    return {"Description": name, "НаименованиеПолное": full, "ИНН": inn, "КПП": kpp,
            "ЮридическоеФизическоеЛицо": kind,
            "КонтактнаяИнформация": [{"LineNumber": "1", "Тип": "Телефон", "Вид_Key": ref.phone_kind,
                                      "Представление": phone, "НомерТелефона": phone}]}


def seed_counterparties(store: ObjectStore, count: int, seed: int = 11, contracts: bool = True) -> list[Obj]:
    """``count`` counterparties (one in ten a sole trader), each with a main contract; bulk loaded."""
    ref = seed_reference(store)
    rng = random.Random(seed)
    counterparties, agreements = [], []
    business = Business(store)
    for number in range(count):
        values = counterparty_values(rng, ref, individual=number % 10 == 9)
        counterparty = make(store, "Catalog_Контрагенты", rng, business, **values)
        counterparties.append(counterparty)
        if contracts:
            agreements.append(make(store, "Catalog_ДоговорыКонтрагентов", rng, business, Description="Основной договор",
                                   Owner_Key=counterparty["Ref_Key"], ВидДоговора="СПокупателем",
                                   Организация_Key=ref.organization, ВалютаВзаиморасчетов_Key=ref.currency))
    store.put_many("Catalog_Контрагенты", counterparties)
    store.put_many("Catalog_ДоговорыКонтрагентов", agreements)
    return counterparties


def seed_nomenclature(store: ObjectStore, goods: tuple[tuple[str, str], ...] = GOODS, seed: int = 13) -> list[Obj]:
    ref = seed_reference(store)
    rng = random.Random(seed)
    items = [make(store, "Catalog_Номенклатура", rng, Description=name, НаименованиеПолное=name, Артикул=sku,
                  ЕдиницаИзмерения_Key=ref.unit, СтавкаНДС="НДС20")
             for sku, name in goods if next(store.find("Catalog_Номенклатура", Артикул=sku), None) is None]
    store.put_many("Catalog_Номенклатура", items)
    return items


def seed_demo(store: ObjectStore, seed: int = 7) -> None:
    """What a small company's 1C holds before the hub is switched on."""
    if not store.empty:
        return
    seed_reference(store, seed)
    counterparties = seed_counterparties(store, 25, seed)
    seed_nomenclature(store)
    accountant = Accountant(store, seed)
    for number, counterparty in enumerate(counterparties[:6]):
        accountant.bank_receipt(counterparty["Ref_Key"], 12_000 + 1_500 * number,
                                f"Оплата по договору поставки № {100 + number}, в т.ч. НДС 20%",
                                dt.datetime(2025, 2, 3 + number, 11, 20))
    accountant.cash_receipt(counterparties[6]["Ref_Key"], 4_800, "Оплата наличными", dt.datetime(2025, 2, 10, 15, 5))


class Accountant:
    """Documents typed into 1C by a person: the source side of exchange 4."""

    def __init__(self, store: ObjectStore, seed: int = 17):
        self.store = store
        self.rng = random.Random(seed)
        self.ref = seed_reference(store)

    def counterparty(self, **values: Any) -> Obj:
        values.setdefault("ЮридическоеФизическоеЛицо", "ФизическоеЛицо" if len(values.get("ИНН", "")) == 12
                          else "ЮридическоеЛицо")
        obj = make(self.store, "Catalog_Контрагенты", self.rng, **values)
        return self.store.put("Catalog_Контрагенты", obj)

    def bank_receipt(self, counterparty: str, amount: float, purpose: str, when: dt.datetime,
                     posted: bool = True, based_on: str | None = None, settles: str | None = None,
                     deal: str | None = None) -> Obj:
        """A bank receipt as typed from a statement. The links an accountant may set are the references of
        documents: ``based_on`` (ДокументОснование), ``settles`` (the settlement row's
        ДокументРасчетовСКонтрагентом) and ``deal`` (the row's Сделка); most receipts carry only the text."""
        contract = next(self.store.find("Catalog_ДоговорыКонтрагентов", Owner_Key=counterparty), None)
        contract_ref = contract["Ref_Key"] if contract else ZERO_GUID
        row = _settlement_row(contract_ref, amount)
        row.update(self._link("ДокументРасчетовСКонтрагентом", settles) | self._link("Сделка", deal))
        if settles:
            row["СпособПогашенияЗадолженности"] = "ПоДокументу"
        obj = make(self.store, "Document_ПоступлениеНаРасчетныйСчет", self.rng, Posted=posted,
                   Date=when.isoformat(), ВидОперации="ОплатаПокупателя", Организация_Key=self.ref.organization,
                   Контрагент_Key=counterparty, ДоговорКонтрагента_Key=contract_ref,
                   ВалютаДокумента_Key=self.ref.currency, СуммаДокумента=amount, НазначениеПлатежа=purpose,
                   НомерВходящегоДокумента=str(self.rng.randint(100, 9999)),
                   ДатаВходящегоДокумента=when.date().isoformat(), **self._link("ДокументОснование", based_on),
                   РасшифровкаПлатежа=[row])
        return self.store.put("Document_ПоступлениеНаРасчетныйСчет", obj)

    def receipt_based_on(self, sale: str, when: dt.datetime, amount: float | None = None) -> Obj:
        """A bank receipt entered "based on" a sales document (Создать на основании), filled as 1C fills it:
        the sale's counterparty and amount, the sale as ДокументОснование and as the document the payment
        settles, and a purpose that names the sale, not an invoice."""
        document = self.store.get(SALE, sale)
        if document is None:
            raise KeyError(f"{SALE} {sale} not found")
        date = dt.datetime.fromisoformat(document["Date"])
        return self.bank_receipt(document["Контрагент_Key"],
                                 document["СуммаДокумента"] if amount is None else amount,
                                 f"Оплата по документу № {document['Number']} от {date:%d.%m.%Y}", when,
                                 based_on=sale, settles=sale)

    def _link(self, attribute: str, ref: str | None) -> Obj:
        """A composite attribute pointing at the document ``ref`` (whatever its kind), or nothing."""
        if ref is None:
            return {}
        kind = next((t.set_name for t in self.store.config.types
                     if t.kind == "Document" and self.store.get(t.set_name, ref)), None)
        if kind is None:
            raise KeyError(f"no document {ref}")
        return {attribute: ref, f"{attribute}_Type": f"StandardODATA.{kind}"}

    def cash_receipt(self, counterparty: str, amount: float, reason: str, when: dt.datetime,
                     posted: bool = True, based_on: str | None = None, settles: str | None = None) -> Obj:
        """A cash receipt (приходный кассовый ордер); ``based_on``/``settles`` as for :meth:`bank_receipt`."""
        payer = self.store.get("Catalog_Контрагенты", counterparty) or {}
        row = _settlement_row(ZERO_GUID, amount) | self._link("ДокументРасчетовСКонтрагентом", settles)
        obj = make(self.store, "Document_ПриходныйКассовыйОрдер", self.rng, Posted=posted, Date=when.isoformat(),
                   ВидОперации="ОплатаПокупателя", Организация_Key=self.ref.organization, Контрагент=counterparty,
                   Контрагент_Type="StandardODATA.Catalog_Контрагенты", ВалютаДокумента_Key=self.ref.currency,
                   СуммаДокумента=amount, ПринятоОт=payer.get("НаименованиеПолное", ""), Основание=reason,
                   **self._link("ДокументОснование", based_on), РасшифровкаПлатежа=[row])
        return self.store.put("Document_ПриходныйКассовыйОрдер", obj)

    def edit(self, set_name: str, ref: str, **values: Any) -> Obj:
        """Change an object as a user would (its DataVersion changes)."""
        with self.store.lock:
            obj = dict(self.store.get(set_name, ref) or {})
            if not obj:
                raise KeyError(f"{set_name} {ref} not found")
            t = self.store.config.by_set[set_name]
            apply_properties(t, obj, values)
            Business(self.store).before_write(t, obj, new=False)
            return self.store.put(set_name, obj)


def _settlement_row(contract: str, amount: float) -> Obj:
    vat = round(amount * 20 / 120, 2)
    return {"LineNumber": "1", "ДоговорКонтрагента_Key": contract, "СпособПогашенияЗадолженности": "Автоматически",
            "СуммаПлатежа": amount, "СуммаВзаиморасчетов": amount, "КурсВзаиморасчетов": 1,
            "КратностьВзаиморасчетов": "1", "СтавкаНДС": "НДС20", "СуммаНДС": vat,
            "Сделка": "", "Сделка_Type": UNDEFINED_TYPE,
            "ДокументРасчетовСКонтрагентом": "", "ДокументРасчетовСКонтрагентом_Type": UNDEFINED_TYPE}
