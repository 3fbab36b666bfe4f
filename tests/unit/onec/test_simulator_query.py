"""The simulator's ``$filter`` is 1C's: v3 functions, 1C extensions, and 1C's silent or loud refusals."""

from __future__ import annotations

import pytest

from sandbox.onec.config import TYPES_BY_SET
from sandbox.onec.query import FilterCompiler, ODataError, guid_order

SALE = TYPES_BY_SET["Document_РеализацияТоваровУслуг"]
CASH = TYPES_BY_SET["Document_ПриходныйКассовыйОрдер"]
PARTNER = {"Ref_Key": "11111111-1111-1111-1111-111111111111", "ИНН": "7701234560", "Description": "Ромашка ООО"}
DOC = {"Number": "0000-000001", "Date": "2025-03-03T10:00:00", "Posted": True, "Контрагент_Key": PARTNER["Ref_Key"],
       "Комментарий": "Сделка CRM №7", "Товары": [{"LineNumber": 1, "Цена": 15000}, {"LineNumber": 2, "Цена": 10}]}


def matches(text: str, obj: dict, entity: object = SALE) -> bool:
    predicate = FilterCompiler(entity, None, lambda s, r: PARTNER if r == PARTNER["Ref_Key"] else None).compile(text)
    return predicate is not None and predicate(obj)


@pytest.mark.parametrize("text", [
    "Posted eq true and Number eq '0000-000001'",
    "Date ge datetime'2025-03-01T00:00:00' and Date lt datetime'2025-04-01'",
    "substringof('crm', Комментарий) eq true",
    "like(Комментарий, 'Сделка%')",
    "Контрагент/ИНН eq '7701234560'",
    "Товары/any(d: d/Цена gt 10000)",
    "not (Товары/all(d: d/Цена gt 10000))",
    "year(Date) eq 2025 and month(Date) eq 3",
    "Number eq '0000-000001   '",
])
def test_supported_filters_match(text: str) -> None:
    assert matches(text, DOC)


def test_an_unknown_property_matches_nothing_instead_of_failing() -> None:
    assert FilterCompiler(SALE, None, lambda s, r: None).compile("Номер eq '1'") is None


def test_a_composite_attribute_compared_with_a_bare_guid_matches_nothing_but_cast_works() -> None:
    cash = {"Контрагент": PARTNER["Ref_Key"], "Контрагент_Type": "StandardODATA.Catalog_Контрагенты"}
    assert not matches(f"Контрагент eq guid'{PARTNER['Ref_Key']}'", cash, CASH)
    assert matches(f"Контрагент eq cast(guid'{PARTNER['Ref_Key']}', 'Catalog_Контрагенты')", cash, CASH)


@pytest.mark.parametrize(("text", "code"), [
    ("tolower(Number) eq 'x'", "21"), ("contains(Number, 'x')", "21"), ("Number eq", "14"), ("Number eq 'x", "14"),
])
def test_what_1c_does_not_support_is_refused_with_its_code(text: str, code: str) -> None:
    with pytest.raises(ODataError) as caught:
        FilterCompiler(SALE, None, lambda s, r: None).compile(text)
    assert caught.value.code == code


def test_references_order_by_1cs_byte_layout_not_by_text() -> None:
    a, b = "8b9660f6-6332-11ec-ad72-000c29b45b09", "0b9660f6-6332-11ec-bd72-000c29b45b09"
    assert (a > b) != (guid_order(a) > guid_order(b))
