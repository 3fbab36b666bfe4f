"""The simulated 1C configuration: which catalogs and documents exist and what attributes they have.

Shaped after 1C:Бухгалтерия предприятия 3.0 (see /work/shared/reference/onec.md §4), trimmed to what a
CRM exchange touches. Every OData detail follows from this description: entity-set names, ``$metadata``,
the standard fields, how each attribute is serialized (``_Key`` for references, a value/``_Type`` pair for
composite attributes, Int64 as JSON strings) and which attributes a write may set.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

Edm = Literal["Edm.String", "Edm.Guid", "Edm.Int64", "Edm.Double", "Edm.Boolean", "Edm.DateTime"]
AttrKind = Literal["string", "int", "number", "bool", "date", "ref", "enum", "composite"]
ObjectKind = Literal["Catalog", "Document"]

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"
UNDEFINED_TYPE = "StandardODATA.Undefined"


@dataclass(frozen=True)
class Attr:
    """One attribute (реквизит) as the configuration declares it."""

    name: str
    kind: AttrKind
    length: int = 0  # strings: 0 = unlimited
    target: str | None = None  # ref: the entity set it points to

    @property
    def properties(self) -> list[tuple[str, Edm]]:
        """The OData properties this attribute becomes."""
        if self.kind == "ref":
            return [(f"{self.name}_Key", "Edm.Guid")]
        if self.kind == "composite":
            return [(self.name, "Edm.String"), (f"{self.name}_Type", "Edm.String")]
        edm: dict[str, Edm] = {"string": "Edm.String", "enum": "Edm.String", "int": "Edm.Int64",
                               "number": "Edm.Double", "bool": "Edm.Boolean", "date": "Edm.DateTime"}
        return [(self.name, edm[self.kind])]

    def empty(self) -> object:
        return {"string": "", "enum": "", "int": 0, "number": 0, "bool": False, "date": EMPTY_DATE,
                "ref": ZERO_GUID, "composite": ""}[self.kind]


def S(name: str, length: int = 0) -> Attr:
    return Attr(name, "string", length)


def R(name: str, target: str) -> Attr:
    return Attr(name, "ref", target=target)


def N(name: str) -> Attr:
    return Attr(name, "number")


def E(name: str) -> Attr:
    return Attr(name, "enum")


def D(name: str) -> Attr:
    return Attr(name, "date")


def B(name: str) -> Attr:
    return Attr(name, "bool")


@dataclass(frozen=True)
class ObjectType:
    kind: ObjectKind
    name: str  # metadata name: Контрагенты
    attrs: tuple[Attr, ...]
    tables: dict[str, tuple[Attr, ...]] = field(default_factory=dict)  # tabular sections
    hierarchical: bool = False
    owner: str | None = None  # subordinate catalog: the owner's entity set
    code_length: int = 9
    description_length: int = 100
    number_length: int = 11
    presentation: str = ""  # how 1C names one object in messages: "Реализация (акт, накладная)"

    @property
    def set_name(self) -> str:
        return f"{self.kind}_{self.name}"

    def standard(self) -> list[tuple[str, Edm, int | None]]:
        """Standard (system) properties with their Edm type and MaxLength."""
        props: list[tuple[str, Edm, int | None]] = [("Ref_Key", "Edm.Guid", None),
                                                     ("DataVersion", "Edm.String", 8),
                                                     ("DeletionMark", "Edm.Boolean", None)]
        if self.kind == "Document":
            props += [("Number", "Edm.String", self.number_length), ("Date", "Edm.DateTime", None),
                      ("Posted", "Edm.Boolean", None)]
            return props
        if self.owner:
            props.append(("Owner_Key", "Edm.Guid", None))
        if self.hierarchical:
            props += [("Parent_Key", "Edm.Guid", None), ("IsFolder", "Edm.Boolean", None)]
        props += [("Code", "Edm.String", self.code_length), ("Description", "Edm.String", self.description_length),
                  ("Predefined", "Edm.Boolean", None), ("PredefinedDataName", "Edm.String", None)]
        return props

    def standard_empty(self) -> dict[str, object]:
        empty: dict[str, object] = {}
        for name, edm, _ in self.standard():
            empty[name] = {"Edm.Guid": ZERO_GUID, "Edm.Boolean": False, "Edm.DateTime": EMPTY_DATE}.get(edm, "")
        return empty

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attrs if a.name == name), None)

    def navigation(self) -> dict[str, str]:
        """Navigation property -> target entity set (standard references included)."""
        nav = {a.name: a.target for a in self.attrs if a.kind == "ref" and a.target}
        if self.owner:
            nav["Owner"] = self.owner
        if self.hierarchical:
            nav["Parent"] = self.set_name
        return nav  # type: ignore[return-value]


CONTACT_ROW = (E("Тип"), R("Вид", "Catalog_ВидыКонтактнойИнформации"), S("Представление", 500),
               S("ЗначенияПолей"), S("Страна", 100), S("Регион", 50), S("Город", 50), S("АдресЭП", 100),
               S("НомерТелефона", 20), S("НомерТелефонаБезКодов", 20))

PAYMENT_ROW = (R("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"),
               R("СчетНаОплату", "Document_СчетНаОплатуПокупателю"), E("СпособПогашенияЗадолженности"),
               N("СуммаПлатежа"), N("СуммаВзаиморасчетов"), N("КурсВзаиморасчетов"),
               Attr("КратностьВзаиморасчетов", "int"),
               E("СтавкаНДС"), N("СуммаНДС"),
               Attr("Сделка", "composite"),  # the order / deal the payment is for
               Attr("ДокументРасчетовСКонтрагентом", "composite"))  # the document whose debt it settles

GOODS_ROW = (R("Номенклатура", "Catalog_Номенклатура"), R("ЕдиницаИзмерения", "Catalog_КлассификаторЕдиницИзмерения"),
             N("Коэффициент"), N("Количество"), N("Цена"), N("Сумма"), E("СтавкаНДС"), N("СуммаНДС"),
             Attr("Субконто", "composite"))

OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType("Catalog", "Организации", (S("НаименованиеПолное"), S("ИНН", 12), S("КПП", 9),
                                          E("ЮридическоеФизическоеЛицо"), S("Префикс", 2))),
    ObjectType("Catalog", "Валюты", (S("НаименованиеПолное", 50),), code_length=3, description_length=10),
    ObjectType("Catalog", "КлассификаторЕдиницИзмерения", (S("НаименованиеПолное", 100),), code_length=3,
               description_length=25),
    ObjectType("Catalog", "Склады", (E("ТипСклада"), S("Комментарий")), hierarchical=True),
    ObjectType("Catalog", "ВидыКонтактнойИнформации", (E("Тип"),), hierarchical=True, description_length=150),
    ObjectType("Catalog", "Контрагенты",
               (S("НаименованиеПолное"), E("ЮридическоеФизическоеЛицо"), S("ИНН", 12), S("КПП", 9),
                S("КодПоОКПО", 10), R("ГоловнойКонтрагент", "Catalog_Контрагенты"), B("ОбособленноеПодразделение"),
                S("Комментарий"), S("ДополнительнаяИнформация"), D("ДатаСоздания")),
               tables={"КонтактнаяИнформация": CONTACT_ROW}, hierarchical=True, presentation="Контрагент"),
    ObjectType("Catalog", "ДоговорыКонтрагентов",
               (E("ВидДоговора"), R("Организация", "Catalog_Организации"), R("ВалютаВзаиморасчетов", "Catalog_Валюты"),
                D("Дата"), S("Номер", 50), B("УстановленСрокОплаты"), Attr("СрокОплаты", "int"), S("Комментарий")),
               hierarchical=True, owner="Catalog_Контрагенты", presentation="Договор"),
    ObjectType("Catalog", "Номенклатура",
               (S("НаименованиеПолное"), S("Артикул", 25),
                R("ЕдиницаИзмерения", "Catalog_КлассификаторЕдиницИзмерения"),
                B("Услуга"), E("СтавкаНДС"), S("Комментарий")),
               hierarchical=True, code_length=11, presentation="Номенклатура"),
    ObjectType("Document", "СчетНаОплатуПокупателю",
               (R("Организация", "Catalog_Организации"), R("Контрагент", "Catalog_Контрагенты"),
                R("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"), R("ВалютаДокумента", "Catalog_Валюты"),
                B("СуммаВключаетНДС"), N("СуммаДокумента"), S("Комментарий")),
               tables={"Товары": GOODS_ROW}, presentation="Счет на оплату покупателю"),
    ObjectType("Document", "РеализацияТоваровУслуг",
               (E("ВидОперации"), R("Организация", "Catalog_Организации"), R("Склад", "Catalog_Склады"),
                R("Контрагент", "Catalog_Контрагенты"), R("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"),
                R("ВалютаДокумента", "Catalog_Валюты"), N("КурсВзаиморасчетов"), Attr("КратностьВзаиморасчетов", "int"),
                B("СуммаВключаетНДС"), R("СчетНаОплатуПокупателю", "Document_СчетНаОплатуПокупателю"),
                N("СуммаДокумента"), S("Комментарий")),
               tables={"Товары": GOODS_ROW}, presentation="Реализация (акт, накладная)"),
    ObjectType("Document", "ПоступлениеНаРасчетныйСчет",
               (E("ВидОперации"), R("Организация", "Catalog_Организации"), R("Контрагент", "Catalog_Контрагенты"),
                R("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"), R("ВалютаДокумента", "Catalog_Валюты"),
                N("СуммаДокумента"), S("НазначениеПлатежа"), S("НомерВходящегоДокумента", 30),
                D("ДатаВходящегоДокумента"), Attr("ДокументОснование", "composite"), S("Комментарий")),
               tables={"РасшифровкаПлатежа": PAYMENT_ROW}, presentation="Поступление на расчетный счет"),
    ObjectType("Document", "ПриходныйКассовыйОрдер",
               (E("ВидОперации"), R("Организация", "Catalog_Организации"), Attr("Контрагент", "composite"),
                R("ВалютаДокумента", "Catalog_Валюты"), N("СуммаДокумента"), S("ПринятоОт"), S("Основание"),
                Attr("ДокументОснование", "composite"), S("Комментарий")),
               tables={"РасшифровкаПлатежа": PAYMENT_ROW}, presentation="Приходный кассовый ордер"),
)

TYPES_BY_SET: dict[str, ObjectType] = {t.set_name: t for t in OBJECT_TYPES}

#: the configuration's enumerations (Перечисления) with their values, as ``$metadata`` lists them in
#: ``EnumType``s; an attribute of enumeration type is still an ``Edm.String`` property (reference §1.1)
ENUMS: dict[str, tuple[str, ...]] = {
    "СтавкиНДС": ("БезНДС", "НДС0", "НДС10", "НДС20", "НДС10_110", "НДС20_120"),
    "ЮридическоеФизическоеЛицо": ("ЮридическоеЛицо", "ФизическоеЛицо"),
    "ТипыСкладов": ("ОптовыйСклад", "РозничныйМагазин", "НеавтоматизированнаяТорговаяТочка"),
    "ТипыКонтактнойИнформации": ("Адрес", "Телефон", "АдресЭлектроннойПочты", "ВебСтраница", "Skype", "Факс",
                                 "Другое"),
    "ВидыДоговоровКонтрагентов": ("СПоставщиком", "СПокупателем", "СКомитентом", "СКомиссионером", "Прочее"),
    "ВидыОперацийРеализацияТоваров": ("Товары", "Услуги", "ТоварыУслуги", "ОказаниеПроизводственныхУслуг"),
    "ВидыОперацийПоступлениеДенежныхСредств": ("ОплатаПокупателя", "ВозвратОтПоставщика", "ПолучениеКредита",
                                               "ПрочееПоступление"),
    "ВидыОперацийПКО": ("ОплатаПокупателя", "ВозвратОтПодотчетника", "ПолучениеНаличныхВБанке",
                        "ПрочийПриход"),
    "СпособыПогашенияЗадолженности": ("Автоматически", "ПоДокументу", "НеПогашать"),
}


@dataclass(frozen=True)
class Configuration:
    """A configuration the simulator can play: its objects and enumerations."""

    name: str
    types: tuple[ObjectType, ...]
    enums: dict[str, tuple[str, ...]]

    @cached_property
    def by_set(self) -> dict[str, ObjectType]:
        return {t.set_name: t for t in self.types}

    def without(self, name: str, sets: frozenset[str]) -> Configuration:
        """This configuration without the objects ``sets`` and without every attribute (of a header or of a
        tabular row) that refers to them: what a smaller configuration or a trimmed base looks like."""
        def keep(attrs: tuple[Attr, ...]) -> tuple[Attr, ...]:
            return tuple(a for a in attrs if a.target not in sets)

        types = tuple(replace(t, attrs=keep(t.attrs), tables={tab: keep(rows) for tab, rows in t.tables.items()})
                      for t in self.types if t.set_name not in sets)
        return Configuration(name, types, self.enums)


#: 1C:Бухгалтерия предприятия 3.0 (the default)
BP30 = Configuration("bp30", OBJECT_TYPES, ENUMS)
#: a smaller base (like a trimmed or a small custom configuration): no organizations, currencies, warehouses
#: or contact-information kinds, and so no attribute that refers to them (Организация_Key, Склад_Key,
#: ВалютаДокумента_Key, КонтактнаяИнформация.Вид_Key, ...)
TRIMMED = BP30.without("trimmed", frozenset({"Catalog_Организации", "Catalog_Валюты", "Catalog_Склады",
                                             "Catalog_ВидыКонтактнойИнформации"}))
CONFIGURATIONS = {c.name: c for c in (BP30, TRIMMED)}

